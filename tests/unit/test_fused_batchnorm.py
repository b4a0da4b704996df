"""FusedBatchNormalization is Keras' BatchNormalization on TensorFlow's fused kernel: the same
outputs, gradients and moving averages, and a saved model that loads back through the project's
loader."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from facial_emotion.models.layers import FusedBatchNormalization  # noqa: E402
from facial_emotion.models.store import load_keras_model  # noqa: E402


def _pair(shape, **kwargs):
    stock, fused = keras.layers.BatchNormalization(**kwargs), FusedBatchNormalization(**kwargs)
    stock.build(shape)
    fused.build(shape)
    return stock, fused


def _inputs(shape, seed=0):
    return (np.random.default_rng(seed).normal(size=shape) * 3 + 1).astype("float32")


@pytest.mark.parametrize("shape", [(16, 6, 6, 5), (32, 9)])
def test_same_outputs_and_moving_averages_as_keras(shape):
    stock, fused = _pair(shape, momentum=0.9)
    for step in range(3):
        x = _inputs(shape, step)
        np.testing.assert_allclose(stock(x, training=True), fused(x, training=True), atol=1e-5)
    for a, b in zip(stock.weights, fused.weights):
        assert a.name == b.name
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    x = _inputs(shape, 9)
    np.testing.assert_allclose(stock(x, training=False), fused(x, training=False), atol=1e-5)


def test_same_gradients_as_keras():
    shape = (8, 5, 5, 4)
    stock, fused = _pair(shape)
    x = tf.constant(_inputs(shape))
    grads = []
    for layer in (stock, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) ** 3)
        grads.append(tape.gradient(loss, [x, layer.gamma.value, layer.beta.value]))
    for a, b in zip(*grads):
        # A gamma gradient is a sum over 200 products that can nearly cancel (-0.067 beside -115), so
        # float32 rounding, which can differ by CPU (summation order), is bounded by
        # the gradients' scale, not by each value: 1e-4 absolute failed on an AVX2 machine.
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max()))


def test_falls_back_to_keras_where_the_kernel_does_not_apply():
    shape = (4, 3, 6, 6)  # channels first: the fused kernel here is channels-last only
    stock, fused = _pair(shape, axis=1)
    x = _inputs(shape)
    assert not fused._fusable(x, None)
    np.testing.assert_allclose(stock(x, training=True), fused(x, training=True), atol=1e-6)


def test_frozen_layer_uses_its_moving_averages():
    shape = (16, 4, 4, 3)
    stock, fused = _pair(shape)
    stock.trainable = fused.trainable = False
    x = _inputs(shape)
    np.testing.assert_allclose(stock(x, training=True), fused(x, training=True), atol=1e-5)
    np.testing.assert_allclose(fused.moving_mean.numpy(), 0.0)


def test_saved_model_loads_back_with_the_fused_layer(tmp_path):
    inputs = keras.Input((6, 6, 2))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(FusedBatchNormalization(name="bn")(inputs)))
    model = keras.Model(inputs, outputs)
    model(_inputs((8, 6, 6, 2)), training=True)
    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("bn"), FusedBatchNormalization)
    x = _inputs((5, 6, 6, 2), 3)
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)
