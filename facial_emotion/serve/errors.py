"""Rejected uploads, each with the HTTP status it answers with and a one-line reason."""

from __future__ import annotations

from ..errors import PipelineError


class UploadRejected(PipelineError, ValueError):
    """An upload the service refuses; `status` is the HTTP status code of the answer."""

    status = 422


class UploadTooLarge(UploadRejected):
    status = 413


class UnsupportedMediaType(UploadRejected):
    status = 415


class UnreadableUpload(UploadRejected):
    """Empty, truncated or corrupted: the right kind of upload, but nothing usable in it."""

    status = 422


class SlowUpload(UploadRejected):
    """A body that did not arrive within the deadline, or arrived slower than the minimum rate."""

    status = 408


class ServiceBusy(UploadRejected):
    """Every decode slot and queue place is taken; `retry_after_s` is when one should be free."""

    status = 503

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
