"""Training throughput of the train stage's code path against a bare `model.fit`, in the same run;
SMOTE's time and peak memory on the real training split; one full epoch on the real data.

    python benchmarks/train_throughput.py [--data PATH] [--images 4096] [--network study1|recipe] [--full-epoch]

Three ways to train the same network, each in its own process:
- stage: `facial_emotion.models.training.fit` (one repeating tf.data iterator, validation on
  arrays) with FusedBatchNormalization, as the train stage runs it;
- stage, Keras BN: the same path with Keras' own BatchNormalization in its place;
- bare: `model.fit` on arrays with Keras' own BatchNormalization, what a Keras user would write.
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
import keras
from facial_emotion.models.architectures import build_model
from facial_emotion.models.training import fit, one_hot, set_seeds
from facial_emotion.params import read_params
from facial_emotion.recipes import recipe_params
params = read_params()
cfg = params.train.model_copy(update={{"epochs": {epochs}}})
n = {images}
x, y = x[:n], y[:n]
cnn, aug = params.cnn.model_copy(update={{"architecture": "study1"}}), None
if {recipe}:  # recipes/cpu.yaml's network, augmentation, batch size and learning rate
    recipe = recipe_params("cpu")
    cnn, aug = recipe.cnn, recipe.augmentation
    # Its optimizer, EMA and MixUp stay off: the bare fit below is plain Adam, and this compares paths.
    cfg = cfg.model_copy(update={{"batch_size": recipe.train.batch_size, "learning_rate": recipe.train.learning_rate}})
if {keras_bn}:  # the same network with Keras' own BatchNormalization layers
    import facial_emotion.models.architectures as architectures
    architectures.FusedBatchNormalization = keras.layers.BatchNormalization
set_seeds(42, False)
model = build_model(cnn, "relu", aug, 42)
assert {keras_bn} != any(type(layer).__name__ == "FusedBatchNormalization" for layer in model.layers)
if {bare}:
    class EpochTimer(keras.callbacks.Callback):  # the least a bare fit needs to time its epochs
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)
    seconds = []
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[..., None], one_hot(y), validation_data=(xv[..., None], one_hot(yv)), batch_size=cfg.batch_size,
              epochs=cfg.epochs, verbose=0, callbacks=[EpochTimer()])
else:
    seconds = [r["epoch_seconds"] for r in fit(model, x, y, xv, yv, cfg).history]
# The first epoch traces the graph; later epochs are the steady state. The median epoch, because a
# bare fit on arrays makes a new tf.data iterator each epoch and now and then idles about 10 s
# while the old one shuts down (facial_emotion.models.training.training_dataset).
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
    parser.add_argument("--epochs", type=int, default=4,
                        help="epochs per run; the first (graph tracing) is not counted")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--network", choices=("study1", "recipe"), default="study1",
                        help="study1: the first study's CNN; recipe: recipes/cpu.yaml's network and augmentation")
    parser.add_argument("--full-epoch", action="store_true", help="also time one epoch on the whole training split")
    args = parser.parse_args()
    path = str(fer2013_path(args.data))

    print(f"FER2013: {path}")
    # Alternate the two so that load from other processes falls on both alike.
    kinds = {"stage": (False, False), "stage_keras_bn": (False, True), "bare": (True, True)}  # (bare, keras_bn)
    runs = {kind: [] for kind in kinds}
    for repeat in range(args.repeats):
        for kind in (list(kinds) if repeat % 2 == 0 else list(kinds)[::-1]):
            bare, keras_bn = kinds[kind]
            runs[kind].append(run_child(_FIT.format(path=path, epochs=args.epochs, images=args.images, bare=bare,
                                                    keras_bn=keras_bn, recipe=args.network == "recipe")))
    best = {kind: max(runs[kind], key=lambda r: r["images_per_second"]) for kind in kinds}
    ratio = best["stage"]["images_per_second"] / best["bare"]["images_per_second"]
    network = "recipes/cpu.yaml's compact network with augmentation" if args.network == "recipe" else \
        "the first study's CNN, batch 32"
    print(f"{network}, {best['stage']['images']} images, median of epochs 2-{args.epochs}, best of {args.repeats} runs "
          "(all runs, images/s: " + ", ".join(f"{k} {[round(r['images_per_second']) for r in runs[k]]}" for k in kinds)
          + "):")
    for kind, text in (("stage", "train stage path (facial_emotion.models.training.fit):"),
                       ("stage_keras_bn", "same path with Keras' own BatchNormalization:"),
                       ("bare", "bare model.fit on arrays, Keras' BatchNormalization:")):
        note = " (baseline)" if kind == "bare" else ""
        print(f"  {text:56s}{best[kind]['images_per_second']:7.1f} images/s{note}")
    print(f"  ratio {ratio:.3f}x (target >= 0.95x): {'PASS' if ratio >= 0.95 else 'FAIL'}")
    smote = run_child(_SMOTE.format(path=path))
    print(f"SMOTE k=6 on the official training split: {smote['rows_in']} -> {smote['rows_out']} rows in "
          f"{smote['seconds']:.1f} s, peak RSS {smote['peak_rss_gb']:.2f} GB (process incl. parsed dataset)")
    if args.full_epoch:
        full = run_child(_FIT.format(path=path, epochs=1, images=10 ** 9, bare=False, keras_bn=False,
                                    recipe=args.network == "recipe"))
        print(f"one full epoch (train stage path, incl. validation and graph tracing), {full['images']} images: "
              f"{full['seconds']:.0f} s ({full['images'] / full['seconds']:.0f} images/s)")


if __name__ == "__main__":
    main()
