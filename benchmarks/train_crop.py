"""What `augmentation.crop` buys: training speed and accuracy at equal epochs, against the same
network trained on whole faces with `augmentation.shift=0.1` (the recipe's before the crop), in the same run.

    python benchmarks/train_crop.py [--data PATH] [--images 14000] [--epochs 8] [--crop 40]

Both train recipes/cpu.yaml's network, augmentation and training options through the train
stage's `fit`, on the challenge split (Training trains, PublicTest validates, PrivateTest tests),
a cosine over the epochs to its floor instead of the recipe's time budget, the last epoch kept.
EMA is off: a short run ends before Keras' average (no warm-up) catches up. The cropped network is
scored twice: on its centre window, as the pipeline serves it, and on the whole 48x48 face (the
layer's `at_inference="whole"`), so the centre choice stays measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import fer2013_path, run_child  # noqa: E402

_FIT = """
import json, numpy as np
from facial_emotion.data.fer_csv import read_fer_csv
from facial_emotion.data.splits import challenge_split
from facial_emotion.models import architectures
from facial_emotion.models.training import fit, set_seeds
ds, _ = read_fer_csv({path!r})
split = challenge_split(ds)
train = split.train[np.random.default_rng(42).permutation(len(split.train))[:{images}]]
x, y = ds.images[train], ds.labels[train]
xv, yv, xt, yt = ds.images[split.val], ds.labels[split.val], ds.images[split.test], ds.labels[split.test]
from facial_emotion.recipes import recipe_params
params = recipe_params("cpu")
cnn = params.cnn.model_copy(update={{"architecture": "compact"}})
# The recipe's training, over epochs instead of its time budget, and without EMA (see the docstring).
stopping = params.train.early_stopping.model_copy(update={{"patience": {epochs}}})
cfg = params.train.model_copy(update={{"epochs": {epochs}, "lr_schedule": "cosine", "time_budget_minutes": None,
                                      "ema_momentum": None, "early_stopping": stopping}})
aug = params.augmentation.model_copy(update={{"shift": 0.0 if {crop} else 0.1, "crop": {crop}}})
set_seeds(42, False)
model = architectures.build_model(cnn, "relu", aug, 42)
result = fit(model, x, y, xv, yv, cfg, seed=42)
seconds = [r["epoch_seconds"] for r in result.history]

def accuracy(net, images, labels):
    predicted = net.predict(images[..., None].astype("float32"), batch_size=512, verbose=0).argmax(1)
    return float(np.mean(predicted == labels))

out = dict(images=len(x), images_per_second=len(x) / float(np.median(seconds[1:] or seconds)), seconds=sum(seconds),
           val=accuracy(model, xv, yv), test=accuracy(model, xt, yt), parameters=model.count_params())
if {crop}:  # the same weights on whole faces: the crop layer passes them through
    model.get_layer("augmentation").get_layer("aug_crop").at_inference = "whole"
    model.predict_function = None  # trace again with the new setting
    out.update(val_whole=accuracy(model, xv, yv), test_whole=accuracy(model, xt, yt))
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--images", type=int, default=14000, help="training faces (a seeded sample of Training)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--crop", type=int, default=40)
    args = parser.parse_args()
    path = str(fer2013_path(args.data))
    print(f"FER2013: {path}; {args.epochs} epochs each, recipes/cpu.yaml's network and training, challenge split")
    runs = {}
    for name, crop in (("whole faces, shift 0.1 (baseline)", 0), (f"crop {args.crop}", args.crop)):
        runs[name] = run_child(_FIT.format(path=path, images=args.images, epochs=args.epochs, crop=crop))
        r = runs[name]
        print(f"  {name:34s} {r['images_per_second']:6.1f} images/s, {r['seconds'] / 60:5.1f} min, "
              f"PublicTest {r['val']:.4f}, PrivateTest {r['test']:.4f} "
              f"({r['images']} faces, {r['parameters']} parameters)")
    cropped = runs[f"crop {args.crop}"]
    print(f"  crop {args.crop} scored on whole 48x48 faces instead of its centre window: "
          f"PublicTest {cropped['val_whole']:.4f}, PrivateTest {cropped['test_whole']:.4f}")
    base = runs["whole faces, shift 0.1 (baseline)"]
    print(f"speed-up {cropped['images_per_second'] / base['images_per_second']:.2f}x; at equal epochs PrivateTest "
          f"{cropped['test'] - base['test']:+.4f}, PublicTest {cropped['val'] - base['val']:+.4f}")


if __name__ == "__main__":
    main()
