"""Find FER2013 in data/raw/ in whatever layout it was downloaded in, and say what was passed over.

Looked at: data/raw/ itself and each folder directly inside it, on disk and inside every zip or
tar archive there (read in place). Understood there: a FER2013 CSV (`fer2013.csv[.gz]`,
`icml_face_data.csv`, Kaggle's `train.csv`), or the image folders `train/<emotion>/` and
`test/<emotion>/`. Everything else is named with the reason it was passed over.

The choice is fixed and logged: complete CSVs before Kaggle's Training-only train.csv before image
folders (a CSV wins over folders), then a plain file before one in a folder before one in an
archive. Synthetic data is chosen only when data/raw/ holds nothing a person put there (README.md,
.gitkeep, system and hidden files aside); anything else that is not a dataset is an error listing
what was found. A file that is meant as FER2013 but can't be read as it is (UTF-16 text, a `.gz`
that isn't gzip, a damaged archive) is an error even when another copy is there: no guessing.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..labels import USAGES
from .archives import UNREADABLE_ARCHIVES, Archive, Member, archive_format
from .csv_layouts import KNOWN_NAMES, CsvLayout, layout_of
from .ferplus import FERPLUS_NAMES
from .dataset import IngestError
from .folders import SPLIT_USAGE, split_name, system_or_hidden
from .sniff import (
    HEAD_BYTES,
    decoded_first_line,
    encoding_problem,
    gunzip_head,
    gzip_problem,
    plain_csv_problem,
    without_gz,
)

SOURCES = ("auto", "csv", "folders", "synthetic")
PROJECT_FILES = ("README.md", ".gitkeep")  # data/raw/'s own files, kept in git
UNDERSTOOD = ("fer2013.csv or fer2013.csv.gz, icml_face_data.csv, Kaggle's train.csv (Training rows only), "
              "or the image folders train/<emotion>/*.png|jpg and test/<emotion>/...; each directly in data/raw/, "
              "one folder down (e.g. fer2013/fer2013.csv), or inside a .zip, .tar.gz, .tgz or .tar "
              "(e.g. Kaggle's fer2013.tar.gz or archive.zip); an empty data/raw/ (README.md and .gitkeep only) "
              "gives synthetic data")
_COLLAPSE = 50  # more passed-over entries than this with one reason in one folder become one entry (35k loose images)


@dataclass(frozen=True)
class PassedOver:
    path: str
    reason: str
    ignorable: bool = False  # system/hidden files and data/raw's own: never stop the synthetic stand-in


@dataclass(frozen=True)
class Found:
    """A readable FER2013: a CSV file or member, or the folder (or archive folder) holding train/ and test/."""

    kind: str  # csv | folders
    path: Path  # the CSV file, the archive, or the folder holding train/ and test/
    member: str | None = None  # in an archive: the CSV member, or the folder holding train/ test/ ('' = its top)
    archive: str | None = None  # zip | tar
    layout: CsvLayout | None = None  # CSVs only
    nested: bool = False  # one folder level down (in data/raw/ or in the archive)
    splits: tuple[str, ...] = ()  # folders only: the split folders as spelt there

    @property
    def shown(self) -> str:
        if self.archive is None:
            return str(self.path)
        return f"{self.path}:{self.member}" if self.member else f"{self.path}:"

    @property
    def named(self) -> str:
        """How a passed-over entry names it: the CSV, or the split folders themselves."""
        if self.kind == "csv":
            return self.shown
        base = self.shown if self.archive is None else f"{self.path}:{self.member + '/' if self.member else ''}"
        sep = "/" if self.archive is None else ""
        return ", ".join(f"{base}{sep}{split}/" for split in self.splits)

    @property
    def complete(self) -> bool:
        return self.kind == "csv" and self.layout.complete

    def usable_usages(self) -> list[str]:
        """The usages its rows can have: Kaggle's train.csv has Training only; image folders no PrivateTest."""
        if self.kind == "folders":
            return [usage for split, usage in SPLIT_USAGE.items() if split in {s.lower() for s in self.splits}]
        return list(USAGES) if self.complete else ["Training"]

    def rank(self) -> tuple:
        kind = 0 if self.complete else 1 if self.kind == "csv" else 2
        exact = 0 if self.layout is not None and self.layout.name == "fer2013" else 1
        return kind, self.archive is not None, self.nested, exact, self.shown

    def describe(self) -> str:
        what = (self.layout.describe() if self.kind == "csv"
                else f"image folders {', '.join(s + '/' for s in self.splits)}")
        if self.archive is None:
            return f"{what}: {self.path}"
        inside = f"member {self.member}" if self.kind == "csv" else f"folder {self.member or '(top)'}"
        return f"{what} in the {self.archive} archive {self.path}, {inside} (read in place)"

    def as_json(self) -> dict:
        return {"path": str(self.path), "member": self.member, "archive": self.archive, "kind": self.kind,
                "layout": self.layout.name if self.layout else "image_folders", "description": self.describe()}


