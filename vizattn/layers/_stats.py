"""Numerically stable per-channel statistics over sets of frames.

SimAM needs, for every output frame ``t``, the mean and the sum of squared
deviations (``M2``) of a channel over a *set* of positions: one frame, all
frames up to ``t``, the last ``k`` frames, or the whole clip. Every set used in
vizattn is a union of whole frames (plus, when streaming, a summary of earlier
frames), so the statistics are built in two stable steps:

1. per frame: ``n_f = H*W``, ``mean_s`` and ``M2_s = sum (x - mean_s)^2``
   (two-pass, never ``sum x^2 - (sum x)^2 / n``);
2. per output frame: a weighted merge of frame summaries (Chan et al.):
   ``N_t = sum_s w_ts n_s``, ``mean_t = sum_s w_ts n_s mean_s / N_t``,
   ``M2_t = sum_s w_ts (M2_s + n_s (mean_s - mean_t)^2)``.

``w`` is a 0/1 ``[T, S]`` mask saying which summaries belong to output
frame ``t`` (lower-triangular for "cumulative", a band for "window"). The merge
is exact, so the streaming form (carrying a running summary) and the clip form
(merging all frames at once) agree to rounding.
"""

from __future__ import annotations

from vizattn._tf import import_tf

tf = import_tf()

__all__ = ["frame_stats", "merge_stats"]


def frame_stats(x):
    """Per-frame statistics of ``x`` ``[batch, time, height, width, channels]``.

    Returns:
      ``(n_f, mean, m2)``: the number of positions per frame (scalar float),
      ``mean`` ``[batch, time, channels]`` and ``m2`` ``[batch, time, channels]``.
    """
    shape = tf.shape(x)
    n_f = tf.cast(shape[2] * shape[3], x.dtype)
    mean = tf.reduce_mean(x, axis=[2, 3])
    d = x - mean[:, :, None, None, :]
    m2 = tf.reduce_sum(d * d, axis=[2, 3])
    return n_f, mean, m2


def merge_stats(counts, means, m2s, weights):
    """Merges frame summaries into one summary per output frame.

    Args:
      counts: ``[sources]`` number of positions each summary stands for.
      means: ``[batch, sources, channels]``.
      m2s: ``[batch, sources, channels]`` sums of squared deviations.
      weights: ``[time, sources]`` 0/1 membership of each source in each
        output frame's set.

    Returns:
      ``(n, mean, m2)`` with ``n`` ``[time]`` and the others
      ``[batch, time, channels]``.
    """
    wn = weights * counts[None, :]
    n = tf.reduce_sum(wn, axis=1)
    safe_n = tf.maximum(n, 1.0)
    mean = tf.einsum("ts,bsc->btc", wn, means) / safe_n[None, :, None]
    dev = means[:, None, :, :] - mean[:, :, None, :]
    m2 = tf.einsum("ts,bsc->btc", weights, m2s) + tf.einsum("ts,btsc->btc", wn, dev * dev)
    return n, mean, m2
