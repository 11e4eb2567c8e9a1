"""Capture what happens inside a full MoViNet: ``capture(model, clip) -> Cache``.

This is vizattn's ``run_with_cache``. One call runs the model (traced with
``tf.function``) and returns a :class:`Cache`: a read-only mapping from hook
names ``{endpoint}/{kind}`` to NumPy arrays. Endpoints are Model Garden's
(``stem``, ``block3_layer1``, ``head``; plus ``classifier_head`` for logits).

>>> cache = capture(model, clip, kinds=["simam", "se"])          # doctest: +SKIP
>>> cache                                                        # doctest: +SKIP
Cache(24 arrays, stream=False)
  block0_layer0/se      (1, 8, 24)
  block0_layer0/simam   (1, 8, 16, 16, 8)
  ...
>>> cache.frame_maps("block3").shape   # [batch, time, height, width] in [0, 1]  # doctest: +SKIP

Kinds and their axes:

================= ===================================== ==========================
kind              axes                                  from
================= ===================================== ==========================
simam             [batch, time, height, width, channels] ``sigmoid(1/e*)``
simam_energy      [batch, time, height, width, channels] ``e*``
simam_input       [batch, time, height, width, channels] what SimAM was given
se                [batch, time, channels]                Model Garden's SE gates
tada              [batch, time, channels]                TAdaConv calibration alpha
tada_attention    [batch, heads, time, time]             v2 routing attention
activation        [batch, time, height, width, channels] each endpoint's output
logits            [batch, classes] ([batch, time, classes] when streaming)
state             ``cache.states[t][state_name]``         stream states after step t
================= ===================================== ==========================

With ``reduce="mean"`` or ``"norm"``, the spatial kinds are reduced over
channels *inside the traced function*, storing ``[batch, time, height, width]``.

Filters: ``names`` is a prefix string (``"block3"`` selects all of block 3), a
list of prefixes/names, or a predicate on the full name.

How it works: vizattn's own layers offer their internals to an active
recorder (see :mod:`vizattn._probe`); Model Garden's layers get *instance*
probes (their ``call`` wrapped on the given model only, never the class),
installed for the duration of the call and always removed. The traced
function is cached per model and options, so repeated captures with the same
shapes do not retrace, and the model's own traced functions are untouched.

Your own modules: :func:`register_probe` makes any layer class capturable.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vizattn import _probe
from vizattn._tf import import_tf
from vizattn.errors import VizAttnError
from vizattn.models import as_clip, init_states, is_stream, model_info

tf = import_tf()

from official.projects.movinet.modeling import movinet_layers  # noqa: E402

__all__ = [
    "KINDS",
    "SPATIAL_KINDS",
    "Cache",
    "capture",
    "endpoints",
    "load_cache",
    "register_probe",
]

SPATIAL_KINDS = ("simam", "simam_energy", "simam_input", "activation")
KINDS = (*SPATIAL_KINDS, "se", "tada", "tada_attention", "logits", "state")
LOGITS_NAME = "classifier_head/logits"

NameFilter = str | Sequence[str] | Callable[[str], bool] | None

# -- probes ----------------------------------------------------------------------

_USER_PROBES: list[tuple[type, Callable, tuple[str, ...]]] = []


def register_probe(
    layer_class: type, fn: Callable, *, kind: str | Sequence[str] | None = None
) -> None:
    """Makes instances of ``layer_class`` capturable.

    ``fn(layer, inputs, outputs)`` runs (at trace time) each time such a layer
    is called inside :func:`capture`, and returns a tensor or a dict
    ``{kind: tensor}``. ``inputs`` is the layer's first argument; ``outputs``
    what ``call`` returned. ``kind`` names the kinds ``fn`` returns (a string
    or a list; default: the class name in lower case); a bare tensor is stored
    under the first.

    Example, the user's CBAM-style channel gate:

    >>> class ChannelGate(tf_keras.layers.Layer):                     # doctest: +SKIP
    ...     def call(self, x):
    ...         self.gate = tf.sigmoid(tf.reduce_mean(x, [2, 3], keepdims=True))
    ...         return x * self.gate
    >>> def probe(layer, x, y):                                       # doctest: +SKIP
    ...     return {"gate": layer.gate[:, :, 0, 0]}         # [batch, time, channels]
    >>> register_probe(ChannelGate, probe, kind="gate")               # doctest: +SKIP
    >>> capture(model, clip, kinds=["gate"])                          # doctest: +SKIP
    """
    if not isinstance(layer_class, type):
        raise VizAttnError(f"register_probe needs a layer class, got {layer_class!r}.")
    kinds = (kind,) if isinstance(kind, str) else tuple(kind or (layer_class.__name__.lower(),))
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise VizAttnError(f"kind must be a name or a list of names, got {kind!r}.")
    for k in kinds:
        if k[-1].isdigit():
            raise VizAttnError(
                f"kind {k!r} must not end in a digit (capture numbers repeated hooks); "
                "use e.g. 'cbam_b'."
            )
    _USER_PROBES[:] = [p for p in _USER_PROBES if p[0] is not layer_class]
    _USER_PROBES.append((layer_class, fn, kinds))


def _wrap_call(layer, after: Callable) -> None:
    original = layer.call

    def call(*args, **kwargs):
        outputs = original(*args, **kwargs)
        after(args[0] if args else kwargs.get("inputs"), outputs)
        return outputs

    layer.__dict__["call"] = call


@contextlib.contextmanager
def _instance_probes(model) -> Iterator[None]:
    """Wraps ``call`` on this model's Model Garden layers; always unwraps."""
    wrapped = []
    try:
        for layer in endpoints(model).values():
            _wrap_call(layer, lambda x, out, layer=layer: _probe.emit(layer, "activation", out[0]))
            wrapped.append(layer)
        for layer in _sublayers(model):
            if isinstance(layer, movinet_layers.StreamSqueezeExcitation) and hasattr(
                layer, "_se_expand"
            ):
                gate = layer._se_expand
                _wrap_call(gate, lambda x, out, se=layer: _probe.emit(se, "se", out))
                wrapped.append(gate)
            for cls, fn, kinds in _USER_PROBES:
                if isinstance(layer, cls):

                    def after(x, out, layer=layer, fn=fn, kinds=kinds):
                        got = fn(layer, x, out)
                        items = got.items() if isinstance(got, Mapping) else [(kinds[0], got)]
                        for k, v in items:
                            _probe.emit(layer, k, v)

                    _wrap_call(layer, after)
                    wrapped.append(layer)
        yield
    finally:
        for layer in wrapped:
            layer.__dict__.pop("call", None)


