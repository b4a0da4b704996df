"""Custom Keras layers: batch normalisation on TensorFlow's fused kernel, and zero channel padding.

Keras 3 computes BatchNormalization op by op (moments, then about ten element-wise ops, each a
pass over the activations, and as many again backwards). On a 2-core CPU that was half the
training time of the compact network. TensorFlow's FusedBatchNormV3 does the same maths in one
op. This layer is Keras' own BatchNormalization (same weights, config and moving averages) with
only the forward computation swapped, so a saved model loads anywhere this module is imported.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="facial_emotion")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization, computed by `tf.nn.fused_batch_norm` on the channels-last axis.

    Falls back to the stock computation where the fused kernel does not apply: another backend,
    another axis, masks, renormalisation, synchronised statistics, or no scale/centre.
    """

    def _fusable(self, inputs, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm and not self.synchronized
                and self.center and self.scale and len(inputs.shape) in (2, 4)
                and self.axis in (-1, len(inputs.shape) - 1) and self.epsilon > 1.001e-5)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        flat = len(inputs.shape) == 2
        if flat:  # the fused kernel takes 4-D input: treat [n, c] as n images of 1x1 pixels
            x = x[:, None, None, :]
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, epsilon=self.epsilon,
                                                                  is_training=True)
            # The kernel returns the unbiased variance; Keras averages the biased one.
            count = tf.cast(tf.size(x) // tf.shape(x)[-1], "float32")
            variance = variance * (count - 1.0) / count
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, mean=self.moving_mean,
                                                        variance=self.moving_variance, epsilon=self.epsilon,
                                                        is_training=False)
        if flat:
            y = y[:, 0, 0, :]
        return tf.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="facial_emotion")
class ChannelZeroPad(keras.layers.Layer):
    """Append all-zero channels up to `channels`: the parameter-free projection of a residual
    shortcut (He et al. 2016, option A), so a wider block adds its new channels to nothing."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.channels)

    def call(self, inputs):
        extra = self.channels - inputs.shape[-1]
        return keras.ops.pad(inputs, [[0, 0]] * (len(inputs.shape) - 1) + [[0, extra]]) if extra else inputs

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="facial_emotion")
class TrainingRandomCrop(keras.layers.Layer):
    """A random `size` x `size` window of every face in training, drawn per face; the centre window
    at inference (the FER2013 papers' 40- or 44-pixel random crops). Training on the smaller window
    costs about (size / 48)^2 of the compute. `at_inference="whole"` passes the whole face instead,
    which a network ending in a global average also takes; benchmarks/train_crop.py measured it
    worse than the centre window, so centre is the default. Keras' RandomCrop draws one window per
    batch and resizes at inference, which is why it is not used here."""

    def __init__(self, size: int, seed: int | None = None, at_inference: str = "centre", **kwargs):
        super().__init__(**kwargs)
        if at_inference not in ("centre", "whole"):
            raise ValueError(f"at_inference must be centre or whole, not {at_inference!r}")
        self.size, self.seed, self.at_inference = int(size), seed, at_inference
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compute_output_shape(self, input_shape):
        if self.at_inference == "whole":  # size in training, the input's at inference
            return (input_shape[0], None, None, input_shape[-1])
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def call(self, inputs, training=None):
        import tensorflow as tf

        shape = tf.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        if not training:
            if self.at_inference == "whole":
                return inputs
            top, left = (height - self.size) // 2, (width - self.size) // 2
            return inputs[:, top:top + self.size, left:left + self.size, :]
        tops = keras.random.randint([batch], 0, height - self.size + 1, dtype="int32", seed=self.seed_generator)
        lefts = keras.random.randint([batch], 0, width - self.size + 1, dtype="int32", seed=self.seed_generator)
        window = tf.range(self.size)
        rows = tf.gather(inputs, tops[:, None] + window, axis=1, batch_dims=1)
        return tf.gather(rows, lefts[:, None] + window, axis=2, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed, "at_inference": self.at_inference}
