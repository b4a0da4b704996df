"""The exported model on ONNX Runtime against the same model through Keras (TensorFlow), in one run:
per-face latency at batch 1 and 64, a folder of photos end to end (the `facial-emotion` command's
path: read, detect, crop, classify in batches), its peak RSS, and cold start (import to first answer).

    python benchmarks/inference.py [--photos 1000] [--repeats 300] [--threads 2]

Model: the shipped pretrained network (facial_emotion/pretrained/, .keras and .onnx). Faces: 48x48
crops of random pixels (latency does not depend on them). Photos: the labelled real photos in
tests/assets/faces, copied round-robin into a temporary folder of --photos files. Each end-to-end
and cold-start figure comes from a fresh interpreter, so its peak RSS is its own. With
`ai-edge-litert` installed, LiteRT (the model converted by TensorFlow's TFLite converter in this run)
is measured beside them: the runtime the export was chosen against.

Targets on 2 cores: ONNX Runtime >= 5x faster than Keras per face at batch 1, peak RSS <= 300 MB
on the folder, cold start <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, run_child  # noqa: E402

PHOTOS = REPO / "tests/assets/faces"
SPEEDUP_TARGET, RSS_TARGET_MB, COLD_TARGET_S = 5.0, 300.0, 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="photos in the end-to-end folder (default 1000)")
    parser.add_argument("--repeats", type=int, default=300, help="model calls per latency figure (default 300)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every runtime (default 2)")
    return parser.parse_args()


def latencies(calls: dict, batch, repeats: int) -> dict[str, float]:
    """Median ms per face of each call over `repeats` rounds, after 10 warm-up rounds. The calls take
    turns within each round, so load from other processes hits all alike."""
    import numpy as np

    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(10 + repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call(batch)
            if round_ >= 10:
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) * 1e3 / len(batch) for name, values in times.items()}


def litert_call(keras_model, threads: int, folder: Path):
    """The Keras model converted to LiteRT in this run, as a callable; None without ai-edge-litert."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    import tensorflow as tf

    from facial_emotion.inference.export import inference_function

    infer, _ = inference_function(keras_model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([infer.get_concrete_function()], infer)
    path = folder / "model.tflite"
    path.write_bytes(converter.convert())
    interpreter = Interpreter(str(path), num_threads=threads)
    source, target = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    shape = [None]

    def call(batch):
        if shape[0] != batch.shape:
            interpreter.resize_tensor_input(source, batch.shape)
            interpreter.allocate_tensors()
            shape[0] = batch.shape
        interpreter.set_tensor(source, batch)
        interpreter.invoke()
        return interpreter.get_tensor(target)

    return call


def per_face(args: argparse.Namespace, folder: Path) -> dict[str, dict[int, float]]:
    import numpy as np

    from facial_emotion import pretrained
    from facial_emotion.faces.classifier import load_classifier
    from facial_emotion.inference.onnx_model import load_onnx_classifier

    keras_model = load_classifier(str(pretrained.MODEL_FILE))
    onnx_model = load_onnx_classifier(pretrained.ONNX_FILE, threads=args.threads)
    calls = {"Keras (TensorFlow)": keras_model, "ONNX Runtime": onnx_model}
    lite = litert_call(keras_model.raw_model, args.threads, folder)
    if lite is not None:
        calls["LiteRT"] = lite
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48, 1), dtype=np.uint8)
    one = latencies(calls, faces[:1], args.repeats)
    many = latencies(calls, faces, max(20, args.repeats // 10))
    return {name: {1: one[name], 64: many[name]} for name in calls}


CHILD = """
import json, re, sys, time
def peak_mb():  # VmHWM starts afresh at exec; ru_maxrss would carry the parent's (TensorFlow's) peak
    with open("/proc/self/status") as fh:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", fh.read()).group(1)) / 1024
start = time.perf_counter()
from facial_emotion import EmotionRecognizer
from facial_emotion.inference.inputs import expand
recognizer = EmotionRecognizer({model!r}, threads={threads})
first = recognizer.analyze({first!r})
cold = time.perf_counter() - start
faces = photos = 0
if {folder!r}:
    paths = expand([{folder!r}]).photos
    begin = time.perf_counter()
    for found in recognizer.analyze_many(iter(paths)):
        faces += len(found)
        photos += 1
    wall = time.perf_counter() - begin
else:
    wall = None
heavy = 'tensorflow' in sys.modules
print(json.dumps({{"cold_s": cold, "first_faces": len(first), "photos": photos, "faces": faces, "wall_s": wall,
                  "peak_rss_mb": peak_mb(), "tensorflow": heavy}}))
"""


def child(model: str, threads: int, folder: Path | None) -> dict:
    return run_child(CHILD.format(model=model, threads=threads, first=str(PHOTOS / "facerec-obama-and-biden.jpg"),
                                  folder=str(folder) if folder else ""))


def make_folder(root: Path, count: int) -> Path:
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix == ".jpg")
    folder = root / "photos"
    folder.mkdir()
    for i in range(count):
        source = sources[i % len(sources)]
        shutil.copyfile(source, folder / f"{i:05d}-{source.name}")
    return folder


def main() -> None:
    args = parse_args()
    os.environ["FACIAL_EMOTION_THREADS"] = str(args.threads)
    from facial_emotion import pretrained

    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        folder = make_folder(Path(tmp), args.photos)
        print(f"{os.cpu_count()} CPUs, {args.threads} threads per runtime; model {pretrained.MODEL_FILE.name} "
              f"and {pretrained.ONNX_FILE.name}; {args.photos} photos from {PHOTOS.relative_to(REPO)}", flush=True)
        latencies = per_face(args, Path(tmp))
        models = {"Keras (TensorFlow)": str(pretrained.MODEL_FILE), "ONNX Runtime": "shipped"}
        runs = {name: {"cold": child(model, args.threads, None), "folder": child(model, args.threads, folder)}
                for name, model in models.items()}
    keras_1 = latencies["Keras (TensorFlow)"][1]
    print("\nPer-face figures: the runtimes take turns call by call. Folder and cold start: one fresh process each, "
          "one after the other.")
    print(f"\n| runtime | ms per face, batch 1 | ms per face, batch 64 | {args.photos} photos | faces | "
          "peak RSS | cold start (import to first answer) |")
    print("|---|---|---|---|---|---|---|")
    for name, figures in latencies.items():
        run = runs.get(name)
        folder_cells = (f"{run['folder']['wall_s']:.1f} s | {run['folder']['faces']} | "
                        f"{run['folder']['peak_rss_mb']:.0f} MB | {run['cold']['cold_s']:.2f} s") if run else \
            "- | - | - | -"
        print(f"| {name} | {figures[1]:.3f} ({keras_1 / figures[1]:.1f}x) | {figures[64]:.3f} | {folder_cells} |")
    onnx = runs["ONNX Runtime"]
    speedup = keras_1 / latencies["ONNX Runtime"][1]
    checks = {
        f"ONNX Runtime >= {SPEEDUP_TARGET:.0f}x faster per face at batch 1": speedup >= SPEEDUP_TARGET,
        f"peak RSS <= {RSS_TARGET_MB:.0f} MB on the folder": onnx["folder"]["peak_rss_mb"] <= RSS_TARGET_MB,
        f"cold start <= {COLD_TARGET_S:.0f} s": onnx["cold"]["cold_s"] <= COLD_TARGET_S,
        "TensorFlow never imported on the ONNX path": not (onnx["cold"]["tensorflow"] or onnx["folder"]["tensorflow"]),
        "same faces found by both": onnx["folder"]["faces"] == runs["Keras (TensorFlow)"]["folder"]["faces"],
    }
    print()
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    print(json.dumps({"latency_ms_per_face": latencies, "runs": runs}, default=str))


if __name__ == "__main__":
    main()
