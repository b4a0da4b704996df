"""MLflow conventions every stage shares: where runs go, what they are tagged with, failing fast.

Tracking URI: MLFLOW_TRACKING_URI when set, else an absolute SQLite file at the repo root with
artifacts in <root>/mlartifacts (MLflow 3's file store is gone). A server that does not answer
fails the stage within seconds with one line naming the URI, instead of MLflow's minutes of retries.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .abandoned_runs import fail_abandoned_runs, process_tags
from .errors import PipelineError, Stopped
from .paths import DVC_LOCK, MLARTIFACTS_DIR, MLFLOW_DB, REPORTS_DIR, repo_root

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "facial-emotion"
SYNTHETIC_WARNING = "SYNTHETIC DATA: these results come from generated faces, not FER2013"


class TrackingUnavailable(PipelineError, RuntimeError):
    """The MLflow tracking server named by the URI does not answer."""


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI, or the repo's own SQLite store."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    root = (root or repo_root()).resolve()
    return f"sqlite:///{root / MLFLOW_DB}"


def local_artifact_location(root: Path | None = None) -> str:
    return ((root or repo_root()).resolve() / MLARTIFACTS_DIR).as_uri()


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Raise TrackingUnavailable within `timeout` seconds when an HTTP tracking server is down."""
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - user-chosen URI
            response.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} does not answer ({reason}); start it (make mlflow-server) "
            "or unset MLFLOW_TRACKING_URI to use the local SQLite store"
        ) from None


_REQUEST_FAILED = re.compile(r"^API request to (?P<url>\S+) failed with (?P<rest>.*)", re.DOTALL)


def tracking_failure(exc: BaseException) -> TrackingUnavailable | None:
    """MLflow's error when the tracking server, or the database or store behind it, stops answering
    mid-stage, as one line naming the server; None for any other error (which stays a traceback)."""
    exceptions = sys.modules.get("mlflow.exceptions")  # not imported: not an MLflow error
    uri = tracking_uri()
    if exceptions is None or not isinstance(exc, exceptions.MlflowException) or not uri.startswith(("http://", "https://")):
        return None
    # The first failed request names the cause; ending the run then fails again (its __context__ chain).
    chain = []
    while exc is not None and len(chain) < 20:
        chain.append(exc)
        exc = exc.__context__
    matches = [m for m in (_REQUEST_FAILED.match(str(getattr(e, "message", e))) for e in chain
                           if isinstance(e, exceptions.MlflowException)) if m]
    if not matches:
        return None
    match = matches[-1]
    endpoint = match["url"].split("/api/", 1)[-1].removeprefix("2.0/mlflow/")
    status = re.search(r"too many (\d{3}) error responses", match["rest"])
    if status:
        return TrackingUnavailable(
            f"MLflow tracking server {uri} answered HTTP {status[1]} to {endpoint} during the stage (its database or "
            "artifact store is down? see the server's log); restore it and rerun: DVC resumes at this stage")
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", match["rest"])
    reason = errno[1].strip() if errno else ("timed out" if "timeout" in match["rest"].lower() else match["rest"][:120])
    return TrackingUnavailable(f"MLflow tracking server {uri} stopped answering during the stage "
                               f"({reason} on {endpoint}); restart it and rerun: DVC resumes at this stage")


def configure(experiment: str = DEFAULT_EXPERIMENT, root: Path | None = None) -> str:
    """Point MLflow at the project's store and experiment; return the experiment id."""
    # MLflow's HTTP client retries for minutes by default; a down server must fail fast.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no usage data leaves the machine unasked
    import mlflow

    uri = tracking_uri(root)
    check_server(uri)
    if uri.startswith("sqlite:") and _in_queue_workspace():
        log.warning("queued DVC experiment writing to the SQLite store %s: parallel queue workers can lock each "
                    "other out; for `dvc queue start -j N` run `make mlflow-server` and export "
                    "MLFLOW_TRACKING_URI=http://127.0.0.1:5000", uri)
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:"):
        # The registry shares the tracking database unless the user said otherwise.
        mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI", uri))
    existing = mlflow.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    else:
        location = local_artifact_location(root) if uri.startswith("sqlite:") else None
        try:
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        except mlflow.exceptions.MlflowException:
            # Another parallel stage created it first.
            experiment_id = mlflow.get_experiment_by_name(experiment).experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _in_queue_workspace() -> bool:
    """True inside a `dvc exp run --queue` executor: a temp copy whose DVC_ROOT is the parent repo."""
    root = os.environ.get("DVC_ROOT")
    return bool(root and os.environ.get("DVC_EXP_NAME") and Path.cwd().resolve() != Path(root).resolve())


