"""Training throughput of the train stage's code path against a bare `model.fit`, in the same run;
SMOTE's time and peak memory on the real training split; one full epoch on the real data.

    python benchmarks/train_throughput.py [--data PATH] [--images 4096] [--full-epoch]

Target: the stage's path at >= 0.95x the bare fit's images/s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import fer2013_path, run_child  # noqa: E402

_LOAD = """
import json, resource, time, numpy as np
from facial_emotion.data.fer_csv import read_fer_csv
from facial_emotion.data.splits import official_split
ds, _ = read_fer_csv({path!r})
split = official_split(ds, 0.1, 42)
x, y = ds.images[split.train], ds.labels[split.train]
xv, yv = ds.images[split.val], ds.labels[split.val]
"""

_FIT = _LOAD + """
import keras, yaml
from facial_emotion.models.architectures import build_model
from facial_emotion.models.training import fit, one_hot, set_seeds
params = yaml.safe_load(open("params.yaml"))
cfg = dict(params["train"], epochs={epochs})
n = {images}
x, y = x[:n], y[:n]
set_seeds(42, False)
model = build_model("seed", "relu", params["cnn"], {{}}, 42)
if {bare}:
    class EpochTimer(keras.callbacks.Callback):  # the least a bare fit needs to time its epochs
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)
    seconds = []
    model.compile(optimizer=keras.optimizers.Adam(cfg["learning_rate"]), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[..., None], one_hot(y), validation_data=(xv[..., None], one_hot(yv)), batch_size=cfg["batch_size"],
              epochs=cfg["epochs"], verbose=0, callbacks=[EpochTimer()])
else:
    seconds = [r["epoch_seconds"] for r in fit(model, x, y, xv, yv, cfg).history]
# The first epoch traces the graph; later epochs are the steady state. The median epoch, because
# TensorFlow on this 2-core CPU now and then runs an epoch on one core at half speed.
steady = seconds[1:] or seconds
print(json.dumps({{"images_per_second": len(x) / float(np.median(steady)), "seconds": sum(seconds), "images": len(x),
                   "first_epoch_seconds": seconds[0]}}))
"""

_SMOTE = _LOAD + """
from facial_emotion.data.balance import smote
start = time.perf_counter()
out, labels = smote(x, y, 6, "auto", 42)
print(json.dumps({{"seconds": time.perf_counter() - start, "rows_in": len(y), "rows_out": len(labels),
                   "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--images", type=int, default=4096, help="training images per throughput run")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first (graph tracing) is not counted")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--full-epoch", action="store_true", help="also time one epoch on the whole training split")
    args = parser.parse_args()
    path = str(fer2013_path(args.data))

    print(f"FER2013: {path}")
    # Alternate the two so that load from other processes falls on both alike.
    runs = {"stage": [], "bare": []}
    for repeat in range(args.repeats):
        for kind in (("stage", "bare") if repeat % 2 == 0 else ("bare", "stage")):
            runs[kind].append(run_child(_FIT.format(path=path, epochs=args.epochs, images=args.images, bare=kind == "bare")))
    stage, bare = (max(runs[k], key=lambda r: r["images_per_second"]) for k in ("stage", "bare"))
    ratio = stage["images_per_second"] / bare["images_per_second"]
    print(f"seed CNN, batch 32, {stage['images']} images, median of epochs 2-{args.epochs}, best of {args.repeats} runs "
          f"(all runs: stage {[round(r['images_per_second']) for r in runs['stage']]}, "
          f"bare {[round(r['images_per_second']) for r in runs['bare']]} images/s):")
    print(f"  train stage path (facial_emotion.models.training.fit): {stage['images_per_second']:7.1f} images/s")
    print(f"  bare model.fit (baseline):                              {bare['images_per_second']:7.1f} images/s")
    print(f"  ratio {ratio:.3f}x (target >= 0.95x): {'PASS' if ratio >= 0.95 else 'FAIL'}")
    smote = run_child(_SMOTE.format(path=path))
    print(f"SMOTE k=6 on the official training split: {smote['rows_in']} -> {smote['rows_out']} rows in "
          f"{smote['seconds']:.1f} s, peak RSS {smote['peak_rss_gb']:.2f} GB (process incl. parsed dataset)")
    if args.full_epoch:
        full = run_child(_FIT.format(path=path, epochs=1, images=10 ** 9, bare=False))
        print(f"one full epoch (train stage path, incl. validation and graph tracing), {full['images']} images: "
              f"{full['seconds']:.0f} s ({full['images'] / full['seconds']:.0f} images/s)")


if __name__ == "__main__":
    main()
