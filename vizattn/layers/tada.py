"""Causal TAdaConv: temporally adaptive convolution that never looks ahead.

TAdaConv (Huang et al., "Temporally-Adaptive Models for Efficient Video
Understanding") gives each frame its own kernel, calibrated from a shared base
kernel:

    W_t = alpha_t * W_b

``alpha_t`` ``[channels]`` comes from a *routing function* over per-frame
descriptors ``v_t`` (the frame's spatial mean). The paper adds a global
descriptor (the mean over the whole clip), which reads the future; here it is
the **cumulative mean over frames <= t**, and the routing function's temporal
convolutions are **causal** (left-padded; when streaming, the padding is a
buffer of the previous frames). Its last layer is zero-initialized, so
``alpha = 1`` exactly at init and a pretrained network is unchanged.

Versions:

* ``"v1"``: ``conv_a -> LayerNorm -> ReLU -> conv_b`` (the paper's MLP routing,
  with temporal kernels).
* ``"v2"``: adds temporal self-attention after ``conv_a`` (TAdaConvV2), with a
  causal mask bounded to the last ``window`` frames, so streaming needs only a
  buffer of ``window - 1`` keys and values.

Efficient form: calibrating the *input channels* of frame ``t``'s kernel by
``alpha_t`` is, by linearity, the same as scaling frame ``t``'s input channels
before convolving with ``W_b``:

    conv(x_t, alpha_t * W_b) == conv(alpha_t * x_t, W_b)

:class:`TAdaConv2D` uses the efficient form; :func:`tada_conv_direct` is the
per-frame-kernel formula, and the tests prove they agree. Inside MoViNet the
calibration is applied to the input of each block's depthwise feature
convolution, whose first operation in the (2+1)D stream models is the spatial
convolution: exactly TAdaConv on that convolution.

>>> import numpy as np
>>> routing = TAdaRouting("v1")
>>> alpha, states = routing(np.random.rand(1, 5, 4, 4, 16).astype("float32"))
>>> alpha.shape, float(np.abs(alpha.numpy() - 1).max())   # identity at init
(TensorShape([1, 5, 16]), 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tf_keras

from vizattn import _probe
from vizattn._tf import import_tf

tf = import_tf()

__all__ = ["TAdaConv2D", "TAdaRouting", "tada_conv_direct"]

VERSIONS = ("v1", "v2")


def _state(states, name, shape, dtype):
    value = states.get(name)
    return tf.zeros(shape, dtype) if value is None else tf.cast(value, dtype)


@tf_keras.utils.register_keras_serializable(package="vizattn")
class TAdaRouting(tf_keras.layers.Layer):
    """Causal routing function: ``[B, T, H, W, C] -> alpha [B, T, C]``.

    Args:
      version: ``"v1"`` (MLP routing) or ``"v2"`` (with causal temporal
        self-attention).
      reduction: channel reduction of the hidden routing features.
      kernels: temporal kernel sizes of the two causal convolutions.
      heads: attention heads (v2).
      window: frames the v2 attention may look back over, including ``t``.
      min_hidden: smallest hidden width.
      state_prefix: prefix of the stream-state names.

    Call:
      ``routing(inputs, states=None) -> (alpha, states)``.

    Captured kinds: ``tada`` (``alpha`` ``[batch, time, channels]``) and, for
    v2, ``tada_attention`` ``[batch, heads, time, sources]``, where sources are
    the ``window - 1`` buffered frames followed by the ``time`` current ones.
    """

    def __init__(
        self,
        version: str = "v1",
        reduction: int = 4,
        kernels: Sequence[int] = (3, 3),
        heads: int = 2,
        window: int = 16,
        min_hidden: int = 8,
        state_prefix: str = "state",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if version not in VERSIONS:
            raise ValueError(f"unknown TAda version {version!r}; use 'v1' or 'v2'.")
        kernels = tuple(int(k) for k in kernels)
        if len(kernels) != 2 or min(kernels) < 1:
            raise ValueError(f"kernels must be two sizes >= 1, got {kernels!r}.")
        if int(window) < 1 or int(heads) < 1:
            raise ValueError(f"window and heads must be >= 1, got {window!r}, {heads!r}.")
        self.version = version
        self.reduction = int(reduction)
        self.kernels = kernels
        self.heads = int(heads)
        self.window = int(window)
        self.min_hidden = int(min_hidden)
        self.state_prefix = state_prefix

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "version": self.version,
                "reduction": self.reduction,
                "kernels": list(self.kernels),
                "heads": self.heads,
                "window": self.window,
                "min_hidden": self.min_hidden,
                "state_prefix": self.state_prefix,
            }
        )
        return config

    def hidden_size(self, channels: int) -> int:
        hidden = max(self.min_hidden, math.ceil(channels / self.reduction))
        return int(math.ceil(hidden / self.heads) * self.heads)

    def _names(self) -> dict[str, str]:
        p = f"{self.state_prefix}_tada"
        return {
            k: f"{p}_{k}" for k in ("sum", "frame_count", "buffer_a", "buffer_b", "keys", "values")
        }

    def state_shapes(self, batch, channels) -> dict[str, tuple]:
        """Names and shapes of the stream states; ``frame_count`` is int32."""
        names, hidden = self._names(), self.hidden_size(channels)
        ka, kb = self.kernels
        shapes = {names["sum"]: (batch, channels), names["frame_count"]: (1,)}
        if ka > 1:
            shapes[names["buffer_a"]] = (batch, ka - 1, channels)
        if kb > 1:
            shapes[names["buffer_b"]] = (batch, kb - 1, hidden)
        if self.version == "v2" and self.window > 1:
            shapes[names["keys"]] = (batch, self.window - 1, hidden)
            shapes[names["values"]] = (batch, self.window - 1, hidden)
        return shapes

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = self.hidden_size(channels)
        ka, kb = self.kernels
        self.conv_a = tf_keras.layers.Conv1D(hidden, ka, padding="valid", name="conv_a")
        self.norm = tf_keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        if self.version == "v2":
            self.norm_attention = tf_keras.layers.LayerNormalization(
                epsilon=1e-6, name="norm_attention"
            )
            self.qkv = tf_keras.layers.Dense(3 * hidden, name="qkv")
            self.attention_out = tf_keras.layers.Dense(hidden, name="attention_out")
        self.conv_b = tf_keras.layers.Conv1D(
            channels, kb, padding="valid", use_bias=False, kernel_initializer="zeros", name="conv_b"
        )
        super().build(input_shape)

    def _causal_conv(self, conv, x, states, name, kernel):
        """``conv`` with causal padding; the padding is the stream buffer."""
        if kernel == 1:
            return conv(x), states
        shape = tf.stack([tf.shape(x)[0], kernel - 1, tf.shape(x)[2]])
        padded = tf.concat([_state(states, name, shape, x.dtype), x], axis=1)
        return conv(padded), {**states, name: padded[:, -(kernel - 1) :]}

    def _attention(self, y, states, seen):
        names = self._names()
        batch, time, hidden = tf.shape(y)[0], tf.shape(y)[1], y.shape[-1]
        d = hidden // self.heads
        q, k, v = tf.split(self.qkv(self.norm_attention(y)), 3, axis=-1)
        w1 = self.window - 1
        if w1 > 0:
            shape = tf.stack([batch, w1, hidden])
            k = tf.concat([_state(states, names["keys"], shape, y.dtype), k], axis=1)
            v = tf.concat([_state(states, names["values"], shape, y.dtype), v], axis=1)
            states = {**states, names["keys"]: k[:, -w1:], names["values"]: v[:, -w1:]}

        def heads(t):
            return tf.transpose(tf.reshape(t, [batch, -1, self.heads, d]), [0, 2, 1, 3])

        scores = tf.matmul(heads(q), heads(k), transpose_b=True) / math.sqrt(d)
        src = tf.range(w1 + time) - w1
        t_idx = tf.range(time)
        allowed = (
            (src[None, :] <= t_idx[:, None])
            & (src[None, :] > t_idx[:, None] - self.window)
            & (src >= -seen)[None, :]
        )
        scores = tf.where(allowed[None, None], scores, tf.constant(-1e9, scores.dtype))
        attention = tf.nn.softmax(scores, axis=-1)
        _probe.emit(self, "tada_attention", attention, meta={"window": self.window})
        out = tf.matmul(attention, heads(v))
        out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [batch, time, hidden])
        return y + self.attention_out(out), states

    def call(self, inputs, states=None):
        states = dict(states) if states is not None else {}
        names = self._names()
        x = tf.convert_to_tensor(inputs)
        dtype = x.dtype
        batch, time, channels = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[4]
        count = tf.cast(_state(states, names["frame_count"], [1], tf.int32), tf.int32)
        seen = count[0]

        # Per-frame descriptor and causal global descriptor (cumulative mean).
        v = tf.reduce_mean(x, axis=[2, 3])
        total = _state(states, names["sum"], tf.stack([batch, channels]), dtype)
        csum = total[:, None, :] + tf.cumsum(v, axis=1)
        frames = tf.cast(seen + tf.range(1, time + 1), dtype)
        g = csum / frames[None, :, None]
        states = {**states, names["sum"]: csum[:, -1], names["frame_count"]: count + time}

        ka, kb = self.kernels
        y, states = self._causal_conv(self.conv_a, v + g, states, names["buffer_a"], ka)
        y = self.norm(y)
        if self.version == "v1":
            y = tf.nn.relu(y)
        else:
            y = tf.nn.gelu(y)
            y, states = self._attention(y, states, seen)
        out, states = self._causal_conv(self.conv_b, y, states, names["buffer_b"], kb)
        alpha = 1.0 + out
        _probe.emit(self, "tada", alpha)
        return alpha, states


@tf_keras.utils.register_keras_serializable(package="vizattn")
class TAdaConv2D(tf_keras.layers.Layer):
    """Temporally adaptive 2D convolution over ``[batch, time, height, width, channels]``.

    Each frame ``t`` is convolved with ``alpha_t * W_b`` (input-channel
    calibration), computed in the efficient form ``conv(alpha_t * x_t, W_b)``.

    Args:
      filters: output channels (ignored when ``depthwise``).
      kernel_size: spatial kernel size.
      depthwise: depthwise convolution (as in MoViNet's feature convolution).
      strides: spatial strides.
      padding: ``"same"`` or ``"valid"``.
      use_bias: add a bias (not calibrated).
      routing: keyword arguments of :class:`TAdaRouting` (``version`` etc.).

    Call:
      ``layer(inputs, states=None) -> (outputs, states)``.
    """

    def __init__(
        self,
        filters: int | None = None,
        kernel_size: int | Sequence[int] = 3,
        depthwise: bool = False,
        strides: int = 1,
        padding: str = "same",
        use_bias: bool = True,
        routing: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not depthwise and not filters:
            raise ValueError("filters is required unless depthwise=True.")
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.filters = filters
        self.kernel_size = tuple(int(k) for k in ks)
        self.depthwise = bool(depthwise)
        self.strides = int(strides)
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.routing_config = dict(routing or {})
        self.routing = TAdaRouting(**self.routing_config, name="routing")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": list(self.kernel_size),
                "depthwise": self.depthwise,
                "strides": self.strides,
                "padding": self.padding,
                "use_bias": self.use_bias,
                "routing": self.routing_config,
            }
        )
        return config

    def build(self, input_shape):
        cin = int(input_shape[-1])
        cout = cin if self.depthwise else int(self.filters)
        shape = (*self.kernel_size, cin, 1 if self.depthwise else cout)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="he_normal")
        self.bias = (
            self.add_weight(name="bias", shape=(cout,), initializer="zeros")
            if self.use_bias
            else None
        )
        super().build(input_shape)

    def call(self, inputs, states=None):
        x = tf.convert_to_tensor(inputs)
        alpha, states = self.routing(x, states=states)
        x = x * alpha[:, :, None, None, :]
        shape = tf.shape(x)
        flat = tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))
        strides = [1, self.strides, self.strides, 1]
        pad = self.padding.upper()
        if self.depthwise:
            y = tf.nn.depthwise_conv2d(flat, self.kernel, strides, pad)
        else:
            y = tf.nn.conv2d(flat, self.kernel, strides, pad)
        if self.bias is not None:
            y = y + self.bias
        y = tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], axis=0))
        return y, states


def tada_conv_direct(x, kernel, alpha, bias=None, *, depthwise=False, strides=1, padding="SAME"):
    """The per-frame-kernel form: frame ``t`` convolved with ``alpha_t * W_b``.

    Slow and literal, for tests. ``x`` ``[B, T, H, W, Cin]``, ``alpha``
    ``[B, T, Cin]``, ``kernel`` ``[kh, kw, Cin, Cout]`` (or ``[kh, kw, C, 1]``
    when depthwise).
    """
    outs = []
    for b in range(x.shape[0]):
        frames = []
        for t in range(x.shape[1]):
            w_t = alpha[b, t][None, None, :, None] * kernel
            conv = tf.nn.depthwise_conv2d if depthwise else tf.nn.conv2d
            y = conv(x[b : b + 1, t], w_t, [1, strides, strides, 1], padding)
            frames.append(y if bias is None else y + bias)
        outs.append(tf.stack(frames, axis=1))
    return tf.concat(outs, axis=0)
