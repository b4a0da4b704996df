"""Keras 3 networks. Every one takes raw 0-255 pixels: scaling is the first layer, so no caller
can feed the wrong range (the first study fed 0-255 pixels to a model trained on 0-1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import layers

from ..errors import PipelineError
from ..labels import IMAGE_SIZE, NUM_CLASSES
from .layers import ChannelZeroPad, FusedBatchNormalization, TrainingRandomCrop

if TYPE_CHECKING:
    from ..params.training import AugmentationSection, CnnSection

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


class ArchitectureError(PipelineError, ValueError):
    """An unknown architecture or a malformed architecture parameter."""


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=INPUT_SHAPE, name="pixels")
    return inputs, layers.Rescaling(1.0 / 255, name="scale_0_1")(inputs)


def _dense_head(x, dense_units, activation: str, dropout: float, regularizer, num_classes: int):
    """Flatten, then Dense -> BatchNorm -> activation -> Dropout per width, then the class softmax."""
    x = layers.Flatten(name="flatten")(x)
    for i, n in enumerate(dense_units):
        x = layers.Dense(n, kernel_regularizer=regularizer, name=f"dense{i + 1}")(x)
        x = FusedBatchNormalization(name=f"dense{i + 1}_bn")(x)
        x = layers.Activation(activation, name=f"dense{i + 1}_{activation}")(x)
        x = layers.Dropout(dropout, name=f"dense{i + 1}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="emotion")(x)


def build_study1_cnn(activation: str = "relu", filters=(32, 64, 128, 512), dense_units=(256, 128, 64),
                     dropout: float = 0.1, l2: float = 0.0, augmentation=None, name: str = "study1_cnn",
                     num_classes: int = NUM_CLASSES) -> keras.Model:
    """The first study's network as its code built it (1,909,255 parameters at the defaults)."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs, x = _inputs()
    if augmentation is not None:
        x = augmentation(x)
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, padding="same", kernel_regularizer=regularizer, name=f"conv{i + 1}")(x)
        x = FusedBatchNormalization(name=f"conv{i + 1}_bn")(x)
        x = layers.Activation(activation, name=f"conv{i + 1}_{activation}")(x)
        x = layers.MaxPooling2D(2, name=f"conv{i + 1}_pool")(x)
        x = layers.Dropout(dropout, name=f"conv{i + 1}_dropout")(x)
    return keras.Model(inputs, _dense_head(x, dense_units, activation, dropout, regularizer, num_classes), name=name)


