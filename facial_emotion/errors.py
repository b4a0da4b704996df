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