def git_commit(root: Path | None = None) -> str:
    """HEAD's commit, with '-dirty' when tracked files other than the pipeline's own outputs changed
    (`dvc repro` rewrites dvc.lock and reports/ as it goes: those alone are not a dirty tree), or
    'unknown' outside git."""
    cwd = root or repo_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
             f":(exclude,top){DVC_LOCK.as_posix()}", f":(exclude,top){REPORTS_DIR.as_posix()}"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        )
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_tags(stage: str, data_source: str | None, data_sha256: str | None) -> dict[str, str]:
    """The tags every run carries, so any run can be traced to code, stage, experiment and data."""
    tags = {
        "git_commit": git_commit(),
        "dvc_stage": os.environ.get("DVC_STAGE", stage),  # DVC sets it for every stage command
        "data_source": data_source or "unknown",
        "data_sha256": data_sha256 or "unknown",
        "synthetic_data": str(data_source == "synthetic").lower(),
    }
    exp_name = os.environ.get("DVC_EXP_NAME")
    if exp_name:
        tags["dvc_exp_name"] = exp_name
    if data_source == "synthetic":
        tags["WARNING"] = SYNTHETIC_WARNING
    return tags


def run_name(stage: str) -> str:
    """`<stage>` or `<dvc experiment>/<stage>` so sweeps read well in the MLflow UI."""
    exp_name = os.environ.get("DVC_EXP_NAME")
    return f"{exp_name}/{stage}" if exp_name else stage


@dataclass(frozen=True)
class DataInput:
    """A data file a stage read, logged as the run's MLflow dataset input (`mlflow ui` lists it on
    the run): its path, its digest (the file's MD5, the one dvc.lock records for it, unless given),
    its rows, and what the stage used it for (`context`: training, validation, test, source)."""

    path: Path
    context: str
    rows: int
    given_digest: str | None = field(default=None, repr=False)

    @cached_property
    def digest(self) -> str:
        from .files import md5_file

        return self.given_digest or md5_file(self.path)

    def dataset(self):
        """The MLflow dataset: metadata only (name, digest, source), the data itself stays in its file."""
        import json

        import mlflow.data
        from mlflow.data.meta_dataset import MetaDataset

        source = mlflow.data.get_dataset_source_from_json(json.dumps({"uri": str(self.path)}), source_type="local")
        return MetaDataset(source, name=str(self.path), digest=self.digest)


def log_data_input(data: DataInput) -> None:
    """`mlflow.log_input` for one DataInput into the active run. Two runs that log the same dataset at
    the same moment (queued experiments sharing one server) race on the dataset's row and the loser's
    insert fails on its unique key; the row exists by then, so the second try finds and links it."""
    import time

    import mlflow
    from mlflow.exceptions import MlflowException

    for attempt in (1, 2):
        try:
            mlflow.log_input(data.dataset(), context=data.context, tags={"rows": str(data.rows)})
            return
        except MlflowException as exc:
            message = str(exc)
            lost_the_race = "datasets" in message and "unique" in message.lower()
            if attempt == 2 or not lost_the_race:
                raise
            time.sleep(0.5)


def model_id(model_uri: str | None) -> str | None:
    """The LoggedModel id in a `models:/<id>` URI (MLflow 3), so metrics can be linked to the model."""
    if model_uri and model_uri.startswith("models:/m-"):
        return model_uri.removeprefix("models:/")
    return None


@contextmanager
def stage_run(
    stage: str,
    params: dict[str, Any] | None = None,
    data_source: str | None = None,
    data_sha256: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    run_id: str | None = None,
    inputs: Sequence[DataInput] = (),
) -> Iterator[Any]:
    """One MLflow run for one stage run, tagged (with its host and process), with its params and
    its data `inputs` logged; runs that dead processes left RUNNING are marked FAILED first, and a
    stop (SIGTERM, Ctrl-C) ends this one as KILLED.

    `run_id`: continue that run (a resumed training) instead of starting another, so one model has
    one run; when it is not in this store any more, a new run is started and linked by a tag.
    """
    import mlflow

    from .params import flatten

    experiment_id = configure(experiment)
    fail_abandoned_runs(experiment_id)
    if data_source == "synthetic":
        log.warning(SYNTHETIC_WARNING)
    tags = {**run_tags(stage, data_source, data_sha256), **process_tags()}
    if run_id and client_for_run(run_id, stage) is None:
        tags["resumed_from_run"], run_id = run_id, None
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else name or run_name(stage), tags=tags) as run:
        try:
            if run_id:
                log.info("continuing MLflow run %s", run_id)
            if params:
                flat = {k: ("" if v is None else v) for k, v in flatten(params).items()}
                items = list(flat.items())
                for start in range(0, len(items), 100):  # MLflow caps a batch at 100 params
                    mlflow.log_params(dict(items[start : start + 100]))
            for data in inputs:
                log_data_input(data)
            yield run
        except (Stopped, KeyboardInterrupt) as exc:
            mlflow.end_run("KILLED")  # MLflow's own exit would call it FAILED
            if isinstance(exc, Stopped):
                exc.run_id = run.info.run_id
            raise


def client_for_run(run_id: str | None, name: str):
    """An MlflowClient when the run that trained `name` is in this store, else None: DVC's run
    cache can restore a model folder without the run that made it."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    client = MlflowClient()
    try:
        client.get_run(run_id)
    except MlflowException as exc:
        if tracking_failure(exc) is not None:
            raise  # the server or its database is down: the run may well be there, don't start another
        log.warning("%s: its training run %s is not in this MLflow store (restored from DVC's cache?)", name, run_id)
        return None
    return client
