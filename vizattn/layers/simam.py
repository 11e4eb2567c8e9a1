"""Causal SimAM for streaming video: where the statistics come from is the whole story.

SimAM (Yang et al., ICML 2021) weighs every neuron by an energy computed from
its channel's statistics, with no parameters:

    e* = 4 (sigma^2 + lambda) / ((x - mu)^2 + 2 sigma^2 + 2 lambda)
    out = x * sigmoid(1 / e*)

with ``mu`` the channel mean and ``sigma^2 = sum (x - mu)^2 / n`` summed over
the ``n = N - 1`` other neurons. ``1 / e*`` simplifies to
``(x - mu)^2 / (4 (sigma^2 + lambda)) + 0.5``, which is what is computed.

For video ``[batch, time, height, width, channels]`` the only question that
matters for causality is *over which positions* ``mu`` and ``sigma^2`` are taken:

========== ======================================= ===========================
mode       statistics of output frame ``t`` from    streaming state
========== ======================================= ===========================
frame      frame ``t`` only (H x W)                 none
cumulative every position of frames ``<= t``        running (count, mean, M2)
window     frames ``t-k+1 .. t``                    last ``k-1`` frame summaries
clip       all of ``T x H x W``                     -- (reads the future!)
========== ======================================= ===========================

``mode="clip"`` is the naive 3D port of SimAM. It is *not causal*: frame ``t``
changes when a later frame changes. It exists as the counter-example for the
causal-masking explainer and :func:`vizattn.check_causal` flags it.

>>> import numpy as np
>>> layer = CausalSimAM(mode="cumulative")
>>> y, states = layer(np.random.rand(1, 4, 8, 8, 3).astype("float32"))
>>> y.shape, sorted(states)
(TensorShape([1, 4, 8, 8, 3]), ['state_simam_frame_count', 'state_simam_m2', 'state_simam_mean'])

Streaming follows Model Garden's contract: ``call(inputs, states=None)``
returns ``(outputs, states)``; feeding the returned states with the next chunk
gives exactly what the whole clip would have given.

Options: a learnable ``lambda`` (kept positive as ``exp(log_lambda)``), and
multi-scale statistics (``scales=(1, 0.5, 0.25)``): attention is computed on
resized frames and averaged, with sizes computed on int32 shapes *after*
casting to float, so it works with dynamic shapes inside ``tf.function`` and
inside ``movinet.Movinet`` (the crash in the user's MultiScaleCausalSimAM was
a float scale multiplied by an int32 shape).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tf_keras

from vizattn import _probe
from vizattn._tf import import_tf
from vizattn.layers._stats import frame_stats, merge_stats

tf = import_tf()

__all__ = ["MODES", "CausalSimAM", "simam_reference"]

MODES = ("frame", "cumulative", "window", "clip")
CAUSAL_MODES = ("frame", "cumulative", "window")


def simam_reference(x, e_lambda: float = 1e-4, axes=(2, 3)):
    """The SimAM formula, written directly (NumPy), for tests and explainers.

    Args:
      x: array ``[batch, time, height, width, channels]``.
      e_lambda: the regularizer ``lambda``.
      axes: axes over which ``mu`` and ``sigma^2`` are taken; ``(2, 3)`` is
        per frame, ``(1, 2, 3)`` is the whole clip.

    Returns:
      ``(output, energy)``, both shaped like ``x``.

    >>> import numpy as np
    >>> out, e = simam_reference(np.ones((1, 1, 2, 2, 1)))
    >>> float(e.min()) == 2.0   # constant input: e* = 4 lambda / 2 lambda
    True
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    n = np.prod([x.shape[a] for a in axes]) - 1
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=axes, keepdims=True) / n
    energy = 4 * (var + e_lambda) / ((x - mu) ** 2 + 2 * var + 2 * e_lambda)
    return x * (1 / (1 + np.exp(-1 / energy))), energy


def _resize_frames(x, size):
    """Bilinear resize of ``[B, T, H, W, C]`` to ``size`` (int32 ``[2]``)."""
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))
    out = tf.image.resize(flat, size, method="bilinear")
    return tf.reshape(out, tf.concat([shape[:2], tf.shape(out)[1:]], axis=0))


