"""Helpers for tests, benchmarks and notebooks: synthetic clips and non-degenerate weights.

A freshly initialized MoViNet hides a lot: every block's residual branch is
multiplied by a ``rezero`` scale that starts at **zero**, batch-norm moving
statistics are (0, 1), and TAdaConv's last routing layer is zero. A test of
"does SimAM inside block 3 look at the future?" on such a model would pass
whatever SimAM did. :func:`randomize` gives those variables random values so
that every inserted module really influences the output.

>>> clip = synthetic_clip(frames=4, size=32)
>>> clip.shape, clip.dtype
((1, 4, 32, 32, 3), dtype('uint8'))
"""

from __future__ import annotations

import numpy as np

__all__ = ["randomize", "synthetic_clip"]


def synthetic_clip(
    *, frames: int = 8, size: int | tuple[int, int] = 64, batch: int = 1, seed: int = 0
) -> np.ndarray:
    """A small uint8 clip ``[batch, frames, height, width, 3]``: moving blobs over noise."""
    h, w = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((batch, frames, h, w, 3), np.float32)
    for b in range(batch):
        base = rng.uniform(0.1, 0.4, size=(h, w, 3)).astype(np.float32)
        color = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
        v = rng.uniform(-2, 2, size=2)
        y0, x0 = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
        for t in range(frames):
            cy, cx = y0 + v[0] * t, x0 + v[1] * t
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.12 * min(h, w)) ** 2))
            out[b, t] = base * (1 - blob[..., None]) + color * blob[..., None]
    return np.clip(out * 255, 0, 255).astype(np.uint8)


def randomize(model, *, seed: int = 0, scale: float = 0.5) -> None:
    """Gives zero/identity-initialized variables random values, in place.

    Touches: ``rezero`` scales (Model Garden ``nn_layers.Scale``), batch-norm
    moving mean/variance and beta, and TAdaConv's zero-initialized ``conv_b``
    kernels. Other weights keep their random initialization.
    """
    import tf_keras
    from official.modeling import tf_utils  # noqa: F401 - Model Garden import order
    from official.vision.modeling.layers import nn_layers

    from vizattn.layers.tada import TAdaRouting

    rng = np.random.default_rng(seed)

    def fill(var, values):
        var.assign(np.asarray(values, dtype=var.dtype.as_numpy_dtype).reshape(var.shape))

    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, nn_layers.Scale):
            for v in layer.weights:
                fill(v, rng.uniform(0.5, 1.5, size=v.shape))
        elif isinstance(layer, tf_keras.layers.BatchNormalization):
            fill(layer.moving_mean, rng.normal(0, 0.1, size=layer.moving_mean.shape))
            fill(layer.moving_variance, rng.uniform(0.5, 1.5, size=layer.moving_variance.shape))
            if layer.beta is not None:
                fill(layer.beta, rng.normal(0, 0.1, size=layer.beta.shape))
        elif isinstance(layer, TAdaRouting) and layer.built:
            k = layer.conv_b.kernel
            fan_in = int(np.prod(k.shape[:-1]))
            fill(k, rng.normal(0, scale / fan_in**0.5, size=k.shape))
