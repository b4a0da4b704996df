"""`facial-emotion analyze`: every face in photos, folders, videos or glob patterns, as CSV or JSON
lines, on ONNX Runtime (no TensorFlow).

    facial-emotion analyze photos/ --csv faces.csv
    facial-emotion analyze 'shots/**/*.jpg' clip.mp4 --json faces.jsonl --every 5
    facial-emotion analyze group.jpg                       # CSV to stdout, summary to stderr

One row per face: file, frame (videos), time, box, detector score, one probability per class of
the model, top class. A progress bar with ETA runs on stderr when it is a terminal. At the end a
summary: files, faces, files without a face, unreadable files named with the reason. Exit status
0 when every file was read, 1 when any could not be (the others' rows are still written) or the
command could not start, 2 for a bad command line. Outputs are written whole or not at all.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import __version__
from ..errors import PipelineError
from ..evaluation.registry import champion_uri

PROG = "facial-emotion"
EXAMPLES = """examples:
  facial-emotion analyze photos/ --csv faces.csv
  facial-emotion analyze 'shots/**/*.jpg' clip.mp4 --json faces.jsonl --every 5
  facial-emotion analyze group.jpg --model models:/facial-emotion@champion

--model: 'shipped' (default: the pretrained model inside the package), an .onnx file, or, with the
pipeline's packages installed (pip install 'facial-emotion[pipeline]'), a .keras file, an MLflow
model URI, or 'champion' (models:/<registry.model_name>@champion of the project in this folder)."""


@dataclass
class Tally:
    photos: int = 0
    videos: int = 0
    frames: int = 0
    faces: int = 0
    no_face: list[str] = field(default_factory=list)   # photos
    frames_no_face: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Where:
    file: str
    frame: int | None = None
    time_s: float | None = None


class Writers:
    """The CSV and JSON-lines outputs (files written atomically, or stdout)."""

    def __init__(self, classes: tuple[str, ...], csv_out: IO[str] | None, json_out: IO[str] | None) -> None:
        self.classes = classes
        self.json_out = json_out
        self.csv = None
        if csv_out is not None:
            self.csv = csv.writer(csv_out)
            self.csv.writerow(["file", "frame", "time_s", "face", "x", "y", "width", "height", "score",
                               *classes, "label", "confidence", "uncertain"])
        self.rows = 0

    def write(self, where: Where, index: int, face) -> None:
        self.rows += 1
        time_s = None if where.time_s is None else round(where.time_s, 3)
        if self.csv is not None:
            self.csv.writerow([where.file, "" if where.frame is None else where.frame, "" if time_s is None else time_s,
                               index, *face.box, "" if face.score is None else f"{face.score:.4f}",
                               *(f"{face.probabilities[c]:.6f}" for c in self.classes), face.label,
                               f"{face.confidence:.6f}", int(face.uncertain)])
        if self.json_out is not None:
            record = {"file": where.file, "frame": where.frame, "time_s": time_s, "face": index, **face.to_dict()}
            self.json_out.write(json.dumps(record) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Faces and their emotions in photos and videos, "
                                     "without TensorFlow (ONNX Runtime)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="analyze")
    analyze = commands.add_parser("analyze", help="label every face in photos, folders, videos or glob patterns",
                                  description="One row per face: file, frame, box, class probabilities, top class.",
                                  epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("inputs", nargs="+", metavar="PHOTO|FOLDER|VIDEO|GLOB",
                         help="files, folders (searched recursively) or quoted glob patterns ('**' recurses)")
    analyze.add_argument("--csv", type=Path, metavar="FILE", help="write the rows as CSV here")
    analyze.add_argument("--json", type=Path, metavar="FILE", help="write the rows as JSON lines here")
    analyze.add_argument("--model", default="shipped", help="shipped (default), an .onnx or .keras file, "
                         "an MLflow model URI, or champion")
    analyze.add_argument("--every", type=int, default=1, metavar="N", help="videos: analyse every N-th frame (1)")
    analyze.add_argument("--batch", type=int, default=64, metavar="N", help="faces per model call (64)")
    analyze.add_argument("--threads", type=int, default=None, metavar="N",
                         help="ONNX Runtime threads (default: one per core)")
    analyze.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("every", "batch", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name}: expected a whole number >= 1, not {value}")
    return args


def resolve_model(spec: str) -> str:
    """'champion' -> the project's registered champion URI, with MLflow pointed at its store."""
    if spec != "champion" and not spec.startswith(("models:/", "runs:/")):
        return spec
    from ..paths import PARAMS_FILE, repo_root

    root = repo_root()
    try:
        from .. import tracking
        from ..params import read_params
    except ImportError as exc:
        raise PipelineError(f"--model {spec}: needs the pipeline's packages ({exc.name} is not installed): "
                            "pip install 'facial-emotion[pipeline]'") from None
    params = read_params(root / PARAMS_FILE) if (root / PARAMS_FILE).exists() else None
    if spec == "champion" and params is None:
        raise PipelineError("--model champion: no params.yaml here; run it in the project folder, or pass "
                            "models:/<name>@champion with MLFLOW_TRACKING_URI set")
    tracking.configure(params.mlflow.experiment if params else tracking.DEFAULT_EXPERIMENT, root)
    return champion_uri(params.registry.model_name) if spec == "champion" else spec