@dataclass
class Discovery:
    raw_dir: Path
    source: str  # as asked: auto | csv | folders | synthetic
    chosen: Found | None  # None: synthetic
    passed_over: list[PassedOver]

    @property
    def kind(self) -> str:
        return self.chosen.kind if self.chosen else "synthetic"


def discover(raw_dir: str | Path, source: str = "auto") -> Discovery:
    """What to read for `data.source`, and every file or folder passed over with its reason."""
    raw_dir = Path(raw_dir)
    if source not in SOURCES:
        raise IngestError(f"params.yaml data.source: must be one of {', '.join(SOURCES)}, not {source!r}")
    if not raw_dir.is_dir():
        if source == "synthetic":
            return Discovery(raw_dir, source, None, [])
        raise IngestError(f"{raw_dir}: folder not found (params.yaml data.raw_dir); it is where FER2013 goes")
    scan = _Scan()
    scan.folder(_DiskView(raw_dir), (), 0)
    return _choose(raw_dir, source, scan)


def _choose(raw_dir: Path, source: str, scan: _Scan) -> Discovery:
    passed = list(scan.passed)
    if source == "synthetic":
        passed += [PassedOver(f.named, f"{f.describe()}; not read: data.source is 'synthetic'") for f in scan.found]
        passed += [PassedOver(where, f"{problem}; data.source is 'synthetic'") for _, where, problem in scan.broken]
        return Discovery(raw_dir, source, None, _collapse(passed))
    wanted = [f for f in scan.found if source in ("auto", f.kind)]
    broken = [f"{where}: {problem}" for kind, where, problem in scan.broken
              if source == "auto" or kind in (source, "any")]
    if broken:
        raise IngestError("; ".join(broken))
    passed += [PassedOver(where, problem) for _, where, problem in scan.broken]
    if not wanted:
        passed += [PassedOver(f.named, f"{f.describe()}; not read: data.source is '{source}'") for f in scan.found]
        passed = _collapse(passed)
        if source == "auto" and all(p.ignorable for p in passed):
            return Discovery(raw_dir, source, None, passed)
        listed = "; ".join(f"{p.path} ({p.reason})" for p in passed) or "nothing"
        what = {"auto": "no FER2013 here", "csv": "data.source is 'csv' but there is no FER2013 CSV here",
                "folders": "data.source is 'folders' but there are no FER2013 image folders here"}[source]
        raise IngestError(f"{raw_dir}: {what}. Found: {listed}. Understood: {UNDERSTOOD}")
    chosen = min(wanted, key=Found.rank)
    for other in sorted(scan.found, key=Found.rank):
        if other is not chosen:
            passed.append(PassedOver(other.named, _why_not(other, chosen, source)))
    return Discovery(raw_dir, source, chosen, _collapse(passed))


def _why_not(other: Found, chosen: Found, source: str) -> str:
    if source != "auto" and other.kind != source:
        return f"{other.describe()}; not read: data.source is '{source}'"
    if other.kind == "folders" and chosen.kind == "csv":
        return f"image folders ignored: the CSV {chosen.shown} was found, and a CSV wins over image folders"
    if other.kind == "csv" and chosen.complete and not other.complete:
        return f"{other.layout.describe()}; not read: the complete CSV {chosen.shown} was read instead"
    return (f"another copy of FER2013, not read: {chosen.shown} was preferred (complete CSVs, then train.csv, "
            f"then image folders; plain files, then a folder down, then archives)")


def _collapse(passed: list[PassedOver]) -> list[PassedOver]:
    """Many files with one reason in one folder (a folder of loose images) become one entry."""
    groups: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    for p in passed:
        groups[(os.path.dirname(p.path), p.reason, p.ignorable)].append(p.path)
    out = []
    for p in passed:
        paths = groups[(os.path.dirname(p.path), p.reason, p.ignorable)]
        if len(paths) <= _COLLAPSE:
            out.append(p)
        elif paths[0] == p.path:
            names = ", ".join(os.path.basename(x) for x in paths[:3])
            out.append(PassedOver(f"{os.path.dirname(p.path)}/ ({len(paths)} entries: {names}, ...)", p.reason,
                                  p.ignorable))
    return out


