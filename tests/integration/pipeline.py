"""A throwaway copy of the working tree with tiny params, where the real `dvc repro` runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

# Small enough for CI's 2 cores, large enough that every class is in every split.
TINY_PARAMS = {
    "data.synthetic_rows": 420,
    "train.epochs": 1,
    "train.batch_size": 32,
    "baselines.logreg.max_iter": 30,
    "evaluate.ensemble_top_k": 2,
    "balance.smote.reduce_k": True,  # disgust has ~5 training rows here
    "demo.clip.frames": 20,
}


@dataclass
class PipelineCopy:
    root: Path
    env: dict[str, str]
    first_repro_output: str = ""

    def run(self, *args: str, check: bool = True, timeout: int = 1500) -> subprocess.CompletedProcess:
        """Run a command in the copy. Output goes to files, not pipes: DVC's queue leaves detached
        descendants behind, and one that kept a pipe open would make the wait for end-of-output hang
        after the command itself had exited."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            code = subprocess.run(list(args), cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=err, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            result = subprocess.CompletedProcess(list(args), code, out.read().decode(errors="replace"),
                                                 err.read().decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
        return result

    def dvc(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run(str(Path(sys.executable).parent / "dvc"), *args, **kwargs)

    def drain_queue(self, workers: int = 2, timeout: float = 1500, poll: float = 5) -> str:
        """`dvc queue start -j <workers>`, then wait until nothing is queued or running (or `timeout`
        seconds); returns the last `dvc queue status`."""
        self.dvc("queue", "start", "-j", str(workers))
        deadline = time.monotonic() + timeout
        while True:
            status = self.dvc("queue", "status", timeout=300).stdout
            if ("Queued" not in status and "Running" not in status) or time.monotonic() > deadline:
                return status
            time.sleep(poll)

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def set_params(self, values: dict[str, object]) -> None:
        set_params(self.root / "params.yaml", values)

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message)

    def changes(self) -> str:
        """What differs from the last commit: git's changed files and `dvc status` (empty when none)."""
        changed = self.run("git", "status", "--porcelain").stdout.strip()
        status = self.dvc("status").stdout.strip()
        return "\n".join(filter(None, [changed, "" if "up to date" in status else status]))

    def fork(self, destination: Path) -> PipelineCopy:
        """A full copy to change freely. DVC's temporary files stay behind. The MLflow store keeps its
        absolute artifact location, so a fork's new runs put their artifacts beside this copy's, each
        in its own run-id folder: nothing this copy holds changes."""
        shutil.copytree(self.root, destination, symlinks=True, ignore=_dvc_tmp)
        fork = PipelineCopy(destination, pipeline_env(destination))
        fork.first_repro_output = self.first_repro_output
        return fork


def set_params(path: Path, values: dict[str, object]) -> None:
    params = yaml.safe_load(path.read_text())
    for dotted, value in values.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _dvc_tmp(folder: str, names: list[str]) -> list[str]:
    return ["tmp"] if Path(folder).name == ".dvc" else []


def _git_files(*options: str) -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z", *options], cwd=REPO, capture_output=True, check=True).stdout
    return set(filter(None, out.decode().split("\0")))


def copy_worktree(destination: Path) -> None:
    """What a fresh clone of this work would hold: tracked files, plus new source files that are not
    committed yet (but not pipeline outputs lying in the work tree)."""
    outputs = ("reports/", "models/", "data/", "test-artifacts/")
    untracked = {name for name in _git_files("--others", "--exclude-standard") if not name.startswith(outputs)}
    for name in sorted(_git_files("--cached") | untracked):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def pipeline_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "pipeline test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.invalid"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def make_copy(destination: Path, params: dict[str, object] | None = None) -> PipelineCopy:
    destination.mkdir(parents=True, exist_ok=True)
    copy_worktree(destination)
    for leftover in ("dvc.lock", "mlflow.db"):
        (destination / leftover).unlink(missing_ok=True)
    set_params(destination / "params.yaml", {**TINY_PARAMS, **(params or {})})
    copy = PipelineCopy(destination, pipeline_env(destination))
    copy.run("git", "init", "-q")
    copy.run("git", "add", "-A")
    copy.run("git", "commit", "-qm", "pipeline test copy")
    return copy


def run_stage_module(root: Path, stage: str, tracking_uri: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m stages.<stage>` in `root`, logging to `tracking_uri` (for tests of one stage alone)."""
    env = {**pipeline_env(root), "MLFLOW_TRACKING_URI": tracking_uri}
    return subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
