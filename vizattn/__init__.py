"""vizattn: see and prove what attention does inside a streaming video network.

vizattn builds the full TensorFlow Model Garden MoViNet (A0 to A5, base and
stream) with the user's attention modules inside (causal SimAM, TAdaConv),
captures their internals with hooks, checks causality, and renders heatmap
videos and paper figures.

>>> import vizattn
>>> model = vizattn.build_movinet("a0", simam="frame")        # doctest: +SKIP
>>> cache = vizattn.capture(model, clip, kinds=["simam"])      # doctest: +SKIP
>>> cache.frame_maps("block3").shape                           # doctest: +SKIP
(1, 8, 4, 4)

Importing ``vizattn`` is cheap: TensorFlow is imported only when a name that
needs it is first used.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

from vizattn import _tf
from vizattn.errors import VizAttnError

_tf.quiet()  # environment only; TensorFlow itself is imported lazily

try:
    __version__ = version("vizattn")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

# Public name -> module that defines it. Resolved lazily (PEP 562) so that
# `vizattn --help` does not import TensorFlow.
_EXPORTS = {
    "build_movinet": "vizattn.models",
    "predict": "vizattn.models",
    "predict_stream": "vizattn.models",
    "load_checkpoint": "vizattn.checkpoints",
    "capture": "vizattn.capture",
    "Cache": "vizattn.capture",
    "load_cache": "vizattn.capture",
    "register_probe": "vizattn.capture",
    "gradcam": "vizattn.gradcam",
    "check_causal": "vizattn.causal",
    "CausalReport": "vizattn.causal",
    "render": "vizattn.render",
}

__all__ = ["VizAttnError", "__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vizattn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
