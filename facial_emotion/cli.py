"""Shared entry-point behaviour for stages and tools: a real --help, readable logs, one-line errors,
SIGTERM turned into an orderly stop, and for DVC stages: outputs checked writable before any work
(preflight.py) and an end when the `dvc` that started them ends (lifeline.py)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable

from .errors import PipelineError, Stopped, clear_stop, note_stop, raise_if_stopped
from .lifeline import end_with_parent
from .preflight import check_writable, declared_outputs
from .tracking import tracking_failure


def setup_logging(level: str | None = None) -> None:
    """Plain timestamped lines: DVC logs stay readable, no progress-bar noise."""
    logging.basicConfig(
        level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    for noisy in ("matplotlib", "PIL", "urllib3", "alembic", "git", "h5py", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stage_parser(module: str, doc: str | None, params: Iterable[str]) -> argparse.ArgumentParser:
    """`python -m stages.<name> --help`: what the stage does and the params it reads; runs nothing."""
    summary, _, details = (doc or "").strip().partition("\n")
    epilog = (f"{details.strip()}\n\n" if details.strip() else "") + \
        f"Reads params.yaml: {', '.join(params)}. DVC runs it with `dvc repro`; run by hand from the repository root."
    return argparse.ArgumentParser(prog=f"python -m {module}", description=summary, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def _stop(signum: int, frame) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    note_stop(signum)
    raise Stopped(signum)


# A disk that cannot take the write: the user's to fix, and worth one line, not a traceback.
DISK_ERRORS = {errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM}


def disk_failure(exc: BaseException) -> str | None:
    """One line for a write the disk refused (read-only, full, not ours), else None."""
    if not isinstance(exc, OSError) or exc.errno not in DISK_ERRORS:
        return None
    return (f"{exc.filename or 'an output'}: {os.strerror(exc.errno).lower()}; each file is written whole or "
            "not at all, so those not yet written keep their last version")


def _main_module() -> str | None:
    """`stages.ingest` when run as `python -m stages.ingest`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None else None


def preflight_outputs(module: str | None, argv: list[str]) -> None:
    """Every output dvc.yaml declares for this stage must be writable before it starts (not for --help)."""
    from .paths import DVC_YAML, repo_root

    if module and module.startswith("stages.") and not {"-h", "--help"} & set(argv):
        root = repo_root()
        check_writable(declared_outputs(module, root / DVC_YAML), root)


def run_main(main: Callable[[], object]) -> None:
    """Run a stage's main(): a PipelineError, a disk that refuses a write, or the tracking server
    failing mid-stage, becomes `error: <message>` and exit status 1; SIGTERM (also sent when the
    `dvc` that started it dies) ends the stage's MLflow run as KILLED and exits 128 + 15 with one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter drowns DVC's log
    setup_logging()
    clear_stop()
    signal.signal(signal.SIGTERM, _stop)
    try:
        end_with_parent()
        preflight_outputs(_main_module(), sys.argv[1:])
        main()
        raise_if_stopped()  # a Stopped swallowed on the way still ends the stage as stopped
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Stopped as exc:
        run = f"; MLflow run {exc.run_id} ended as KILLED" if exc.run_id else ""
        print(f"error: stopped by {signal.Signals(exc.signum).name}{run}", file=sys.stderr)
        sys.exit(128 + exc.signum)
    except Exception as exc:
        failure = disk_failure(exc) or tracking_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