def analyze(args: argparse.Namespace) -> int:
    from .inputs import Video, expand
    from .recognizer import EmotionRecognizer

    inputs = expand(args.inputs)  # a bad argument fails here, before the model loads
    if not inputs.photos and not inputs.videos:
        raise PipelineError(f"no photos or videos in {', '.join(args.inputs)} "
                            f"({len(inputs.ignored)} other files ignored)")
    started = time.perf_counter()
    recognizer = EmotionRecognizer(resolve_model(args.model), threads=args.threads)
    tally = Tally(ignored=[str(p) for p in inputs.ignored])
    with ExitStack() as stack:
        csv_out = _open(stack, args.csv) if args.csv else None
        json_out = _open(stack, args.json) if args.json else None
        if csv_out is None and json_out is None:
            csv_out = sys.stdout
        writers = Writers(recognizer.classes, csv_out, json_out)
        progress = not args.no_progress
        if inputs.photos:
            _run(recognizer, _photos(inputs.photos, tally, progress), writers, tally, args.batch)
        for path in inputs.videos:
            try:
                video = Video(path, args.every)
            except PipelineError as exc:
                tally.unreadable.append((str(path), _reason(exc, path)))
                continue
            tally.videos += 1
            _run(recognizer, _frames(video, tally, progress), writers, tally, args.batch, still=False)
        if csv_out is sys.stdout:
            sys.stdout.flush()
    _summary(tally, writers, args, recognizer, time.perf_counter() - started)
    return 1 if tally.unreadable else 0


def _open(stack: ExitStack, path: Path) -> IO[str]:
    from ..files import atomic_path

    tmp = stack.enter_context(atomic_path(path))
    return stack.enter_context(open(tmp, "w", encoding="utf-8", newline=""))


def _bar(total: int | None, unit: str, description: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=description, disable=None if enabled else True, leave=False,
                file=sys.stderr, dynamic_ncols=True)


def _photos(paths: list[Path], tally: Tally, progress: bool) -> Iterator[tuple[Where, Any]]:
    from ..faces.sources import read_image

    with _bar(len(paths), "photo", "photos", progress) as bar:
        for path in paths:
            bar.update(1)
            try:
                image = read_image(path)
            except PipelineError as exc:
                tally.unreadable.append((str(path), _reason(exc, path)))
                continue
            tally.photos += 1
            yield Where(str(path)), image


def _frames(video, tally: Tally, progress: bool) -> Iterator[tuple[Where, Any]]:
    with _bar(video.expected, "frame", video.path.name, progress) as bar:
        try:
            for index, time_s, image in video:
                bar.update(1)
                tally.frames += 1
                yield Where(str(video.path), index, time_s), image
        except PipelineError as exc:
            tally.videos -= 1
            tally.unreadable.append((str(video.path), _reason(exc, video.path)))


def _run(recognizer, items: Iterator[tuple[Where, Any]], writers: Writers, tally: Tally, batch: int,
         still: bool = True) -> None:
    """Analyse the images in batches; rows land in input order. Each image's place waits in a queue
    while analyze_many gathers a batch of faces."""
    waiting: deque[Where] = deque()

    def images():
        for where, image in items:
            waiting.append(where)
            yield image

    for faces in recognizer.analyze_many(images(), batch_size=batch, still=still):
        where = waiting.popleft()
        tally.faces += len(faces)
        if not faces and where.frame is None:
            tally.no_face.append(where.file)
        elif not faces:
            tally.frames_no_face += 1
        for i, face in enumerate(faces):
            writers.write(where, i, face)


def _reason(exc: BaseException, path: Path) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _summary(tally: Tally, writers: Writers, args: argparse.Namespace, recognizer, seconds: float) -> None:
    model = recognizer.classifier
    name = f"shipped {Path(model.uri).name}" if model.origin == "shipped" else model.uri
    lines = [f"{PROG}: {_count(tally.photos, 'photo')}, {_count(tally.videos, 'video')} "
             f"({_count(tally.frames, 'frame')}) -> {_count(tally.faces, 'face')} in {seconds:.1f} s; "
             f"model {name} ({model.runtime})"]
    if tally.no_face:
        lines.append(f"  no face found: {_count(len(tally.no_face), 'photo')}" + _names(tally.no_face))
    if tally.frames_no_face:
        lines.append(f"  no face found: {_count(tally.frames_no_face, 'video frame')}")
    if tally.unreadable:
        lines.append(f"  unreadable: {_count(len(tally.unreadable), 'file')}")
        lines += [f"    {name}: {reason}" for name, reason in tally.unreadable]
    if tally.ignored:
        lines.append(f"  ignored (not a photo or video): {_count(len(tally.ignored), 'file')}" + _names(tally.ignored))
    for path in (args.csv, args.json):
        if path:
            lines.append(f"  wrote {path} ({writers.rows} rows)")
    print("\n".join(lines), file=sys.stderr)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _names(names: list[str], shown: int = 5) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return f": {', '.join(names[:shown])}{more}"


def main(argv: list[str] | None = None) -> int:
    """The console script: one-line errors, never a traceback."""
    args = parse_args(argv)
    try:
        return analyze(args)
    except PipelineError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted: no output written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        print(f"{PROG}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