def _sublayers(model) -> list:
    return list(model._flatten_layers(include_self=False, recursive=True))


def endpoints(model) -> dict[str, Any]:
    """Model Garden endpoint layers by name: ``stem``, ``block{i}_layer{j}``, ``head``."""
    backbone = getattr(model, "_backbone", model)
    out = {}
    for layer in backbone.layers:
        if isinstance(
            layer, movinet_layers.Stem | movinet_layers.MovinetBlock | movinet_layers.Head
        ):
            out[layer.name] = layer
    return out


def _owners(model) -> dict[int, str]:
    owners: dict[int, str] = {}
    for name, layer in endpoints(model).items():
        for sub in layer._flatten_layers(include_self=True, recursive=True):
            owners.setdefault(id(sub), name)
    for layer in model.layers:
        if isinstance(layer, movinet_layers.ClassifierHead):
            owners[id(layer)] = "classifier_head"
    return owners


def _name_filter(names: NameFilter) -> Callable[[str], bool]:
    if names is None:
        return lambda n: True
    if callable(names):
        return names
    prefixes = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(p, str) for p in prefixes):
        raise VizAttnError(
            f"names must be a string, a list of strings or a predicate; got {names!r}."
        )

    def match(name: str) -> bool:
        return any(name == p or name.startswith(p) for p in prefixes)

    return match


