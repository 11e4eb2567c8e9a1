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
# `vizattn --help` does not import TensorFlow. Module names differ from the
# functions they export, so `vizattn.capture` is always the function.
_EXPORTS = {
    "build_movinet": "vizattn.models",
    "load_model": "vizattn.models",
    "predict": "vizattn.hooks",
    "predict_stream": "vizattn.hooks",
    "load_checkpoint": "vizattn.checkpoints",
    "capture": "vizattn.hooks",
    "capture_stream": "vizattn.hooks",
    "register_probe": "vizattn.hooks",
    "gradcam": "vizattn.hooks",
    "Cache": "vizattn.cache",
    "load_cache": "vizattn.cache",
    "check_causal": "vizattn.causal",
    "CausalReport": "vizattn.causal",
    "render": "vizattn.rendering",
}

#: Submodules reachable as attributes after ``import vizattn`` (imported on first use).
_SUBMODULES = (
    "beam_pipeline",
    "cache",
    "causal",
    "checkpoints",
    "cli",
    "demo",
    "errors",
    "evaluation",
    "figures",
    "files",
    "hooks",
    "labels",
    "layers",
    "metrics",
    "models",
    "names",
    "overlay",
    "rendering",
    "testing",
    "tflite",
    "training",
    "video",
    "widgets",
)

__all__ = ["VizAttnError", "__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"vizattn.{name}")
    else:
        raise AttributeError(f"module 'vizattn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
