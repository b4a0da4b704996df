"""The first study's own suggestion, an average of the best CNNs, and flip test-time averaging,
both as plain Keras models built from stock layers (no Lambda, so they load in safe mode)."""

from __future__ import annotations

import numpy as np

from ..labels import IMAGE_SIZE


def _rename(model, name: str):
    model.name = name  # nested models need unique names inside the ensemble
    return model


def build_ensemble(members: list, name: str = "ensemble"):
    """One model whose output is the mean of the members' probabilities."""
    import keras

    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    outputs = [_rename(member, f"member_{i}_{member.name}")(inputs) for i, member in enumerate(members)]
    mean = keras.layers.Average(name="mean_probability")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, mean, name=name)


def horizontal_flip_layer(name: str = "mirror"):
    """A frozen Dense over the width axis with an anti-diagonal identity: an exact mirror image."""
    import keras

    width = IMAGE_SIZE
    mirror = keras.Sequential([
        keras.layers.Permute((1, 3, 2)),  # (h, w, 1) -> (h, 1, w)
        keras.layers.Dense(width, use_bias=False, trainable=False, name="anti_identity"),
        keras.layers.Permute((1, 3, 2)),
    ], name=name)
    mirror.build((None, IMAGE_SIZE, IMAGE_SIZE, 1))
    mirror.get_layer("anti_identity").set_weights([np.eye(width, dtype=np.float32)[::-1]])
    return mirror


def with_flip_tta(model, name: str | None = None):
    """Average the model's probabilities on the face and on its mirror image."""
    import keras

    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    mirrored = horizontal_flip_layer()(inputs)
    mean = keras.layers.Average(name="flip_mean")([model(inputs), model(mirrored)])
    return keras.Model(inputs, mean, name=name or f"{model.name}_fliptta")


def champion_model(name: str, tta_flip: bool):
    """The champion's saved model (models/<name>/), with flip TTA around it when `evaluate.tta_flip`
    is on (the saved ensemble has it already): what evaluate registers and export converts."""
    from ..models.store import KERAS_FILE, SKLEARN_FILE, load_keras_model, model_dir, skops_trusted_types

    folder = model_dir(name)
    if (folder / KERAS_FILE).exists():
        model = load_keras_model(folder / KERAS_FILE)
        if name != "ensemble" and tta_flip:
            model = with_flip_tta(model)
        return model
    import skops.io

    return skops.io.load(folder / SKLEARN_FILE, trusted=skops_trusted_types(folder / SKLEARN_FILE))
