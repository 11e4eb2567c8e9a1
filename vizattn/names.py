"""Names inside a MoViNet, and the one resolver behind every ``names=`` argument.

Every hook vizattn captures is named ``{endpoint}/{kind}``. Endpoints are
Model Garden's: ``stem``, ``block{i}_layer{j}`` and ``head`` (plus
``classifier_head`` for the logits), so ``block3_layer1/simam`` is the SimAM
attention of the second layer of block 3.

Wherever vizattn takes ``names=`` (:func:`vizattn.capture`,
:func:`vizattn.capture_stream`, :meth:`vizattn.Cache.frame_maps`,
:func:`vizattn.gradcam`, :func:`vizattn.render`, ``--layer`` on the command
line), it accepts the same three forms, resolved here and nowhere else:

* a **string**: a whole name or a prefix that ends at a name boundary.
  ``"block3"`` selects ``block3_layer0`` ... ``block3_layer3`` (every kind);
  ``"block3_layer1"`` selects that endpoint but never ``block3_layer10``;
  ``"block3_layer1/simam"`` selects one hook;
* a **list** of such strings (their union);
* a **predicate** ``fn(name) -> bool`` on the full hook name.

A string or list item that selects nothing is an error with a "did you mean"
hint, the same everywhere:

>>> try:
...     resolve("blok3", endpoint_names("a0"))
... except VizAttnError as e:
...     print(e)  # doctest: +NORMALIZE_WHITESPACE
unknown layer 'blok3'; did you mean 'block3', 'block4', 'block2'?
Names are stem, block0 to block4, endpoints such as block0_layer0.
>>> resolve("block1", endpoint_names("a0"))
['block1_layer0', 'block1_layer1', 'block1_layer2']

This module imports no TensorFlow: the command line checks names against a
model id (:func:`endpoint_names`) before anything is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence

from vizattn.errors import VizAttnError

__all__ = [
    "LAYERS_PER_BLOCK",
    "NameFilter",
    "closest",
    "endpoint_names",
    "matcher",
    "name_list",
    "natural_key",
    "resolve",
    "short_list",
    "state_endpoint",
]

#: What a ``names=`` argument may be.
NameFilter = str | Sequence[str] | Callable[[str], bool] | None

#: Layers in each of the five blocks of Model Garden's MoViNets (``movinet.BLOCK_SPECS``;
#: a test checks this table against Model Garden).
LAYERS_PER_BLOCK = {
    "a0": (1, 3, 3, 4, 4),
    "a1": (2, 4, 5, 6, 7),
    "a2": (3, 5, 5, 6, 7),
    "a3": (4, 6, 5, 8, 10),
    "a4": (6, 9, 9, 10, 13),
    "a5": (6, 11, 13, 11, 18),
}


def endpoint_names(model_id: str) -> list[str]:
    """Model Garden's endpoint names of ``model_id``, without building (or importing) anything.

    >>> endpoint_names("a0")[:3]
    ['stem', 'block0_layer0', 'block1_layer0']
    """
    key = str(model_id).lower()
    if key not in LAYERS_PER_BLOCK:
        raise VizAttnError(f"unknown model {model_id!r}; use one of {', '.join(LAYERS_PER_BLOCK)}.")
    names = ["stem"]
    for block, count in enumerate(LAYERS_PER_BLOCK[key]):
        names += [f"block{block}_layer{j}" for j in range(count)]
    return [*names, "head"]


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith((prefix + "_", prefix + "/"))


def matcher(names: NameFilter) -> Callable[[str], bool]:
    """The predicate a ``names=`` argument stands for (``None`` selects everything)."""
    if names is None:
        return lambda name: True
    if callable(names):
        return names
    prefixes = name_list(names)
    return lambda name: any(_matches(name, p) for p in prefixes)


def name_list(names: str | Iterable[str]) -> list[str]:
    """A string or list form of ``names=`` as a list of strings, its form checked.

    Raises:
      VizAttnError: not a non-empty string or a non-empty list of them.
    """
    try:
        items = [names] if isinstance(names, str) else list(names)
    except TypeError:  # not iterable
        items = []
    if not items or not all(isinstance(p, str) and p for p in items):
        raise VizAttnError(
            f"names must be a name such as 'block3', a list of names or a predicate; got {names!r}."
        )
    return items


def resolve(
    names: NameFilter,
    available: Iterable[str],
    *,
    what: str = "layer",
    sort: bool = False,
    required: bool = False,
) -> list[str]:
    """The items of ``available`` that ``names`` selects, in their order.

    Args:
      names: a string, a list of strings or a predicate (see the module docstring).
      available: the names to choose from (endpoints, or ``{endpoint}/{kind}`` hooks).
      what: what the names are, for the error message (``"layer"``, ``"hook"``).
      sort: return the selection in natural order (:func:`natural_key`:
        ``block3_layer2`` before ``block3_layer10``) instead of ``available``'s.
      required: a predicate that selects nothing is an error too (a string
        always is).

    Raises:
      VizAttnError: a string (or list item) selects nothing; the message names
        the closest matches. With ``required``, a predicate that selects nothing.
    """
    available = list(available)
    if names is None or callable(names):
        chosen = [n for n in available if matcher(names)(n)]
        if required and not chosen:
            example = available[0].split("/", 1)[0] if available else "block3"
            raise VizAttnError(
                f"the predicate selects none of {short_list(available, 4)}; pass a name "
                f"such as {example!r}, a list of names or another predicate."
            )
    else:
        items = name_list(names)
        for item in items:
            if not any(_matches(n, item) for n in available):
                raise VizAttnError(_unknown(item, available, what))
        match = matcher(items)
        chosen = [n for n in available if match(n)]
    return sorted(chosen, key=natural_key) if sort else chosen


def natural_key(name: str) -> list:
    """Sort key that puts ``block3_layer2`` before ``block3_layer10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _groups(available: list[str]) -> list[str]:
    """Endpoints, their blocks and hook names: everything a user might have meant."""
    out: set[str] = set()
    for name in available:
        endpoint = name.split("/", 1)[0]
        out |= {name, endpoint, endpoint.split("_", 1)[0]}
    return sorted(out)