class _View(Protocol):
    """A folder tree to search: data/raw/ on disk, or one archive's members."""

    in_archive: bool

    def children(self, rel: tuple[str, ...]) -> list[tuple[str, str]]: ...  # (name, file|dir|link|dangling|special)

    def head(self, rel: tuple[str, ...]) -> bytes: ...

    def show(self, rel: tuple[str, ...]) -> str: ...

    def found(self, rel: tuple[str, ...], **fields) -> Found: ...


class _DiskView:
    in_archive = False

    def __init__(self, root: Path):
        self.root = root

    def children(self, rel):
        folder = self.root.joinpath(*rel)
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            raise IngestError(f"{folder}: can't list it ({exc.strerror or exc})") from None
        kids = []
        for entry in entries:
            if entry.is_symlink() and not os.path.exists(entry.path):
                kind = "dangling"
            else:
                kind = "dir" if entry.is_dir() else "file" if entry.is_file() else "special"
            kids.append((entry.name, kind))
        return kids

    def head(self, rel):
        with open(self.root.joinpath(*rel), "rb") as fh:
            return fh.read(HEAD_BYTES)

    def show(self, rel):
        return str(self.root.joinpath(*rel))

    def found(self, rel, **fields):
        return Found(path=self.root.joinpath(*rel), **fields)


class _ArchiveView:
    in_archive = True

    def __init__(self, path: Path, fmt: str, members: list[Member], heads: dict[str, bytes]):
        self.path, self.format, self.heads = path, fmt, heads
        self._children: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
        for m in members:
            self._children[m.parts[:-1]].append((m.parts[-1], m.kind))

    def children(self, rel):
        return sorted(self._children.get(rel, []))

    def head(self, rel):
        return self.heads.get("/".join(rel), b"")

    def show(self, rel):
        return f"{self.path}:{'/'.join(rel)}"

    def found(self, rel, **fields):
        return Found(path=self.path, member="/".join(rel), archive=self.format, **fields)


def _is_csv_name(name: str) -> bool:
    return name.lower().endswith((".csv", ".csv.gz"))


