"""Zip and tar archives read in place: list the members, peek at some, read the ones wanted.

Nothing is extracted into the work tree (data/raw/ stays as the user left it and DVC's hash of it
holds). A tar is read as a stream, so a .tar.gz costs one pass of inflating per look; the
compression is recognised by content, so a browser's already-gunzipped `.tar.gz` still opens.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .dataset import IngestError
from .sniff import GZIP_MAGIC, HEAD_BYTES

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = (".zip", *TAR_SUFFIXES)
UNREADABLE_ARCHIVES = (".7z", ".rar")


def archive_format(name: str) -> str | None:
    """'zip' or 'tar' by the file name; None for anything else."""
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    return "tar" if lower.endswith(TAR_SUFFIXES) else None


@dataclass(frozen=True)
class Member:
    name: str  # POSIX path inside the archive, no leading './' or trailing '/'
    kind: str  # file | dir | link

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self.name).parts


def _clean(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith(("./", "/")):
        name = name[2:] if name.startswith("./") else name[1:]
    return name.rstrip("/")


class Archive:
    """One zip or tar file on disk; every failure to read it is an IngestError naming it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.format = archive_format(self.path.name)
        if self.format is None:
            raise ValueError(f"{self.path}: not a zip or tar name")

    def scan(self, peek: Callable[[str], bool]) -> tuple[list[Member], dict[str, bytes]]:
        """Every member (folders a zip only implies included), and the first bytes of those `peek` selects."""
        with self._errors():
            if self.format == "zip":
                return self._scan_zip(peek)
            return self._scan_tar(peek)

    def read(self, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes | None]]:
        """(name, bytes) of each member `wanted` selects, in archive order, in one pass; a link's bytes are
        None (links are not followed inside archives); folders are left out."""
        with self._errors():
            if self.format == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    for info in zf.infolist():
                        name = _clean(info.filename)
                        if not info.is_dir() and wanted(name):
                            yield name, None if _zip_link(info) else zf.read(info)
                return
            with self._open_tar() as tar:
                for info in tar:
                    name = _clean(info.name)
                    if not info.isdir() and wanted(name):
                        yield name, tar.extractfile(info).read() if info.isfile() else None

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()

    def _scan_zip(self, peek):
        members: dict[str, Member] = {}
        heads: dict[str, bytes] = {}
        with zipfile.ZipFile(self.path) as zf:
            for info in zf.infolist():
                name = _clean(info.filename)
                if not name:
                    continue
                kind = "dir" if info.is_dir() else "link" if _zip_link(info) else "file"
                members[name] = Member(name, kind)
                if kind == "file" and peek(name):
                    with zf.open(info) as fh:
                        heads[name] = fh.read(HEAD_BYTES)
        return _with_implied_dirs(members), heads

    def _scan_tar(self, peek):
        members: dict[str, Member] = {}
        heads: dict[str, bytes] = {}
        with self._open_tar() as tar:
            for info in tar:
                name = _clean(info.name)
                if not name:
                    continue
                kind = "dir" if info.isdir() else "file" if info.isfile() else "link"
                members[name] = Member(name, kind)
                if kind == "file" and peek(name):
                    heads[name] = tar.extractfile(info).read(HEAD_BYTES)
        return _with_implied_dirs(members), heads

    def _open_tar(self) -> tarfile.TarFile:
        """A streaming tar reader; gzip is inflated by python-isal where it is installed (3-5x zlib)."""
        with open(self.path, "rb") as fh:
            gzipped = fh.read(2) == GZIP_MAGIC
        if gzipped:
            try:
                from isal import igzip
            except ImportError:
                pass
            else:
                return tarfile.open(fileobj=igzip.open(self.path, "rb"), mode="r|")
        return tarfile.open(self.path, mode="r|*")

    def _errors(self):
        return _ArchiveErrors(self.path, self.format)


class _ArchiveErrors:
    """Turns the dozen exception types of zipfile, tarfile and the decompressors into one line."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.format = path, fmt

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        import lzma

        try:
            from isal import isal_zlib
            isal_errors: tuple = (isal_zlib.error,)
        except ImportError:
            isal_errors = ()
        damaged = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, *isal_errors)
        if exc is None:
            return False
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise IngestError(f"{self.path}: {exc.strerror or exc}") from None
        if isinstance(exc, (NotImplementedError, RuntimeError)):  # zipfile: deflate64, encryption
            raise IngestError(f"{self.path}: can't be read as a {self.format} archive ({detail}): "
                              f"repack it as a plain .zip (deflate, no password) or .tar.gz") from None
        if isinstance(exc, damaged):
            raise IngestError(f"{self.path}: can't be read as a {self.format} archive ({detail}): "
                              f"it looks truncated or damaged; download it again") from None
        return False


def _zip_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _with_implied_dirs(members: dict[str, Member]) -> list[Member]:
    """Zips (and some tars) list files without their folders; add the folders."""
    for name in list(members):
        for parent in PurePosixPath(name).parents:
            key = str(parent)
            if key != "." and key not in members:
                members[key] = Member(key, "dir")
    return sorted(members.values(), key=lambda m: m.parts)
