"""One base class for the errors a user can fix: stages print them as one line, not a traceback."""


class PipelineError(Exception):
    """Bad input, params or environment, with a message that names the file, row or field."""


class Stopped(BaseException):
    """SIGTERM arrived (`timeout`, `docker stop`, a cancelled CI job): the stage unwinds from
    wherever it was, its MLflow run is ended as KILLED, and it exits non-zero with one line.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.run_id: str | None = None  # the MLflow run it ended, when there was one


_stop_signals: list[int] = []


def note_stop(signum: int) -> None:
    """Remember a SIGTERM: the Stopped raised by the handler can land where Python ignores exceptions
    (a garbage-collection callback, a __del__), and the stage would then go on and write its outputs."""
    _stop_signals.append(signum)


def clear_stop() -> None:
    """Forget earlier stops: each run_main starts with none pending (tests run many in one process)."""
    _stop_signals.clear()


def raise_if_stopped() -> None:
    """Raise Stopped when a stop was asked for: called before an output file takes its place."""
    if _stop_signals:
        raise Stopped(_stop_signals[0])
