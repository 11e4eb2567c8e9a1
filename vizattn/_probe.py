"""Trace-time recording of layer internals: the mechanism under :func:`vizattn.capture`.

vizattn's own layers call :func:`emit` with what they compute (SimAM energies,
TAdaConv calibration weights, routing attention). When no capture is running,
:func:`emit` returns at once and adds nothing to the graph, so a model pays
nothing for being capturable. During :func:`vizattn.capture`, a
:class:`Recorder` is active on the current thread while the model is *traced*
(inside ``tf.function``); emitted tensors become extra outputs of the traced
function, so repeated calls reuse one concrete function.

Values may be passed as zero-argument callables so that work done only for
capture (an energy derived from a logit, say) is traced only when wanted.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Recorder", "active", "emit", "recording"]

_local = threading.local()


class Recorder:
    """Collects emitted tensors under ``{endpoint}/{kind}`` names.

    Args:
      owners: maps ``id(layer)`` to the endpoint name the layer belongs to
        (``stem``, ``block3_layer1``, ``head``).
      wants: predicate on a full hook name; emitted values whose name it
        rejects are dropped before they are computed.
      transform: optional function ``(name, kind, tensor) -> tensor`` applied
        at trace time (used for channel reduction while capturing).
    """

    def __init__(
        self,
        owners: dict[int, str],
        wants: Callable[[str], bool],
        transform: Callable[[str, str, Any], Any] | None = None,
    ) -> None:
        self.owners = owners
        self.wants = wants
        self.transform = transform
        self.records: dict[str, Any] = {}
        self.meta: dict[str, dict] = {}
        # Filled by vizattn.hooks while a capture traces: endpoints whose activation
        # gradients are wanted, the tape that watches them, what it saw, and the
        # stream head's pooling input (for per-frame logits).
        self.watch: tuple[str, ...] = ()
        self.tape: Any = None
        self.acts: dict[str, Any] = {}
        self.pool: Any = None

    def name_for(self, layer: Any, kind: str) -> str | None:
        owner = self.owners.get(id(layer))
        if owner is None:
            return None
        return f"{owner}/{kind}"

    def record(self, layer: Any, kind: str, value: Any, meta: dict | None = None) -> None:
        name = self.name_for(layer, kind)
        if name is None or not self.wants(name):
            return
        if callable(value):
            value = value()
        if self.transform is not None:
            value = self.transform(name, kind, value)
        base, i = name, 1
        while name in self.records:  # two modules of one kind in one endpoint
            i += 1
            name = f"{base}{i}"
        self.records[name] = value
        if meta:
            self.meta[name] = dict(meta)


def active() -> Recorder | None:
    """The recorder of the capture running on this thread, or ``None``."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def emit(layer: Any, kind: str, value: Any, meta: dict | None = None) -> None:
    """Offers ``value`` (a tensor or a zero-argument callable) to an active capture."""
    rec = active()
    if rec is not None:
        rec.record(layer, kind, value, meta)


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Makes ``recorder`` active on this thread for the duration of the block."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(recorder)
    try:
        yield recorder
    finally:
        stack.pop()