def _squeeze_excite(x, ratio: int, name: str):
    """Squeeze-and-excitation (Hu et al. 2018): rescale each channel by a gate computed from the
    whole map, so a block can weight the features of one face region by what the others show."""
    channels = x.shape[-1]
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    gate = layers.Conv2D(max(channels // ratio, 4), 1, activation="relu", name=f"{name}_reduce")(gate)
    gate = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_expand")(gate)
    return layers.Multiply(name=f"{name}_scale")([x, gate])


def _shortcut(x, channels: int, kind: str, name: str):
    """The residual path past a block. `conv`: mini-Xception's strided 1x1 convolution and batch norm
    (c_in x c_out weights). `pool`: 2x2 average pooling with the new channels zero (no weights), so
    the parameters go to the blocks' own filters instead."""
    if kind == "conv":
        shortcut = layers.Conv2D(channels, 1, strides=2, padding="same", use_bias=False, name=f"{name}_shortcut")(x)
        return FusedBatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    if channels < x.shape[-1]:  # params.yaml's schema refuses such blocks; a direct caller gets this
        raise ArchitectureError(f"a pool shortcut cannot narrow {x.shape[-1]} channels to {channels}")
    shortcut = layers.AveragePooling2D(2, padding="same", name=f"{name}_shortcut_pool")(x)
    return ChannelZeroPad(channels, name=f"{name}_shortcut_pad")(shortcut)


def build_compact(activation: str = "relu", base_filters: int = 8, blocks=(16, 32, 64, 128), dropout: float = 0.1,
                  se_ratio: int = 0, stem_padding: str = "valid", shortcut: str = "conv", l2: float = 0.0,
                  augmentation=None, name: str = "compact_cnn", num_classes: int = NUM_CLASSES) -> keras.Model:
    """Residual depthwise-separable network in the spirit of mini-Xception (about 60k parameters).
    `se_ratio` > 0 adds a squeeze-and-excitation gate to every block; `stem_padding="same"` keeps the
    stem's maps at 48x48 (mini-Xception's unpadded stem shrinks them to 44x44) at no parameter cost;
    `shortcut="pool"` makes the residual paths weight-free (see `_shortcut`)."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs, x = _inputs()
    if augmentation is not None:
        x = augmentation(x)
    for i in range(2):
        x = layers.Conv2D(base_filters, 3, padding=stem_padding, use_bias=False, kernel_regularizer=regularizer,
                          name=f"stem{i + 1}")(x)
        x = FusedBatchNormalization(name=f"stem{i + 1}_bn")(x)
        x = layers.Activation(activation, name=f"stem{i + 1}_{activation}")(x)
    for b, n in enumerate(blocks):
        residual = _shortcut(x, n, shortcut, name=f"block{b + 1}")
        for j in range(2):
            x = layers.SeparableConv2D(n, 3, padding="same", use_bias=False, depthwise_regularizer=regularizer,
                                       pointwise_regularizer=regularizer, name=f"block{b + 1}_sep{j + 1}")(x)
            x = FusedBatchNormalization(name=f"block{b + 1}_sep{j + 1}_bn")(x)
            if j == 0:
                x = layers.Activation(activation, name=f"block{b + 1}_{activation}")(x)
        if se_ratio:
            x = _squeeze_excite(x, se_ratio, name=f"block{b + 1}_se")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{b + 1}_pool")(x)
        x = layers.Add(name=f"block{b + 1}_add")([x, residual])
    x = layers.Conv2D(num_classes, 3, padding="same", name="class_maps")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x) if dropout else x
    outputs = layers.Activation("softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name=name)


def build_vgg(activation: str = "relu", filters=(64, 128, 256, 512), dense_units=(1024, 1024), dropout: float = 0.3,
              l2: float = 0.0, augmentation=None, name: str = "vgg_cnn", num_classes: int = NUM_CLASSES) -> keras.Model:
    """A deeper VGG-style network (two 3x3 convolutions per stage), in the spirit of Khaireddin & Chen 2021."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs, x = _inputs()
    if augmentation is not None:
        x = augmentation(x)
    for i, n in enumerate(filters):
        for j in range(2):
            x = layers.Conv2D(n, 3, padding="same", kernel_regularizer=regularizer, name=f"stage{i + 1}_conv{j + 1}")(x)
            x = FusedBatchNormalization(name=f"stage{i + 1}_conv{j + 1}_bn")(x)
            x = layers.Activation(activation, name=f"stage{i + 1}_conv{j + 1}_{activation}")(x)
        x = layers.MaxPooling2D(2, name=f"stage{i + 1}_pool")(x)
        x = layers.Dropout(dropout / 2, name=f"stage{i + 1}_dropout")(x)
    return keras.Model(inputs, _dense_head(x, dense_units, activation, dropout, regularizer, num_classes), name=name)


def build_augmentation(cfg: AugmentationSection, seed: int) -> keras.Sequential | None:
    """Keras preprocessing layers, active only in training (they pass inputs through at inference,
    except the crop, which takes the centre window). The crop comes after the geometric transforms,
    so their filled borders are mostly cut away. None when every one is off."""
    steps = []
    if cfg.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name="aug_flip"))
    if cfg.rotation:
        steps.append(layers.RandomRotation(cfg.rotation, fill_mode="nearest", seed=seed, name="aug_rotation"))
    if cfg.shift:
        steps.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="nearest", seed=seed, name="aug_shift"))
    if cfg.zoom:
        steps.append(layers.RandomZoom(cfg.zoom, fill_mode="nearest", seed=seed, name="aug_zoom"))
    if cfg.crop:
        steps.append(TrainingRandomCrop(cfg.crop, seed=seed, name="aug_crop"))
    if cfg.contrast:
        steps.append(layers.RandomContrast(cfg.contrast, value_range=(0, 1), seed=seed, name="aug_contrast"))
    return keras.Sequential(steps, name="augmentation") if steps else None


BUILDERS = {"study1": build_study1_cnn, "compact": build_compact, "vgg": build_vgg}


def build_model(cnn: CnnSection, activation: str, augmentation: AugmentationSection | None = None, seed: int = 42,
                name: str | None = None, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The network `cnn.architecture` names, built with its settings in `cnn` (checked by params.yaml's
    schema), this variant's activation and `num_classes` outputs (7 for FER2013 labels, 8 for FER+);
    `augmentation` None: no augmentation layers."""
    if cnn.architecture not in BUILDERS:
        raise ArchitectureError(f"unknown architecture {cnn.architecture!r}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in cnn.settings().items()}
    model = BUILDERS[cnn.architecture](
        activation=activation, l2=cnn.l2, num_classes=num_classes,
        augmentation=build_augmentation(augmentation, seed) if augmentation is not None else None, **kwargs)
    if name:
        model.name = name.replace("-", "_")
    return model