@tf_keras.utils.register_keras_serializable(package="vizattn")
class CausalSimAM(tf_keras.layers.Layer):
    """Parameter-free SimAM attention for ``[batch, time, height, width, channels]``.

    Args:
      mode: ``"frame"``, ``"cumulative"``, ``"window"`` or ``"clip"`` (see the
        module docstring; ``"clip"`` reads future frames).
      e_lambda: the SimAM regularizer ``lambda`` (its initial value when
        ``learnable_lambda``).
      window: frames in the window for ``mode="window"``.
      scales: spatial scales whose attentions are averaged; ``(1.0,)`` is plain
        SimAM.
      learnable_lambda: learn ``lambda`` (as ``exp(log_lambda)``, always > 0).
      state_prefix: prefix of this layer's stream-state names (Model Garden
        style, e.g. ``"state_block3_layer1"``).

    Call:
      ``layer(inputs, states=None) -> (outputs, states)``.

    Captured kinds (see :func:`vizattn.capture`): ``simam`` (the attention
    ``sigmoid(1/e*)``), ``simam_energy`` (``e*``) and ``simam_input``, all
    ``[batch, time, height, width, channels]``.
    """

    def __init__(
        self,
        mode: str = "frame",
        e_lambda: float = 1e-4,
        window: int = 4,
        scales: Sequence[float] = (1.0,),
        learnable_lambda: bool = False,
        state_prefix: str = "state",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown SimAM mode {mode!r}; use one of {', '.join(MODES)}.")
        if not e_lambda > 0:
            raise ValueError(f"e_lambda must be > 0, got {e_lambda!r}.")
        if int(window) < 1:
            raise ValueError(f"window must be >= 1 frame, got {window!r}.")
        scales = tuple(float(s) for s in scales)
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"scales must be in (0, 1], got {scales!r}.")
        self.mode = mode
        self.e_lambda = float(e_lambda)
        self.window = int(window)
        self.scales = scales
        self.learnable_lambda = bool(learnable_lambda)
        self.state_prefix = state_prefix

    @property
    def causal(self) -> bool:
        """Whether output frame ``t`` depends only on frames ``<= t``."""
        return self.mode in CAUSAL_MODES

    def build(self, input_shape):
        if self.learnable_lambda:
            self.log_lambda = self.add_weight(
                name="log_lambda",
                shape=(),
                initializer=tf_keras.initializers.Constant(math.log(self.e_lambda)),
                trainable=True,
            )
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "e_lambda": self.e_lambda,
                "window": self.window,
                "scales": list(self.scales),
                "learnable_lambda": self.learnable_lambda,
                "state_prefix": self.state_prefix,
            }
        )
        return config

    # -- streaming state ---------------------------------------------------
    def _state_names(self, scale_index: int) -> dict[str, str]:
        suffix = f"_s{scale_index}" if len(self.scales) > 1 else ""
        p = f"{self.state_prefix}_simam"
        return {
            "mean": f"{p}_mean{suffix}",
            "m2": f"{p}_m2{suffix}",
            "count": f"{p}_frame_count{suffix}",
        }

    def state_shapes(self, batch, channels) -> dict[str, tuple]:
        """Names and shapes of the stream states; ``frame_count`` ones are int32."""
        if self.mode == "cumulative":
            stat_shape = (batch, channels)
        elif self.mode == "window" and self.window > 1:
            stat_shape = (batch, self.window - 1, channels)
        else:
            return {}
        shapes = {}
        for i in range(len(self.scales)):
            names = self._state_names(i)
            shapes[names["mean"]] = stat_shape
            shapes[names["m2"]] = stat_shape
            shapes[names["count"]] = (1,)
        return shapes

    # -- statistics --------------------------------------------------------
    def _lambda(self, dtype):
        if self.learnable_lambda:
            return tf.cast(tf.exp(self.log_lambda) + 1e-12, dtype)
        return tf.constant(self.e_lambda, dtype)

    def _stats(self, x, states, scale_index):
        """Returns ``(n, mean, m2)`` broadcastable against ``x`` and new states."""
        if self.mode == "frame":
            n_f, mean, m2 = frame_stats(x)
            return n_f, mean[:, :, None, None, :], m2[:, :, None, None, :], states
        if self.mode == "clip":
            mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
            d = x - mean
            m2 = tf.reduce_sum(d * d, axis=[1, 2, 3], keepdims=True)
            shape = tf.shape(x)
            return tf.cast(shape[1] * shape[2] * shape[3], x.dtype), mean, m2, states
        if self.mode == "window" and self.window == 1:
            n_f, mean, m2 = frame_stats(x)
            return n_f, mean[:, :, None, None, :], m2[:, :, None, None, :], states

        names = self._state_names(scale_index)
        n_f, f_mean, f_m2 = frame_stats(x)
        batch, time, channels = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[4]
        dtype = x.dtype
        count = states.get(names["count"])
        count = tf.zeros([1], tf.int32) if count is None else tf.cast(count, tf.int32)
        seen = count[0]
        t_idx = tf.range(time)

        if self.mode == "cumulative":
            p_shape = tf.stack([batch, channels])
            p_mean = states.get(names["mean"])
            p_m2 = states.get(names["m2"])
            p_mean = tf.zeros(p_shape, dtype) if p_mean is None else tf.cast(p_mean, dtype)
            p_m2 = tf.zeros(p_shape, dtype) if p_m2 is None else tf.cast(p_m2, dtype)
            prior_n = tf.cast(seen, dtype) * n_f
            counts = tf.concat([prior_n[None], tf.fill([time], n_f)], axis=0)
            means = tf.concat([p_mean[:, None], f_mean], axis=1)
            m2s = tf.concat([p_m2[:, None], f_m2], axis=1)
            src = tf.range(time + 1) - 1  # -1 is the running summary
            weights = tf.cast(src[None, :] <= t_idx[:, None], dtype)
            n, mean, m2 = merge_stats(counts, means, m2s, weights)
            new = {names["mean"]: mean[:, -1], names["m2"]: m2[:, -1]}
        else:  # window
            k1 = self.window - 1
            b_shape = tf.stack([batch, k1, channels])
            b_mean = states.get(names["mean"])
            b_m2 = states.get(names["m2"])
            b_mean = tf.zeros(b_shape, dtype) if b_mean is None else tf.cast(b_mean, dtype)
            b_m2 = tf.zeros(b_shape, dtype) if b_m2 is None else tf.cast(b_m2, dtype)
            means = tf.concat([b_mean, f_mean], axis=1)
            m2s = tf.concat([b_m2, f_m2], axis=1)
            src = tf.range(k1 + time) - k1  # position relative to the chunk start
            valid = src >= -seen
            member = (src[None, :] <= t_idx[:, None]) & (
                src[None, :] > t_idx[:, None] - self.window
            )
            weights = tf.cast(member & valid[None, :], dtype)
            counts = tf.fill([k1 + time], n_f)
            n, mean, m2 = merge_stats(counts, means, m2s, weights)
            new = {names["mean"]: means[:, -k1:], names["m2"]: m2s[:, -k1:]}
        new[names["count"]] = count + time
        states = {**states, **new}
        return (
            n[None, :, None, None, None],
            mean[:, :, None, None, :],
            m2[:, :, None, None, :],
            states,
        )

    def _logit(self, x, states, scale_index):
        """``1 / e*`` for every position of ``x``, and the new states."""
        n, mean, m2, states = self._stats(x, states, scale_index)
        var = m2 / tf.maximum(n - 1.0, 1.0)
        d = x - mean
        inv = 1.0 / (4.0 * (var + self._lambda(x.dtype)))
        return d * d * inv + 0.5, states

    def call(self, inputs, states=None):
        states = dict(states) if states is not None else {}
        x = tf.convert_to_tensor(inputs)
        if len(self.scales) == 1 and self.scales[0] == 1.0:
            logit, states = self._logit(x, states, 0)
            attention = tf.sigmoid(logit)
            energy = lambda: 1.0 / logit  # noqa: E731 - traced only when captured
        else:
            size = tf.shape(x)[2:4]
            attentions = []
            for i, scale in enumerate(self.scales):
                if scale == 1.0:
                    logit, states = self._logit(x, states, i)
                    attentions.append(tf.sigmoid(logit))
                    continue
                scaled = tf.cast(tf.math.ceil(tf.cast(size, tf.float32) * scale), tf.int32)
                scaled = tf.maximum(scaled, 1)
                xs = _resize_frames(x, scaled)
                logit, states = self._logit(xs, states, i)
                attentions.append(_resize_frames(tf.sigmoid(logit), size))
            attention = tf.add_n(attentions) / float(len(attentions))

            def energy():
                a = tf.clip_by_value(attention, 1e-7, 1.0 - 1e-7)
                return 1.0 / (tf.math.log(a) - tf.math.log1p(-a))

        _probe.emit(self, "simam_input", x)
        _probe.emit(self, "simam", attention)
        _probe.emit(self, "simam_energy", energy)
        return x * attention, states