def _unknown(item: str, available: list[str], what: str) -> str:
    options = _groups(available)
    hint = did_you_mean(item, options, 3)
    if not available:
        return f"unknown {what} {item!r}; there is nothing to choose from here."
    blocks = sorted({o for o in options if o.startswith("block") and "_" not in o})
    summary = []
    if "stem" in options:
        summary.append("stem")
    if blocks:
        summary.append(f"{blocks[0]} to {blocks[-1]}" if len(blocks) > 1 else blocks[0])
    summary.append(f"endpoints such as {available[min(1, len(available) - 1)].split('/')[0]}")
    names_are = "Names are" if hint else "names are"  # a sentence of its own after "?"
    return f"unknown {what} {item!r}; {hint}{names_are} {', '.join(summary)}."


def closest(name: str, options: Iterable[str], n: int = 3, *, cutoff: float = 0.5) -> list[str]:
    """Up to ``n`` options that look like ``name`` (for "did you mean" hints), best first."""
    return difflib.get_close_matches(str(name), list(options), n=n, cutoff=cutoff)


def did_you_mean(name: str, options: Iterable[str], n: int = 1, *, cutoff: float = 0.5) -> str:
    """vizattn's one "did you mean" hint: ``"did you mean 'a', 'b'? "`` with up to ``n``
    of :func:`closest`'s options, or ``""`` when none looks like ``name``.

    >>> did_you_mean("superfst", ["ultrafast", "superfast"]) + "use one of ..."
    "did you mean 'superfast'? use one of ..."
    """
    close = closest(name, options, n, cutoff=cutoff)
    return f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""


def short_list(items: Sequence[str], n: int = 8) -> str:
    """``a, b, c`` or ``a, b, ... (40 in all)``."""
    items = list(items)
    if len(items) <= n:
        return ", ".join(items) or "none"
    return ", ".join(items[:n]) + f", ... ({len(items)} in all)"


def state_endpoint(state_name: str) -> str:
    """The endpoint a stream state belongs to: ``state_block3_layer1_stream_buffer`` ->
    ``block3_layer1``, ``state_head_pool_buffer`` -> ``head``."""
    rest = state_name[len("state_") :] if state_name.startswith("state_") else state_name
    parts = rest.split("_")
    if parts[0].startswith("block") and len(parts) > 1:
        return f"{parts[0]}_{parts[1]}"
    return parts[0]
