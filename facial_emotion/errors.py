"""One base class for the errors a user can fix: stages print them as one line, not a traceback."""


class PipelineError(Exception):
    """Bad input, params or environment, with a message that names the file, row or field."""
