"""Class names: which class a logit is, and how users name the class they mean.

A model with 600 classes is taken to be a Kinetics-600 model (the released
MoViNet weights, the TF Hub TFLite files) and gets the bundled Kinetics-600
names; any model can be given a labels file (one name per line); otherwise
classes are ``"class 0"``, ``"class 1"``...

>>> names = class_names(600)
>>> names[72]
'carving ice'
>>> resolve_class("Carving Ice", names), resolve_class(3, names), resolve_class("top", names)
(72, 3, 'top')
>>> [(name, i) for name, i, p in top_k(np.eye(600)[72] * 10, 2, names)]
[('carving ice', 72), ('abseiling', 0)]

A name that is not there fails with the closest ones:

>>> resolve_class("carving ise", names)  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
vizattn.errors.VizAttnError: unknown class 'carving ise'; did you mean 'carving ice', ...
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from vizattn.cache import softmax
from vizattn.errors import VizAttnError

__all__ = [
    "KINETICS600",
    "class_names",
    "kinetics600",
    "read_labels",
    "resolve_class",
    "softmax",
    "top_k",
]

#: Number of classes of a Kinetics-600 model.
KINETICS600 = 600


@functools.lru_cache(maxsize=1)
def _kinetics600() -> tuple[str, ...]:
    text = resources.files("vizattn").joinpath("data/kinetics600_labels.txt").read_text("utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != KINETICS600:  # pragma: no cover - a broken install
        raise VizAttnError(
            f"the bundled Kinetics-600 labels have {len(names)} names; reinstall vizattn."
        )
    return names


def kinetics600() -> list[str]:
    """The 600 Kinetics-600 class names, in the order of the released MoViNet weights."""
    return list(_kinetics600())


def read_labels(path: str | os.PathLike, num_classes: int | None = None) -> list[str]:
    """Class names from a text file, one per line (blank lines skipped).

    Args:
      path: the labels file.
      num_classes: if given, the file must have exactly this many names.

    Raises:
      VizAttnError: unreadable file, not text (a video, an archive...), or the
        wrong number of names.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise VizAttnError(
            f"cannot read labels file {os.fspath(path)!r} ({e.strerror}); pass a text file "
            "with one class name per line."
        ) from None
    except UnicodeDecodeError:
        text = "\0"  # not UTF-8: reported below, like any binary file
    if "\0" in text:
        raise VizAttnError(
            f"labels file {os.fspath(path)!r} is not a text file of class names (it holds "
            "binary data); pass a UTF-8 text file with one class name per line."
        )
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if num_classes is not None and len(names) != num_classes:
        raise VizAttnError(
            f"labels file {os.fspath(path)!r} has {len(names)} names but the model has "
            f"{num_classes} classes; pass a file with one name per class, in class order."
        )
    return names


def _num_classes(model: Any) -> tuple[int, list[str] | None]:
    if isinstance(model, (int, np.integer)):
        return int(model), None
    from vizattn.models import model_info

    info = model_info(model)
    if info is not None:
        return int(info.num_classes), info.class_names
    count = getattr(model, "_num_classes", None)
    if count is None:
        raise VizAttnError(
            f"cannot tell how many classes {type(model).__name__} has; pass a model from "
            "vizattn.build_movinet or the number of classes."
        )
    return int(count), None


def class_names(
    model_or_num_classes: Any, *, labels_file: str | os.PathLike | None = None
) -> list[str]:
    """The name of every class of a model, in class order.

    Args:
      model_or_num_classes: a model from :func:`vizattn.build_movinet`, or a
        number of classes.
      labels_file: a text file with one name per line; overrides everything else.

    Returns:
      ``labels_file``'s names; else the names the weights came with
      (``ModelInfo.class_names``); else Kinetics-600's for 600 classes; else
      ``"class 0"`` .. ``"class N-1"``.

    >>> class_names(3)
    ['class 0', 'class 1', 'class 2']
    """
    count, own = _num_classes(model_or_num_classes)
    if labels_file is not None:
        return read_labels(labels_file, count)
    if own is not None and len(own) == count:
        return list(own)
    if count == KINETICS600:
        return kinetics600()
    return [f"class {i}" for i in range(count)]


def _key(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


def resolve_class(spec: Any, names: Sequence[str]) -> int | str:
    """A class the user named -> its index (or ``"top"``, the predicted class).

    Args:
      spec: an index (int or digits), a class name (exact, or ignoring case,
        ``_``/``-`` and extra spaces), or ``"top"``.
      names: the class names (see :func:`class_names`).

    Raises:
      VizAttnError: an index out of range, or an unknown name (with the closest
        names).
    """
    n = len(names)
    if isinstance(spec, (bool, np.bool_)):
        raise VizAttnError(f"class {spec!r} is not a class; pass a name, an index or 'top'.")
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        if not 0 <= index < n:
            raise VizAttnError(
                f"class index {index} is out of range; the model has {n} classes (0..{n - 1})."
            )
        return index
    if not isinstance(spec, str):
        raise VizAttnError(f"class {spec!r} is not a class; pass a name, an index or 'top'.")
    if spec.strip().lower() == "top":
        return "top"
    if spec in names:
        return list(names).index(spec)
    keys = [_key(name) for name in names]
    want = _key(spec)
    if want in keys:
        return keys.index(want)
    close = difflib.get_close_matches(want, keys, n=3, cutoff=0.6)
    if close:
        shown = ", ".join(repr(names[keys.index(c)]) for c in close)
        raise VizAttnError(
            f"unknown class {spec!r}; did you mean {shown}? "
            f"(pass a class name or an index 0..{n - 1})"
        )
    listed = f" ({', '.join(names)})" if n <= 10 else ""
    raise VizAttnError(f"unknown class {spec!r}; pass a class name{listed} or an index 0..{n - 1}.")


def top_k(logits: Any, k: int, names: Sequence[str]) -> list[tuple[str, int, float]]:
    """The ``k`` most probable classes of one prediction.

    Args:
      logits: ``[classes]`` (or ``[1, classes]``).
      k: how many (at most the number of classes).
      names: the class names.

    Returns:
      ``[(name, index, probability), ...]``, most probable first; probabilities
      are the softmax over all classes.
    """
    z = np.asarray(logits, np.float64)
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1:
        raise VizAttnError(
            f"top_k takes the logits of one prediction, [classes], got shape {list(z.shape)}."
        )
    if z.shape[0] != len(names):
        raise VizAttnError(
            f"{z.shape[0]} logits for {len(names)} class names; pass one name per class."
        )
    p = softmax(z)
    order = np.argsort(-z, kind="stable")[: max(0, int(k))]
    return [(names[int(i)], int(i), float(p[int(i)])) for i in order]