def _reduce(kind: str, value, how: str | None):
    if how is None or kind not in SPATIAL_KINDS:
        return value
    if how == "mean":
        return tf.reduce_mean(value, axis=-1)
    if how == "norm":
        return tf.norm(value, axis=-1)
    if how == "max":
        return tf.reduce_max(value, axis=-1)
    raise VizAttnError(f"unknown reduce {how!r}; use 'mean', 'norm', 'max' or None.")


# -- traced capture functions ----------------------------------------------------

_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _capture_fn(model, key, wants, reduce):
    per_model = _FUNCTIONS.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    owners = _owners(model)
    meta: dict[str, dict] = {}
    stream = is_stream(model)
    model_ref = weakref.ref(model)  # the cache must not keep the model alive

    @tf.function(reduce_retracing=True)
    def run(image, states):
        rec = _probe.Recorder(
            owners, wants, transform=lambda name, kind, v: _reduce(kind, v, reduce)
        )
        model = model_ref()
        with _probe.recording(rec):
            if stream:
                logits, new_states = model({**states, "image": image}, training=False)
            else:
                logits, new_states = model({"image": image}, training=False), states
        meta.update(rec.meta)
        records = dict(rec.records)
        if wants(LOGITS_NAME):
            records[LOGITS_NAME] = logits
        return records, new_states

    per_model[key] = (run, meta)
    return run, meta


def _kind_of(name: str) -> str:
    kind = name.rsplit("/", 1)[-1]
    return kind.rstrip("0123456789") or kind


def _se_to_btc(value: np.ndarray, time: int) -> np.ndarray:
    v = value.reshape(value.shape[0], value.shape[1], -1)  # [B, T or 1, C]
    if v.shape[1] != time:
        v = np.broadcast_to(v, (v.shape[0], time, v.shape[2])).copy()
    return v


def _attention_to_ttt(value: np.ndarray, window: int) -> np.ndarray:
    """Clip-mode v2 attention ``[B, h, T, (w-1)+T]`` -> ``[B, h, T, T]``."""
    return value[..., window - 1 :]


