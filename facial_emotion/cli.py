"""Shared entry-point behaviour for stages and tools: readable logs, one-line errors."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from .errors import PipelineError
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


def run_main(main: Callable[[], object]) -> None:
    """Run a stage's main(); a PipelineError, or the tracking server failing mid-stage, becomes
    `error: <message>` and exit status 1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter drowns DVC's log
    setup_logging()
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        failure = tracking_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
