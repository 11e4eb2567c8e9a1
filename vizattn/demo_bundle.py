"""Where the bundled demo model lives, and what it is, read without TensorFlow.

The demo model (MoViNet-A0 stream with causal SimAM, trained by
:func:`vizattn.training.train_demo` on the moving-shapes task of
:mod:`vizattn.demo`) ships inside the package, in :data:`DEMO_MODEL_DIR`:
its weights, ``model.json`` (the :func:`vizattn.build_movinet` options, class
names and input size), the training record and the command that made it.
The command line reads ``model.json`` to check layer and kind names before
anything heavy is imported.

>>> sorted(demo_build_options())[:3]   # doctest: +SKIP
['model_id', 'num_classes', 'simam']
"""

from __future__ import annotations

import json
from pathlib import Path

from vizattn.errors import VizAttnError

__all__ = ["DEMO_MODEL_DIR", "demo_build_options", "demo_description"]

#: The bundled demo model's folder (package data).
DEMO_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "demo_model"

_BUILD_KEYS = ("model_id", "stream", "simam", "simam_position", "tada", "num_classes")


def demo_description() -> dict:
    """``model.json`` of the bundled demo model."""
    path = DEMO_MODEL_DIR / "model.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VizAttnError(
            f"the bundled demo model is missing ({path}); reinstall vizattn, or pass "
            "--checkpoint random or your own checkpoint."
        ) from None
    except (OSError, json.JSONDecodeError) as e:
        raise VizAttnError(f"the bundled demo model's {path.name} is unreadable ({e}).") from None


def demo_build_options() -> dict:
    """The demo model's architecture: ``model_id``, ``stream``, ``simam``, ... (no TensorFlow)."""
    description = demo_description()
    build = description.get("build", description.get("build_movinet", description))
    out = {"model_id": "a0", "stream": True, "simam": None, "simam_position": "projection"}
    out.update({k: build[k] for k in _BUILD_KEYS if k in build})
    out["tada"] = build.get("tada")
    return out


def demo_clashes(asked: dict) -> list[tuple[str, object]]:
    """The architecture options in ``asked`` that the fixed demo model cannot take.

    Args:
      asked: build options as given (``model_id``, ``stream``, ``simam``, ...);
        ``None`` means not given, except for ``simam``, where ``""`` means not
        given and ``None`` asks for no SimAM.

    Returns:
      ``[(key, value), ...]`` for each given option that differs from the demo's
      (:func:`demo_build_options`). :func:`vizattn.load_model` and the command
      line's early check both ask this; each names the options its own way.
    """
    built = demo_build_options()
    return [
        (k, v)
        for k, v in asked.items()
        if (v != "" if k == "simam" else v is not None) and k in built and v != built[k]
    ]
