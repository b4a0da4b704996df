"""Model builders: the study's exact network, the compact and VGG budgets, scaling inside the model,
augmentation that changes training batches but not inference."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from facial_emotion.evaluation.ensemble import build_ensemble, horizontal_flip_layer  # noqa: E402
from facial_emotion.models.architectures import (ArchitectureError, build_augmentation, build_compact,  # noqa: E402
                                                 build_model, build_study1_cnn, build_vgg)
from facial_emotion.models.layers import TrainingRandomCrop  # noqa: E402
from facial_emotion.models.callbacks import Clock  # noqa: E402
from facial_emotion.models.rates import learning_rate_policy  # noqa: E402
from facial_emotion.models.training import make_optimizer  # noqa: E402
from facial_emotion.recipes import recipe_params  # noqa: E402
from tests.support.sections import changed, defaults  # noqa: E402


@pytest.fixture(scope="module")
def cnn_params():
    return defaults().cnn


def _augmentation(**on):
    """params.yaml's augmentation (all off) with `on` set."""
    return changed(defaults().augmentation, **on)


@pytest.mark.parametrize("activation", ["relu", "elu"])
def test_study1_cnn_is_the_studys_network(activation):
    model = build_study1_cnn(activation=activation)
    assert model.count_params() == 1_909_255
    assert isinstance(model.layers[1], keras.layers.Rescaling)
    assert model.layers[1].scale == pytest.approx(1 / 255)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 4
    assert {layer.activation.__name__ for layer in model.layers
            if isinstance(layer, keras.layers.Activation)} == {activation}


def test_default_params_build_the_study1_network(cnn_params):
    assert cnn_params.architecture == "study1"
    assert build_model(cnn_params, "relu").count_params() == 1_909_255


def test_budgets():
    assert build_compact().count_params() == 58_423  # the mini-Xception layout, about 60k
    assert build_compact(base_filters=16, blocks=(32, 64, 96, 128)).count_params() == 91_943  # the CPU recipe's
    assert build_compact(base_filters=16, blocks=(32, 64, 96, 128), se_ratio=8).count_params() == 99_983
    assert build_vgg().count_params() > 5_000_000


def test_the_cpu_recipe_builds_a_compact_network_under_100k_parameters():
    params = recipe_params("cpu")  # the schema accepts the recipe (AdamW with decay, a cosine over its epochs)
    assert params.cnn.architecture == "compact"
    assert any(params.augmentation.model_dump().values())
    model = build_model(params.cnn, "relu", params.augmentation)
    assert model.count_params() == 98_412 < 100_000  # the figure docs/experiments/cpu-recipe.md gives
    # Its training options are valid for this network, made the way fit makes them: a recipe line that
    # set weight decay without AdamW, or excluded a weight name this model lacks, fails here.
    train = params.train
    learning_rate, _ = learning_rate_policy(train, steps_per_epoch=10, epochs=train.epochs, clock=Clock())
    optimizer = make_optimizer(train, learning_rate, model=model)
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.use_ema
    assert train.mixup > 0 and train.restore == "last"
    assert 0 < params.split.val_fraction < 0.1


def test_unknown_architecture_is_a_clear_error(cnn_params):
    with pytest.raises(ArchitectureError, match="unknown architecture 'resnet'"):  # past the schema's check
        build_model(cnn_params.model_copy(update={"architecture": "resnet"}), "relu")


def test_model_takes_raw_pixels():
    """A uint8 face and the same face as float 0-255 give the same output: scaling is inside."""
    model = build_compact()
    faces = np.random.default_rng(0).integers(0, 256, size=(3, 48, 48, 1)).astype(np.uint8)
    out = np.asarray(model(faces.astype(np.float32), training=False))
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(out, np.asarray(model(faces.astype(np.float64), training=False)), atol=1e-6)


