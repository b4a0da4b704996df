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