def capture(
    model,
    clip,
    *,
    names: NameFilter = None,
    kinds: Iterable[str] | None = None,
    stream: bool = False,
    reduce: str | None = None,
) -> Cache:
    """Runs ``model`` on ``clip`` and returns what its layers computed.

    Args:
      model: a model from :func:`vizattn.build_movinet`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]``, or float in [0, 1].
      names: which hooks: a prefix string (``"block3"``), a list, or a
        predicate on ``"{endpoint}/{kind}"``; ``None`` for all.
      kinds: which kinds (see the module docstring); ``None`` for all.
      stream: run frame by frame carrying states (stream models only);
        arrays keep the clip layout and ``cache.states[t]`` holds the states
        after step ``t``.
      reduce: ``None``, ``"mean"``, ``"norm"`` or ``"max"`` over channels for
        the spatial kinds, done while capturing.

    Returns:
      A :class:`Cache`.
    """
    user_kinds = {k for _, _, ks in _USER_PROBES for k in ks}
    if kinds is None:
        kinds = (*KINDS, *sorted(user_kinds))
    kinds = tuple([kinds] if isinstance(kinds, str) else kinds)
    unknown = [k for k in kinds if k not in KINDS and k not in user_kinds]
    if unknown:
        raise VizAttnError(
            f"unknown kind {unknown[0]!r}; use one of {', '.join(KINDS)}"
            + (
                f" or a registered probe kind ({', '.join(sorted(user_kinds))})."
                if user_kinds
                else "."
            )
        )
    if reduce not in (None, "mean", "norm", "max"):
        raise VizAttnError(f"unknown reduce {reduce!r}; use 'mean', 'norm', 'max' or None.")
    if stream and not is_stream(model):
        raise VizAttnError("stream=True needs a stream model; build it with stream=True.")
    x = as_clip(clip)
    match = _name_filter(names)
    kind_set = frozenset(kinds)

    def wants(name: str) -> bool:
        return _kind_of(name) in kind_set and match(name)

    names_key = (
        names
        if isinstance(names, str | type(None))
        else (tuple(names) if not callable(names) else ("fn", id(names)))
    )
    key = (names_key, kind_set, reduce)
    run, meta = _capture_fn(model, key, wants, reduce)
    batch, time = x.shape[:2]
    states = init_states(model, x.shape)
    with _instance_probes(model):
        if not stream:
            records, _ = run(tf.constant(x), states)
            arrays = {k: v.numpy() for k, v in records.items()}
            step_states = None
        else:
            steps, step_states = [], []
            for t in range(time):
                records, states = run(tf.constant(x[:, t : t + 1]), states)
                steps.append({k: v.numpy() for k, v in records.items()})
                if "state" in kind_set:
                    step_states.append(
                        {
                            k: v.numpy()
                            for k, v in states.items()
                            if match(_state_endpoint(k) + "/state")
                        }
                    )
            arrays = _assemble_stream(steps, meta, time)
            if "state" not in kind_set:
                step_states = None
    for name in list(arrays):
        kind = _kind_of(name)
        if kind == "se":
            arrays[name] = _se_to_btc(arrays[name], time)
        elif kind == "tada_attention" and not stream:
            arrays[name] = _attention_to_ttt(arrays[name], meta.get(name, {}).get("window", 1))
    info = model_info(model)
    metadata = {
        "model": info.as_dict() if info else {},
        "options": {
            "names": repr(names),
            "kinds": sorted(kind_set),
            "stream": stream,
            "reduce": reduce,
        },
        "clip": {"shape": list(x.shape)},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    return Cache(arrays, states=step_states, metadata=metadata)


def _state_endpoint(state_name: str) -> str:
    """``state_block3_layer1_stream_buffer`` -> ``block3_layer1``."""
    rest = state_name[len("state_") :] if state_name.startswith("state_") else state_name
    parts = rest.split("_")
    if parts[0].startswith("block") and len(parts) > 1:
        return f"{parts[0]}_{parts[1]}"
    return parts[0]


def _assemble_stream(steps: list[dict], meta: dict, time: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in steps[0]:
        kind = _kind_of(name)
        values = [s[name] for s in steps]
        if kind == "logits":
            out[name] = np.stack(values, axis=1)
        elif kind == "tada_attention":
            window = meta.get(name, {}).get("window", 1)
            b, h = values[0].shape[:2]
            full = np.zeros((b, h, time, time), values[0].dtype)
            for t, v in enumerate(values):  # v: [B, h, 1, (w-1)+1]
                row = v[:, :, 0, :]
                lo = max(0, t - window + 1)
                full[:, :, t, lo : t + 1] = row[:, :, row.shape[-1] - (t + 1 - lo) :]
            out[name] = full
        else:
            out[name] = np.concatenate(values, axis=1)
    return out


# -- Cache -----------------------------------------------------------------------


class Cache(Mapping):
    """Read-only mapping from hook name (``"{endpoint}/{kind}"``) to NumPy array.

    Attributes:
      states: for stream captures with kind ``"state"``, a list over steps of
        ``{state_name: array}`` (states *after* step ``t``); else ``None``.
      metadata: model id and options, capture options, clip shape.
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
            close = _closest(name, list(self._arrays))
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

    def names(self, kind: str | None = None, layer: NameFilter = None) -> list[str]:
        """Hook names held, optionally of one ``kind`` and matching ``layer``."""
        match = _name_filter(layer)
        return sorted(n for n in self._arrays if (kind is None or _kind_of(n) == kind) and match(n))

    def frame_maps(
        self,
        layer: str | Sequence[str] = "block3",
        kind: str = "simam",
        *,
        reduce: str = "mean",
        normalize: str = "clip",
    ) -> np.ndarray:
        """Per-frame 2D maps ``[batch, time, height, width]``, float32 in [0, 1].

        Args:
          layer: an endpoint (``"block3_layer1"``), a block prefix
            (``"block3"``: all its layers, resized to the largest map and
            averaged), or a list of either.
          kind: a spatial kind (``simam``, ``simam_energy``, ``simam_input``,
            ``activation``).
          reduce: how channels are reduced when the cache holds them
            (``"mean"``, ``"norm"``, ``"max"``).
          normalize: ``"clip"`` (one scale for the whole clip, so changes over
            time show) or ``"frame"`` (each frame stretched to [0, 1]).
        """
        if kind not in SPATIAL_KINDS:
            raise VizAttnError(
                f"kind {kind!r} has no spatial axes; spatial kinds are {', '.join(SPATIAL_KINDS)}."
            )
        if normalize not in ("clip", "frame"):
            raise VizAttnError(f"unknown normalize {normalize!r}; use 'clip' or 'frame'.")
        selected = self._select(layer, kind)
        maps = []
        for name in selected:
            a = np.asarray(self._arrays[name], np.float32)
            if a.ndim == 5:
                a = _reduce_np(a, reduce)
            maps.append(a)
        h = max(m.shape[2] for m in maps)
        w = max(m.shape[3] for m in maps)
        stacked = np.mean([_resize_bthw(m, h, w) for m in maps], axis=0)
        return normalize_maps(stacked, normalize)

    def _select(self, layer, kind) -> list[str]:
        layers = [layer] if isinstance(layer, str) else list(layer)
        chosen: list[str] = []
        for lay in layers:
            found = [
                n
                for n in self.names(kind=kind)
                if (ep := n.rsplit("/", 1)[0]) == lay or ep.startswith(lay + "_")
            ]
            if not found:
                have = sorted({n.rsplit("/", 1)[0] for n in self.names(kind=kind)})
                close = _closest(lay, have)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise VizAttnError(
                    f"no {kind!r} maps for layer {lay!r} in this cache; {hint}"
                    f"layers with {kind!r}: {_short_list(have)}."
                )
            chosen += [n for n in found if n not in chosen]
        return chosen

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
            "shapes": {k: list(v.shape) for k, v in self._arrays.items()},
            "steps": len(self.states or []),
        }
        payload["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, **payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
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
    meta.pop("names", None)
    meta.pop("shapes", None)
    meta.pop("steps", None)
    return Cache(arrays, states=states, metadata=meta)


# -- helpers ---------------------------------------------------------------------


def _reduce_np(a: np.ndarray, how: str) -> np.ndarray:
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
    b, t = m.shape[:2]
    flat = tf.image.resize(m.reshape(b * t, *m.shape[2:], 1), (h, w), method="bilinear")
    return flat.numpy().reshape(b, t, h, w)


def normalize_maps(maps: np.ndarray, how: str = "clip") -> np.ndarray:
    """Scales ``[batch, time, height, width]`` maps to [0, 1] per clip or per frame."""
    axes = (1, 2, 3) if how == "clip" else (2, 3)
    lo = maps.min(axis=axes, keepdims=True)
    hi = maps.max(axis=axes, keepdims=True)
    out = (maps - lo) / np.where(hi > lo, hi - lo, 1.0)
    return out.astype(np.float32)


def _closest(name: str, options: list[str], n: int = 3) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, options, n=n, cutoff=0.5)


def _short_list(items: list[str], n: int = 8) -> str:
    if len(items) <= n:
        return ", ".join(items) or "none"
    return ", ".join(items[:n]) + f", ... ({len(items)} in all)"


class _CallableModule(__import__("types").ModuleType):
    """Lets ``vizattn.capture(...)`` call the function even after the module of the same
    name has been imported (Python then binds the package attribute to the module)."""

    def __call__(self, *args, **kwargs):
        return capture(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
