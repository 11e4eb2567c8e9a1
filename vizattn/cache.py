"""What a capture returns: :class:`Cache`, a read-only mapping from hook name to array.

A :class:`Cache` is vizattn's ``ActivationCache``: :func:`vizattn.capture`
fills it, and the analysis lives on it. Keys are ``{endpoint}/{kind}``
(``block3_layer1/simam``); values are NumPy arrays. No TensorFlow is needed to
read one, so a saved cache opens anywhere.

>>> import numpy as np
>>> cache = Cache({"block3_layer0/simam": np.ones((1, 4, 6, 6, 8), np.float32)})
>>> cache.names(kind="simam")
['block3_layer0/simam']
>>> cache.frame_maps("block3").shape          # [batch, time, height, width] in [0, 1]
(1, 4, 6, 6)

Kinds and their axes:

================= ======================================= =================================
kind              axes                                    what
================= ======================================= =================================
simam             [batch, time, height, width, channels]  SimAM attention ``sigmoid(1/e*)``
simam_energy      [batch, time, height, width, channels]  SimAM energy ``e*``
simam_input       [batch, time, height, width, channels]  what SimAM was given
activation        [batch, time, height, width, channels]  each endpoint's output
gradcam           [batch, time, height, width]            per-frame Grad-CAM (raw, >= 0)
grad_x_act        [batch, time, height, width]            gradient x activation (raw, >= 0)
se                [batch, time, channels]                 squeeze-excitation gates
tada              [batch, time, channels]                 TAdaConv calibration alpha
tada_attention    [batch, heads, time, time]              TAdaConv v2 routing attention
logits            [batch, classes] or [batch, time, ...]  per frame when streaming
state             ``cache.states[t][state_name]``          stream states after frame t
================= ======================================= =================================

Spatial kinds captured with ``reduce="mean"`` (or ``"norm"``, ``"max"``) are
stored already reduced over channels: ``[batch, time, height, width]``.

:meth:`Cache.frame_maps` turns any spatial kind into per-frame 2D maps;
:meth:`Cache.concat` joins the per-chunk caches of
:func:`vizattn.capture_stream` along time; :meth:`Cache.save` and
:func:`load_cache` write and read one ``.npz`` file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from vizattn import names as _names
from vizattn.errors import VizAttnError
from vizattn.files import atomic_write

__all__ = [
    "DEFAULT_KINDS",
    "GRADIENT_KINDS",
    "KINDS",
    "LOGITS_NAME",
    "MAP_KINDS",
    "SPATIAL_KINDS",
    "Cache",
    "default_normalize",
    "kind_of",
    "load_cache",
    "normalize_maps",
    "resolve_normalize",
    "softmax",
]

#: Kinds with ``[batch, time, height, width, channels]`` values (or reduced over channels).
SPATIAL_KINDS = ("simam", "simam_energy", "simam_input", "activation")
#: Gradient-based kinds, ``[batch, time, height, width]``, non-negative.
GRADIENT_KINDS = ("gradcam", "grad_x_act")
#: Every kind that gives one 2D map per frame.
MAP_KINDS = (*SPATIAL_KINDS, *GRADIENT_KINDS)
#: Every built-in kind.
KINDS = (*MAP_KINDS, "se", "tada", "tada_attention", "logits", "state")
#: What ``kinds=None`` captures: every kind that needs no gradient.
DEFAULT_KINDS = tuple(k for k in KINDS if k not in GRADIENT_KINDS)
#: Hook name of the classifier's logits.
LOGITS_NAME = "classifier_head/logits"
#: Kinds whose arrays have time on axis 1 (joined by :meth:`Cache.concat`).
_TIME_AXIS_1 = (*MAP_KINDS, "se", "tada")


def kind_of(name: str) -> str:
    """``"block3_layer1/simam2"`` -> ``"simam"`` (a repeated module gets a number)."""
    kind = name.rsplit("/", 1)[-1]
    return kind.rstrip("0123456789") or kind


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=axis, keepdims=True))
    return (z / z.sum(axis=axis, keepdims=True)).astype(np.float32)


def default_normalize(kinds: Sequence[str]) -> str:
    """How maps are scaled for display when not told: ``"frame"`` when every kind is
    a gradient kind (``gradcam``, ``grad_x_act``), ``"clip"`` otherwise.

    In a stream, step t explains prediction t, and the first predictions, made
    from a few frames, have far larger gradients: on the demo clip, Grad-CAM's
    largest value at frame 0 is ~40 times the median frame's, so one scale for
    the clip leaves most frames black. Each frame on its own scale is also what
    Grad-CAM tools do for single images. :func:`vizattn.rendering.render` and
    :func:`vizattn.widgets.overlay_explorer` follow this rule unless told.

    >>> default_normalize(["gradcam"]), default_normalize(["simam", "gradcam"])
    ('frame', 'clip')
    """
    kinds = list(kinds)
    return "frame" if kinds and all(k in GRADIENT_KINDS for k in kinds) else "clip"


def resolve_normalize(
    normalize: str | None, kinds: Sequence[str], *, raw: bool = False
) -> str | None:
    """A display's ``normalize`` option checked, with ``"auto"`` made concrete.

    The one check of the option behind :func:`vizattn.rendering.render`, ``vizattn
    render --normalize`` and :func:`vizattn.widgets.overlay_explorer`.

    Args:
      normalize: ``"auto"`` (:func:`default_normalize` of ``kinds``), ``"clip"``,
        ``"frame"``, or ``None``: raw maps where ``raw`` allows them, else ``"auto"``.
      kinds: the map kinds shown.
      raw: whether the caller can show unscaled maps.

    Returns:
      ``"clip"``, ``"frame"``, or ``None`` (raw).

    >>> resolve_normalize("auto", ["gradcam"]), resolve_normalize(None, ["simam"])
    ('frame', 'clip')
    """
    if normalize is None and raw:
        return None
    if normalize not in (None, "auto", "clip", "frame"):
        choices = (
            "'auto', 'clip', 'frame' or None (raw maps)" if raw else "'auto', 'clip' or 'frame'"
        )
        raise VizAttnError(f"unknown normalize {normalize!r}; use {choices}.")
    return default_normalize(kinds) if normalize in (None, "auto") else normalize


def normalize_maps(maps: np.ndarray, how: str | None = "clip", *, zero: bool = False) -> np.ndarray:
    """Scales ``[batch, time, height, width]`` maps to [0, 1]: the one normalization.

    Args:
      maps: float maps.
      how: ``"clip"`` (one scale per batch item over all its frames, so changes
        over time show), ``"frame"`` (each frame stretched on its own) or
        ``None`` (returned unchanged, as float32).
      zero: keep 0 at 0 (divide by the maximum) instead of stretching
        ``[min, max]``; right for non-negative evidence such as Grad-CAM.
    """
    maps = np.asarray(maps, np.float32)
    if how is None:
        return maps
    if how not in ("clip", "frame"):
        raise VizAttnError(f"unknown normalize {how!r}; use 'clip', 'frame' or None.")
    axes = tuple(range(1, maps.ndim)) if how == "clip" else (-2, -1)
    lo = np.zeros_like(maps[..., :1, :1]) if zero else maps.min(axis=axes, keepdims=True)
    hi = maps.max(axis=axes, keepdims=True)
    span = hi - lo
    out = (maps - lo) / np.where(span > 0, span, 1.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _reduce_channels(a: np.ndarray, how: str) -> np.ndarray:
    if how == "mean":
        return a.mean(axis=-1)
    if how == "norm":
        return np.sqrt((a * a).sum(axis=-1))
    if how == "max":
        return a.max(axis=-1)
    raise VizAttnError(f"unknown reduce {how!r}; use 'mean', 'norm' or 'max'.")


def _resize_bthw(m: np.ndarray, h: int, w: int) -> np.ndarray:
    if m.shape[2:] == (h, w):
        return m
    from vizattn.overlay import resize_map  # the project's one map resize

    b, t = m.shape[:2]
    return resize_map(m.reshape(b * t, *m.shape[2:]), (h, w)).reshape(b, t, h, w)


class Cache(Mapping):
    """Read-only mapping from hook name (``"{endpoint}/{kind}"``) to NumPy array.

    Attributes:
      states: for captures with kind ``"state"``, a list over frames of
        ``{state_name: array}`` (the stream states *after* frame ``t``); else ``None``.
      metadata: model, capture options, clip shape and, for a chunk of
        :func:`vizattn.capture_stream`, the index of its first frame (``start``).
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], *, states=None, metadata=None):
        self._arrays = {k: np.asarray(v) for k, v in arrays.items()}
        for v in self._arrays.values():
            v.setflags(write=False)
        self.states = states
        self.metadata = dict(metadata or {})

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            close = _names.closest(name, list(self._arrays))
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "."
            raise KeyError(f"no hook named {name!r} in this cache{hint}") from None

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        stream = self.metadata.get("options", {}).get("stream")
        lines = [f"Cache({len(self)} arrays, stream={stream})"]
        width = max((len(n) for n in self._arrays), default=0)
        for name in sorted(self._arrays):
            a = self._arrays[name]
            lines.append(f"  {name:<{width}}  {tuple(a.shape)} {a.dtype}")
        if self.states:
            lines.append(f"  states: {len(self.states)} steps x {len(self.states[0])} tensors")
        return "\n".join(lines)

    @property
    def frames(self) -> int:
        """Number of frames this cache covers (0 if nothing has a time axis)."""
        for name, a in self._arrays.items():
            if kind_of(name) in _TIME_AXIS_1 and a.ndim >= 2:
                return int(a.shape[1])
        logits = self._arrays.get(LOGITS_NAME)
        if logits is not None and logits.ndim == 3:
            return int(logits.shape[1])
        return len(self.states or [])

    def names(self, kind: str | None = None, names: _names.NameFilter = None) -> list[str]:
        """Hook names held, optionally of one ``kind`` and selected by ``names``."""
        if kind is not None and kind not in KINDS:
            kinds_held = sorted({kind_of(n) for n in self._arrays})
            if kind not in kinds_held:  # not a registered probe's kind either
                raise VizAttnError(
                    f"unknown kind {kind!r}; {_names.did_you_mean(kind, [*KINDS, *kinds_held])}"
                    f"this cache holds {', '.join(kinds_held) or 'nothing'}."
                )
        held = sorted(n for n in self._arrays if kind is None or kind_of(n) == kind)
        return _names.resolve(names, held, what="hook") if names is not None else held

    def probabilities(self) -> np.ndarray:
        """Softmax of the captured logits: ``[batch, classes]`` or ``[batch, time, classes]``."""
        if LOGITS_NAME not in self._arrays:
            raise VizAttnError("this cache holds no logits; capture with kinds=[..., 'logits'].")
        return softmax(self._arrays[LOGITS_NAME])

    def frame_maps(
        self,
        names: _names.NameFilter = "block3",
        kind: str = "simam",
        *,
        reduce: str = "mean",
        normalize: str | None = "auto",
    ) -> np.ndarray:
        """Per-frame 2D maps ``[batch, time, height, width]``.

        Args:
          names: an endpoint (``"block3_layer1"``), a block (``"block3"``: all
            its layers, resized to the largest map and averaged), a list of
            them, or a predicate on hook names.
          kind: a map kind (``simam``, ``simam_energy``, ``simam_input``,
            ``activation``, ``gradcam``, ``grad_x_act``).
          reduce: how channels are reduced when the cache holds them
            (``"mean"``, ``"norm"``, ``"max"``).
          normalize: ``"clip"`` (one scale per batch item for the whole clip),
            ``"frame"`` (each frame on its own), ``None`` (raw values) or
            ``"auto"``: :func:`default_normalize` of ``kind`` (per frame for
            gradient kinds, else per clip), as render, the figures and the
            widgets scale. Gradient kinds keep 0 at 0.

        Returns:
          float32 ``[batch, time, height, width]``, in [0, 1] unless ``normalize=None``.
        """
        if kind not in MAP_KINDS:
            raise VizAttnError(
                f"kind {kind!r} has no per-frame maps; map kinds are {', '.join(MAP_KINDS)}."
            )
        normalize = resolve_normalize(normalize, [kind], raw=True)
        held = self.names(kind=kind)
        if not held:
            raise VizAttnError(
                f"this cache holds no {kind!r} maps; capture with kinds=[{kind!r}]"
                + (" in a model with SimAM (simam=...)." if kind.startswith("simam") else ".")
            )
        selected = _names.resolve(names, held, what="layer")
        maps = []
        for name in selected:
            a = np.asarray(self._arrays[name], np.float32)
            if a.ndim == 5:
                a = _reduce_channels(a, reduce)
            maps.append(a)
        h = max(m.shape[2] for m in maps)
        w = max(m.shape[3] for m in maps)
        stacked = np.mean([_resize_bthw(m, h, w) for m in maps], axis=0)
        return normalize_maps(stacked, normalize, zero=kind in GRADIENT_KINDS)

    @classmethod
    def concat(cls, caches: Iterable[Cache]) -> Cache:
        """Joins consecutive chunks of one stream (:func:`vizattn.capture_stream`) along time."""
        caches = list(caches)
        if not caches:
            raise VizAttnError("Cache.concat needs at least one cache.")
        if len(caches) == 1:
            return caches[0]
        hooks = set(caches[0])
        starts = [c.metadata.get("start") for c in caches]
        expected = starts[0]
        for i, c in enumerate(caches):
            if set(c) != hooks:
                raise VizAttnError(
                    f"Cache.concat: chunk {i} holds other hooks than chunk 0; join the chunks "
                    "of one capture_stream call."
                )
            if expected is not None and starts[i] is not None:
                if starts[i] != expected:
                    raise VizAttnError(
                        f"Cache.concat: chunk {i} starts at frame {starts[i]}, not {expected}; "
                        "pass the chunks of one capture_stream call in order, each once."
                    )
                expected += c.frames
        arrays: dict[str, np.ndarray] = {}
        total = sum(c.frames for c in caches)
        for name in caches[0]:
            kind = kind_of(name)
            parts = [c[name] for c in caches]
            if kind == "tada_attention":  # [B, heads, n, t0 + n] -> [B, heads, T, T]
                full = np.zeros((*parts[0].shape[:2], total, total), parts[0].dtype)
                row = 0
                for p in parts:
                    full[:, :, row : row + p.shape[2], : p.shape[3]] = p
                    row += p.shape[2]
                arrays[name] = full
            elif kind in _TIME_AXIS_1 or (kind == "logits" and parts[0].ndim == 3):
                arrays[name] = np.concatenate(parts, axis=1)
            else:
                arrays[name] = parts[-1]
        states = [s for c in caches for s in (c.states or [])] or None
        metadata = dict(caches[0].metadata)
        if starts[0] is None:
            metadata.pop("start", None)
        if "clip" in metadata:
            metadata["clip"] = {**metadata["clip"], "frames": total}
        return cls(arrays, states=states, metadata=metadata)

    def save(self, path: str | os.PathLike) -> str:
        """Writes one ``.npz`` file with the arrays, states and metadata (atomically)."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        payload = {f"a/{k}": v for k, v in self._arrays.items()}
        for t, st in enumerate(self.states or []):
            for k, v in st.items():
                payload[f"s/{t}/{k}"] = v
        meta = {
            **self.metadata,
            "names": sorted(self._arrays),
            "steps": len(self.states or []),
        }
        payload["__meta__"] = np.frombuffer(json.dumps(meta, default=str).encode(), np.uint8)

        def write(f):
            np.savez_compressed(f, **payload)

        atomic_write(path, write)
        return path


def load_cache(path: str | os.PathLike) -> Cache:
    """Reads a cache written by :meth:`Cache.save` (no model needed)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VizAttnError(f"no cache file at {path!r}; write one with cache.save(path).")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a/")}
            steps = meta.get("steps", 0)
            states = [dict() for _ in range(steps)] if steps else None
            for k in data.files:
                if k.startswith("s/"):
                    _, t, name = k.split("/", 2)
                    states[int(t)][name] = data[k]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise VizAttnError(f"{path!r} is not a vizattn cache file ({e}).") from None
    for key in ("names", "shapes", "steps"):
        meta.pop(key, None)
    return Cache(arrays, states=states, metadata=meta)
