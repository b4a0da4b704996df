"""Shared entry-point behaviour for stages and tools: a real --help, readable logs, one-line errors,
and SIGTERM turned into an orderly stop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable

from .errors import PipelineError, Stopped
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
    raise Stopped(signum)


def run_main(main: Callable[[], object]) -> None:
    """Run a stage's main(): a PipelineError, or the tracking server failing mid-stage, becomes
    `error: <message>` and exit status 1; SIGTERM ends the stage's MLflow run as KILLED and exits
    128 + 15 with one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter drowns DVC's log
    setup_logging()
    signal.signal(signal.SIGTERM, _stop)
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Stopped as exc:
        run = f"; MLflow run {exc.run_id} ended as KILLED" if exc.run_id else ""
        print(f"error: stopped by {signal.Signals(exc.signum).name}{run}", file=sys.stderr)
        sys.exit(128 + exc.signum)
    except Exception as exc:
        failure = tracking_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