def test_augmentation_changes_training_batches_only():
    augmentation = build_augmentation(_augmentation(flip=True, rotation=0.1, shift=0.1, zoom=0.1, contrast=0.2),
                                      seed=1)
    assert len(augmentation.layers) == 5
    x = np.random.default_rng(0).random((8, 48, 48, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(augmentation(x, training=False)), x)
    assert not np.allclose(np.asarray(augmentation(x, training=True)), x)
    model = build_compact(augmentation=augmentation)
    assert model.get_layer("augmentation") is augmentation
    np.testing.assert_array_equal(np.asarray(model(x * 255, training=False)),
                                  np.asarray(model(x * 255, training=False)))
    assert build_augmentation(defaults().augmentation, seed=1) is None


def test_flip_layer_is_an_exact_mirror():
    x = np.random.default_rng(2).integers(0, 256, size=(2, 48, 48, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(horizontal_flip_layer()(x)), x[:, :, ::-1])


def test_ensemble_is_the_mean_of_its_members():
    members = [build_compact(name="a"), build_compact(name="b"), build_compact(name="c")]
    x = np.random.default_rng(3).integers(0, 256, size=(4, 48, 48, 1)).astype(np.float32)
    expected = np.mean([np.asarray(m(x, training=False)) for m in members], axis=0)
    np.testing.assert_allclose(np.asarray(build_ensemble(members)(x, training=False)), expected, atol=1e-6)


def test_squeeze_excite_gates_every_compact_block():
    model = build_compact(blocks=(16, 32, 64, 128), se_ratio=8)
    gates = [layer for layer in model.layers if isinstance(layer, keras.layers.Multiply)]
    assert [gate.name for gate in gates] == [f"block{b}_se_scale" for b in range(1, 5)]
    # channels / 8, at least 4
    assert [model.get_layer(f"block{b}_se_reduce").filters for b in range(1, 5)] == [4, 4, 8, 16]
    assert not any(isinstance(layer, keras.layers.Multiply) for layer in build_compact().layers)  # 0 = off, the default
    x = np.random.default_rng(6).integers(0, 256, size=(2, 48, 48, 1)).astype(np.float32)
    gate = keras.Model(model.inputs[0], model.get_layer("block1_se_expand").output)(x)
    assert np.all((np.asarray(gate) > 0) & (np.asarray(gate) < 1))  # a sigmoid gate per channel


def test_same_stem_padding_keeps_48x48_maps_at_the_same_parameter_count():
    valid, same = build_compact(), build_compact(stem_padding="same")
    assert valid.get_layer("stem2").output.shape[1:3] == (44, 44)  # mini-Xception's unpadded stem
    assert same.get_layer("stem2").output.shape[1:3] == (48, 48)
    assert same.count_params() == valid.count_params()


def test_pool_shortcuts_carry_no_weights_and_pass_the_input_through():
    conv, pool = build_compact(), build_compact(shortcut="pool")
    # mini-Xception's four 1x1 projections (8x16, 16x32, 32x64, 64x128) and their batch norms are gone
    assert conv.count_params() - pool.count_params() == \
        (8 * 16 + 16 * 32 + 32 * 64 + 64 * 128) + 4 * (16 + 32 + 64 + 128)
    assert build_compact(base_filters=16, blocks=(32, 64, 112, 152), se_ratio=8, stem_padding="same",
                         shortcut="pool").count_params() == 98_412  # the width this frees, spent on blocks 3 and 4
    x = np.random.default_rng(7).normal(size=(2, 44, 44, 8)).astype(np.float32)
    inner = keras.Model(pool.get_layer("block1_shortcut_pool").input, pool.get_layer("block1_shortcut_pad").output)
    out = np.asarray(inner(x))
    assert out.shape == (2, 22, 22, 16)
    np.testing.assert_allclose(out[..., :8], x.reshape(2, 22, 2, 22, 2, 8).mean(axis=(2, 4)), rtol=1e-5, atol=1e-6)
    assert not out[..., 8:].any()  # the block's new channels start from zero on the residual path


def test_a_pool_shortcut_cannot_narrow_a_block():
    with pytest.raises(ArchitectureError, match="cannot narrow 32 channels to 24"):
        build_compact(blocks=(16, 32, 24, 64), shortcut="pool")


def test_crop_takes_one_random_window_per_face_in_training_and_the_centre_at_inference():
    augmentation = build_augmentation(_augmentation(flip=False, crop=40), seed=7)
    x = np.arange(32 * 48 * 48, dtype=np.float32).reshape(32, 48, 48, 1)  # every pixel value unique
    np.testing.assert_array_equal(np.asarray(augmentation(x, training=False)), x[:, 4:44, 4:44])
    out = np.asarray(augmentation(x, training=True))
    assert out.shape == (32, 40, 40, 1)
    corners = set()
    for i, window in enumerate(out):
        top, left = divmod(int(window[0, 0, 0]) - i * 48 * 48, 48)
        assert 0 <= top <= 8 and 0 <= left <= 8
        np.testing.assert_array_equal(window, x[i, top:top + 40, left:left + 40])  # a window of its own face
        corners.add((top, left))
    assert len(corners) > 8, "windows are drawn per face, not one per batch"
    again = np.asarray(augmentation(x, training=True))
    assert not np.array_equal(again, out), "a new draw every batch"


def test_crop_can_pass_the_whole_face_at_inference():
    crop = TrainingRandomCrop(40, seed=1, at_inference="whole")
    x = np.random.default_rng(9).random((2, 48, 48, 1)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(crop(x, training=False)), x)
    assert np.asarray(crop(x, training=True)).shape == (2, 40, 40, 1)
    assert TrainingRandomCrop.from_config(crop.get_config()).at_inference == "whole"
    with pytest.raises(ValueError, match="at_inference"):
        TrainingRandomCrop(40, at_inference="resize")


def test_crop_keeps_the_compact_parameter_count_and_builds_every_architecture():
    settings = dict(base_filters=8, blocks=[16, 32, 48, 64], se_ratio=8, stem_padding="same", shortcut="pool")
    cnn = changed(defaults().cnn, architecture="compact", compact=settings)
    plain = build_model(cnn, "relu", _augmentation(flip=True))
    cropped = build_model(cnn, "relu", _augmentation(flip=True, crop=40))
    assert cropped.count_params() == plain.count_params()  # a global-average head: no size-bound weights
    assert isinstance(cropped.get_layer("augmentation").layers[-1], TrainingRandomCrop)
    faces = np.random.default_rng(8).integers(0, 256, size=(4, 48, 48, 1)).astype(np.float32)
    for training in (True, False):
        out = np.asarray(cropped(faces, training=training))
        assert out.shape == (4, 7)
        np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(cropped(faces, training=False)),
                                  np.asarray(cropped(faces, training=False)))
    # the flattened heads see 40x40 maps in training and at inference alike: fewer dense inputs
    study1 = build_model(defaults().cnn, "relu", _augmentation(crop=40))
    assert study1.count_params() < 1_909_255
    assert np.asarray(study1(faces, training=True)).shape == np.asarray(study1(faces, training=False)).shape == (4, 7)