class _Scan:
    """Collects what a search finds: datasets, things passed over, and intended files that are broken."""

    def __init__(self) -> None:
        self.found: list[Found] = []
        self.passed: list[PassedOver] = []
        self.broken: list[tuple[str, str, str]] = []  # (csv | any, path, what is wrong and the fix)

    def empty(self) -> bool:
        return not self.found and not self.broken

    def folder(self, view: _View, rel: tuple[str, ...], depth: int) -> None:
        kids = view.children(rel)
        splits = tuple(sorted((name for name, kind in kids if kind == "dir" and split_name(name)),
                              key=lambda name: split_name(name) != "train"))
        if splits:
            self.found.append(view.found(rel, kind="folders", nested=depth > 0, splits=splits))
        for name, kind in kids:
            here = (*rel, name)
            if name in splits:
                continue
            if splits and kind == "dir" and name.lower() in ("val", "valid", "validation", "dev"):
                self.passed.append(PassedOver(view.show(here) + "/", "a split folder other than train/ and test/: "
                                              "not read (the image layout is train/ -> Training, test/ -> PublicTest)"))
                continue
            if not view.in_archive and depth == 0 and name in PROJECT_FILES:
                continue
            self.entry(view, here, kind, depth)

    def entry(self, view: _View, here: tuple[str, ...], kind: str, depth: int) -> None:
        name, shown = here[-1], view.show(here)
        junk = system_or_hidden(name)
        if junk:
            what = (("operating-system " if junk == "system_file" else "hidden ")
                    + ("folder" if kind == "dir" else "file"))
            self.passed.append(PassedOver(shown, what, ignorable=True))
        elif kind == "dangling":
            self.passed.append(PassedOver(shown, "a link whose target is missing"))
        elif kind == "link":
            self.passed.append(PassedOver(shown, "a link stored in the archive (not followed)"))
        elif kind == "special":
            self.passed.append(PassedOver(shown, "not a regular file or folder"))
        elif kind == "dir":
            self.subfolder(view, here, depth)
        elif name.lower() in FERPLUS_NAMES and not view.in_archive:
            self.passed.append(PassedOver(shown, "FER+'s votes for FER2013's rows (read beside the FER2013 CSV)",
                                          ignorable=True))
        elif _is_csv_name(name):
            self.csv(view, here)
        elif archive_format(name):
            if view.in_archive:
                self.passed.append(PassedOver(shown, "an archive inside the archive: unpack the outer one first"))
            else:
                self.archive(Path(shown))
        elif name.lower().endswith(UNREADABLE_ARCHIVES):
            self.passed.append(PassedOver(shown, "7z and rar archives can't be read in place: unpack it here, "
                                                 "or repack it as .zip or .tar.gz"))
        elif name.endswith(".dvc") and not view.in_archive:
            target = Path(shown[:-4])
            self.passed.append(PassedOver(shown, f"DVC's pointer to {target.name}" if target.exists() else
                                          f"DVC's pointer to {target.name}, which is not here: run `dvc pull`",
                                          ignorable=target.exists()))
        else:
            self.passed.append(PassedOver(shown, "not a FER2013 file: not a CSV, an archive or a train/ or test/ "
                                                 "folder"))

    def subfolder(self, view: _View, here: tuple[str, ...], depth: int) -> None:
        shown = view.show(here)
        if depth >= 1:
            self.passed.append(PassedOver(shown + "/", "a folder two levels down: only data/raw/ and the folders "
                                                       "directly in it (or an archive's top) are searched"))
            return
        inner = _Scan()
        inner.folder(view, here, depth + 1)
        if not inner.empty():
            self.merge(inner)
            return
        names = [p.path.rstrip("/").rsplit("/", 1)[-1] + ("/" if p.path.endswith("/") else "") for p in inner.passed]
        if not names:
            self.passed.append(PassedOver(shown + "/", "an empty folder"))
            return
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        self.passed.append(PassedOver(shown + "/", f"a folder with no FER2013 in it (it holds {listed})",
                                      ignorable=all(p.ignorable for p in inner.passed)))

    def archive(self, path: Path) -> None:
        try:
            archive = Archive(path)
            members, heads = archive.scan(lambda n: _is_csv_name(n) and n.count("/") <= 1)
        except IngestError as exc:
            self.broken.append(("any", str(path), str(exc).removeprefix(f"{path}: ")))
            return
        inner = _Scan()
        inner.folder(_ArchiveView(path, archive.format, members, heads), (), 0)
        if not inner.empty():
            self.merge(inner)
            return
        names = [m.name for m in members if len(m.parts) == 1]
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "") or "nothing"
        self.passed.append(PassedOver(str(path), f"a {archive.format} archive with no FER2013 in it "
                                                 f"(its top holds {listed})"))

    def csv(self, view: _View, here: tuple[str, ...]) -> None:
        name, shown = here[-1], view.show(here)
        plain = without_gz(name).lower()
        intended = plain in KNOWN_NAMES and plain != "test.csv"
        try:
            head = view.head(here)
        except OSError as exc:
            self.broken.append(("csv", shown, f"can't be read ({exc.strerror or exc})"))
            return
        problem = gzip_problem(name, head) if name.lower().endswith(".gz") else plain_csv_problem(name, head)
        if problem is None and name.lower().endswith(".gz"):
            try:
                head = gunzip_head(head)
            except ValueError as exc:
                problem = f"not a complete gzip file ({exc}); download it again"
        if problem is not None:
            self.broken.append(("csv", shown, problem))
            return
        if not head.strip():
            self._csv_problem(shown, intended, "the file is empty")
            return
        header = decoded_first_line(head)
        layout = layout_of(header)
        encoding = encoding_problem(head)
        if encoding:
            fix = ("FER2013 is ASCII text: convert it back, e.g. `iconv -f UTF-16 -t UTF-8`" if "UTF-" in encoding
                   and "header" not in encoding else "FER2013's header is ASCII 'emotion,pixels,Usage': use the "
                   "file as downloaded")
            self._csv_problem(shown, intended or bool(layout and layout.usable), f"{encoding}; {fix}")
            return
        if layout is None:
            self._csv_problem(shown, intended, f"header '{header[:60]}' is none of FER2013's ('emotion,pixels,Usage', "
                                               f"'emotion, Usage, pixels' or 'emotion,pixels')")
            return
        if not layout.usable:
            self.passed.append(PassedOver(shown, layout.describe()))
            return
        self.found.append(view.found(here, kind="csv", layout=layout, nested=len(here) > 1))

    def _csv_problem(self, shown: str, intended: bool, problem: str) -> None:
        if intended:
            self.broken.append(("csv", shown, problem))
        else:
            self.passed.append(PassedOver(shown, f"a CSV that is not FER2013: {problem}"))

    def merge(self, other: _Scan) -> None:
        self.found += other.found
        self.passed += other.passed
        self.broken += other.broken

