"""Read an upload into memory, never onto disk, and never more of it than the size limit allows.

Accepts `multipart/form-data` (the page's and curl `-F file=@photo.jpg`'s way; the image is the
`file` part, or the first part with a filename) or the image as the raw request body. A declared
Content-Length over the limit is refused before any byte is read; bodies without one (chunked)
are counted as they arrive and refused as soon as they pass it.

A refused body is still read (and dropped) up to a bound: a client that sends its whole body
before reading the answer, as Python's urllib does, otherwise gets a reset connection instead of
the 413. Clients that ask first (`Expect: 100-continue`, curl's way for big files) send nothing.

uvicorn has no body timeout, so `RequestBody` keeps one: the whole body within `timeout_s`, and,
once `RATE_GRACE_S` have passed, on average at least `min_rate` bytes per second. A client that
falls behind is cut with 408 at the moment it does (one byte a second is cut after 5 s, not
after the deadline), which frees its connection for others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import AsyncIterator, Awaitable, Callable

import time

import anyio
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from .errors import SlowUpload, UnreadableUpload, UnsupportedMediaType, UploadRejected, UploadTooLarge

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields around the file
MAX_FIELD_BYTES = 1024          # text fields are options like whole_image=true
FILE_FIELDS = ("file", "image")
RATE_GRACE_S = 5.0              # the minimum rate is checked from this many seconds into the body


@dataclass
class Upload:
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class ClientGone(UploadRejected):
    """The client disconnected before sending its whole body."""


class RequestBody:
    """The ASGI receive channel as byte chunks, remembering whether the client finished sending, and
    cutting it (SlowUpload) past the body deadline or below the minimum rate."""

    def __init__(self, receive: Callable[[], Awaitable[dict]], timeout_s: float = float("inf"),
                 min_rate: float = 0.0) -> None:
        self._receive = receive
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.complete = False
        self.received = 0
        self._start = time.monotonic()

    def _cut_at(self) -> float:
        """The monotonic time at which the body is too late: its deadline, or the moment the bytes
        received so far fall below the minimum rate (never before the grace period)."""
        cut = self._start + self.timeout_s
        if self.min_rate > 0:
            cut = min(cut, self._start + max(RATE_GRACE_S, self.received / self.min_rate))
        return cut

    async def _next(self) -> dict:
        with anyio.move_on_after(max(0.0, self._cut_at() - time.monotonic())) as scope:
            return await self._receive()
        assert scope.cancelled_caught
        elapsed = time.monotonic() - self._start
        raise SlowUpload(f"upload too slow: {self.received} bytes in {elapsed:.1f} s; the body must arrive within "
                         f"{self.timeout_s:g} s (serve.body_timeout_s) at {self.min_rate / 1024:g} KB/s or more "
                         "(serve.min_upload_kbps)")

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.complete:
            message = await self._next()
            if message["type"] == "http.disconnect":
                self.complete = True
                raise ClientGone("the client disconnected during the upload")
            self.complete = not message.get("more_body", False)
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if chunk:
                yield chunk

    async def discard_rest(self, max_bytes: int, timeout_s: float = 10.0) -> None:
        """Read and drop what the client is still sending, up to `max_bytes` in all and `timeout_s`."""
        with anyio.move_on_after(timeout_s):
            try:
                async for _ in self.chunks():
                    if self.received > max_bytes:
                        return
            except (ClientGone, SlowUpload):
                return


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MB"


def too_large(size: int | None, limit: int) -> UploadTooLarge:
    got = f" ({_megabytes(size)})" if size is not None else ""
    return UploadTooLarge(f"upload too large{got}: the limit is {_megabytes(limit)} (serve.max_upload_mb)")


def check_declared_length(content_length: str | None, max_bytes: int) -> None:
    """Refuse a body whose declared length is over the limit before reading any of it."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise UploadRejected(f"bad Content-Length header {content_length!r}") from None
    if declared > max_bytes + MULTIPART_OVERHEAD:
        raise too_large(declared, max_bytes)


async def read_upload(stream: AsyncIterator[bytes], content_type: str | None, max_bytes: int) -> Upload:
    """The image bytes of one request body, multipart or raw."""
    kind, options = parse_options_header(content_type or "")
    if kind == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise UploadRejected("multipart/form-data without a boundary in Content-Type")
        upload = await _read_multipart(stream, boundary, max_bytes)
    elif kind == b"application/x-www-form-urlencoded":
        raise UnsupportedMediaType("a form without a file: send the image as multipart/form-data "
                                   "(curl -F file=@photo.jpg) or as the raw body (curl --data-binary @photo.jpg)")
    else:
        body = bytearray()
        async for chunk in stream:
            body.extend(chunk)
            if len(body) > max_bytes:
                raise too_large(None, max_bytes)
        upload = Upload(bytes(body), content_type=kind.decode("latin-1") or None)
    if not upload.data:
        raise UnreadableUpload("empty upload: the image has no bytes")
    return upload


async def _read_multipart(stream: AsyncIterator[bytes], boundary: bytes, max_bytes: int) -> Upload:
    form = _FormCollector(max_bytes)
    parser = MultipartParser(boundary, form.callbacks())
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > max_bytes + MULTIPART_OVERHEAD:
                raise too_large(None, max_bytes)
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise UploadRejected(f"malformed multipart/form-data body ({exc})") from None
    if form.file is None:
        raise UnreadableUpload("no image in the form: send it as the `file` field (curl -F file=@photo.jpg ...)")
    return Upload(bytes(form.file), form.filename, form.file_type, form.fields)


class _FormCollector:
    """python-multipart callbacks: keep the first file part and small text fields, in memory."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.file: bytearray | None = None
        self.filename: str | None = None
        self.file_type: str | None = None
        self.fields: dict[str, str] = {}
        self._headers: dict[bytes, bytes] = {}
        self._name = self._value = b""
        self._target: str = "skip"
        self._field_name = ""
        self._field = bytearray()

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self._headers, self._target, self._field = {}, "skip", bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.strip().lower()] = self._value.strip()
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        has_filename = b"filename" in options
        if has_filename or name in FILE_FIELDS:
            if self.file is None:  # the first file counts; more are ignored, not stored
                self._target = "file"
                self.file = bytearray()
                self.filename = options.get(b"filename", b"").decode("utf-8", "replace") or None
                self.file_type = self._headers.get(b"content-type", b"").decode("latin-1") or None
        elif name:
            self._target, self._field_name = "field", name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == "file":
            assert self.file is not None
            if len(self.file) + (end - start) > self.max_file_bytes:
                raise too_large(None, self.max_file_bytes)
            self.file.extend(data[start:end])
        elif self._target == "field":
            if len(self._field) + (end - start) > MAX_FIELD_BYTES:
                raise UploadRejected(f"form field {self._field_name!r} is over {MAX_FIELD_BYTES} bytes")
            self._field.extend(data[start:end])

    def _part_end(self) -> None:
        if self._target == "field":
            self.fields[self._field_name] = self._field.decode("utf-8", "replace")
        self._target = "skip"
