"""One pipeline from frames to a :class:`~vizattn.Cache`: ``capture`` and ``capture_stream``.

This is vizattn's ``run_with_cache``. Everything that runs a model goes through
the one streaming core here: :func:`capture_stream` (a long video, chunk by
chunk, carrying the stream states), :func:`capture` (a clip, at once or
streaming), :func:`predict`, :func:`predict_stream` and :func:`gradcam`,
and through them ``vizattn render``, ``vizattn evaluate``, ``vizattn batch``
and the notebooks.

>>> cache = capture(model, clip, names="block3", kinds=["simam", "gradcam"])  # doctest: +SKIP
>>> cache.frame_maps("block3", "simam").shape     # [batch, time, height, width]  # doctest: +SKIP
(1, 8, 4, 4)
>>> for chunk in capture_stream(model, video_frames, chunk=16, kinds=["simam", "logits"]):
...     maps = chunk.frame_maps("block3", normalize=None)   # 16 frames at a time # doctest: +SKIP

The kinds and their axes are listed in :mod:`vizattn.cache`. Three of them
need gradients: ``gradcam`` (Grad-CAM with per-frame channel weights) and
``grad_x_act`` (gradient times activation, no spatial averaging). Their target
is ``class_index``: an index, a class name, or ``"top"`` (the predicted class).

Streaming semantics (``stream=True`` and every :func:`capture_stream`):

* frame ``t``'s values use frames ``<= t`` only; the logits and the head's
  pooled features (``head/activation``) are given per frame (Model Garden's
  running-average head, evaluated after every frame), whatever the chunk size;
* gradient kinds explain the prediction *at* frame ``t``: the model steps one
  frame at a time and the map of step ``t`` is the gradient of step ``t``'s
  logit with respect to step ``t``'s activation, across chunk boundaries too;
* ``state`` steps one frame at a time and keeps the states after every frame.

Other kinds run ``chunk`` frames per call, which for causal models equals
stepping frame by frame and is several times faster.

How it works: vizattn's own layers offer their internals to the active
recorder (:mod:`vizattn._probe`); Model Garden's layers are tapped *on this
model's instances* (:func:`tap`, never the class) while a capture runs, and the
taps are always removed. The taps only act while the model is traced, so each
set of options is traced once per model (one cache of traced functions) and
repeated captures do not retrace.

Your own modules: :func:`register_probe` makes any layer class capturable.
"""

from __future__ import annotations

import contextlib
import datetime
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vizattn import _probe
from vizattn import names as _names
from vizattn._tf import import_tf, intra_op_threads, xla_quiet
from vizattn._threads import in_background, threaded
from vizattn.cache import (
    DEFAULT_KINDS,
    GRADIENT_KINDS,
    KINDS,
    LOGITS_NAME,
    SPATIAL_KINDS,
    Cache,
    kind_of,
)
from vizattn.errors import VizAttnError
from vizattn.models import as_clip, init_states, is_stream, model_info

tf = import_tf()

from official.projects.movinet.modeling import movinet_layers  # noqa: E402
from official.vision.modeling.layers import nn_layers  # noqa: E402

__all__ = [
    "EXACT_SHAPES",
    "PIECES",
    "PIECES_ONE_THREAD",
    "PIECE_KINDS",
    "capture",
    "capture_stream",
    "endpoints",
    "gradcam",
    "predict",
    "predict_stream",
    "register_probe",
    "tap",
]

_MISSING = object()

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
        if k in KINDS:
            raise VizAttnError(f"kind {k!r} is built in; give your probe another name.")
    _USER_PROBES[:] = [p for p in _USER_PROBES if p[0] is not layer_class]
    _USER_PROBES.append((layer_class, fn, kinds))


@contextlib.contextmanager
def tap(taps: Iterable[tuple[Any, Callable]]) -> Iterator[None]:
    """Wraps ``call`` of layer *instances* for the duration of the block: the one hook mechanism.

    Args:
      taps: pairs ``(layer, fn)``; ``fn(args, kwargs, outputs)`` runs after each
        call of ``layer`` and may return replacement outputs (``None`` keeps them).

    Whatever the instance's ``__dict__`` held before is put back afterwards,
    even on error, so taps nest.
    """
    saved = []
    try:
        for layer, fn in taps:
            previous = layer.__dict__.get("call", _MISSING)
            original = layer.call

            def call(*args, _original=original, _fn=fn, **kwargs):
                outputs = _original(*args, **kwargs)
                replaced = _fn(args, kwargs, outputs)
                return outputs if replaced is None else replaced

            layer.__dict__["call"] = call
            saved.append((layer, previous))
        yield
    finally:
        for layer, previous in reversed(saved):
            if previous is _MISSING:
                layer.__dict__.pop("call", None)
            else:
                layer.__dict__["call"] = previous


def _first(outputs):
    return outputs[0] if isinstance(outputs, tuple | list) else outputs


def endpoints(model) -> dict[str, Any]:
    """Model Garden endpoint layers by name: ``stem``, ``block{i}_layer{j}``, ``head``."""
    backbone = getattr(model, "_backbone", model)
    out = {}
    for layer in getattr(backbone, "layers", []):
        if isinstance(
            layer, movinet_layers.Stem | movinet_layers.MovinetBlock | movinet_layers.Head
        ):
            out[layer.name] = layer
    return out


def _classifier_head(model):
    for layer in getattr(model, "layers", []):
        if isinstance(layer, movinet_layers.ClassifierHead):
            return layer
    return None


def _owners(model) -> dict[int, str]:
    owners: dict[int, str] = {}
    for name, layer in endpoints(model).items():
        for sub in layer._flatten_layers(include_self=True, recursive=True):
            owners.setdefault(id(sub), name)
    head = _classifier_head(model)
    if head is not None:
        owners[id(head)] = "classifier_head"
    return owners


def _model_taps(model) -> list[tuple[Any, Callable]]:
    """The taps of one model (made once per model): they act only while a recorder is active."""
    taps: list[tuple[Any, Callable]] = []

    def on_endpoint(layer, name):
        def fn(args, kwargs, outputs):
            rec = _probe.active()
            if rec is None:
                return None
            a = _first(outputs)
            rec.record(layer, "activation", a)
            if name in rec.watch:
                rec.tape.watch(a)
                rec.acts[name] = a
            return None

        return fn

    for name, layer in endpoints(model).items():
        taps.append((layer, on_endpoint(layer, name)))
        pool = getattr(layer, "_pool", None)
        if isinstance(layer, movinet_layers.Head) and isinstance(
            pool, nn_layers.GlobalAveragePool3D
        ):

            def on_pool(args, kwargs, outputs, pool=pool):
                rec = _probe.active()
                if rec is not None:
                    rec.pool = (pool, args[0] if args else kwargs["inputs"], kwargs.get("states"))

            taps.append((pool, on_pool))
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, movinet_layers.StreamSqueezeExcitation) and hasattr(
            layer, "_se_expand"
        ):

            def on_se(args, kwargs, outputs, se=layer):
                rec = _probe.active()
                if rec is not None:
                    rec.record(se, "se", outputs)

            taps.append((layer._se_expand, on_se))
    return taps


def _user_taps(model) -> list[tuple[Any, Callable]]:
    taps: list[tuple[Any, Callable]] = []
    if not _USER_PROBES:
        return taps
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for cls, fn, kinds in _USER_PROBES:
            if isinstance(layer, cls):

                def after(args, kwargs, out, layer=layer, fn=fn, kinds=kinds):
                    rec = _probe.active()
                    if rec is None:
                        return None
                    x = args[0] if args else kwargs.get("inputs")
                    got = fn(layer, x, out)
                    items = got.items() if isinstance(got, Mapping) else [(kinds[0], got)]
                    for k, v in items:
                        rec.record(layer, k, v)
                    return None

                taps.append((layer, after))
    return taps


# -- the traced step -------------------------------------------------------------


def _reduce(kind: str, value, how: str | None):
    if how is None or kind not in SPATIAL_KINDS:
        return value
    if how == "mean":
        return tf.reduce_mean(value, axis=-1)
    if how == "norm":
        return tf.norm(value, axis=-1)
    return tf.reduce_max(value, axis=-1)


def _pooled(pool_record):
    """The stream head's features after every frame, ``[batch, time, 1, 1, channels]``.

    Model Garden's stream head keeps a running sum of per-frame spatial means
    (``GlobalAveragePool3D``); its output after frame ``t`` is that sum over
    frames ``<= t`` divided by their count: exactly what stepping one frame at a
    time gives, whatever the chunk.
    """
    pool, x, states = pool_record
    states = states or {}
    means = tf.reduce_mean(x, axis=[2, 3], keepdims=True)  # [B, T, 1, 1, C]
    buffer = states.get(pool._state_name)
    if buffer is None:
        buffer = tf.zeros_like(means[:, :1])
    count = tf.cast(states.get(pool._frame_count_name, tf.constant([0])), tf.int32)
    t = tf.shape(x)[1]
    divisors = tf.cast(tf.reshape(tf.range(t) + count + 1, [1, t, 1, 1, 1]), means.dtype)
    return (tf.cumsum(means, axis=1) + buffer) / divisors


def _frame_logits(model, pooled):
    """Per-frame logits ``[batch, time, classes]``: the classifier on :func:`_pooled`."""
    b, t, c = tf.shape(pooled)[0], tf.shape(pooled)[1], tf.shape(pooled)[-1]
    logits = _classifier_head(model)(tf.reshape(pooled, [b * t, 1, 1, 1, c]), training=False)
    return tf.reshape(logits, [b, t, -1])


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: Pieces that a traced stream call splits its chunk into (:func:`_in_pieces`),
#: when the chunk's length is a multiple; 1 turns pieces off. More pieces overlap
#: more, but each runs smaller kernels. Fastest for MoViNet-A0 on 2 cores
#: (``benchmarks/README.md``): 2 with TensorFlow's default threads, 4 with one
#: thread per kernel (:data:`PIECES_ONE_THREAD`, :func:`vizattn._tf.one_thread_per_kernel`).
PIECES = 2

#: :data:`PIECES` when each kernel runs on one thread.
PIECES_ONE_THREAD = 4


def _pieces() -> int:
    return PIECES_ONE_THREAD if intra_op_threads() == 1 else PIECES


#: The kinds whose records have one value per frame on axis 1 (or one per piece,
#: ``se``), which :func:`_in_pieces` can join.
PIECE_KINDS = frozenset(
    {"simam", "simam_energy", "simam_input", "activation", "se", "tada", "logits"}
)


def _traced(model, key, wants: Callable[[str], bool], reduce, frame_logits: bool, pieces: int = 1):
    """``run(image, states, classes)``, traced per model and options (the one cache), and
    per input shape where chunks run in pieces (:class:`_Traced`).

    Returns ``(records, logits, per_frame_logits, targets, new_states)``.
    ``frame_logits`` (streaming captures) gives the logits and the head's pooled
    features after every frame. With ``pieces`` > 1 (a causal stream model, no
    gradient kinds), a chunk whose length is a multiple of ``pieces`` runs as that
    many consecutive pieces inside one loop (:func:`_in_pieces`): the same values.
    """
    per_model = _TRACED.setdefault(model, {})
    full_key = (key, frame_logits, pieces)
    if full_key in per_model:
        return per_model[full_key]
    owners = _owners(model)
    stream = is_stream(model)
    watch = tuple(
        name
        for name in endpoints(model)
        if name != "head" and any(wants(f"{name}/{k}") for k in GRADIENT_KINDS)
    )
    meta: dict[str, dict] = {}
    ref = weakref.ref(model)  # the cache must not keep the model alive

    def step(image, states, classes):
        net = ref()
        rec = _probe.Recorder(owners, wants, transform=lambda n, k, v: _reduce(k, v, reduce))
        rec.watch, rec.acts, rec.pool = watch, {}, None
        tape = rec.tape = tf.GradientTape(persistent=False, watch_accessed_variables=False)
        with _probe.recording(rec), tape:
            if stream:
                logits, new_states = net({**states, "image": image}, training=False)
            else:
                logits, new_states = net({"image": image}, training=False), states
            targets = _targets(logits, classes)
            score = tf.reduce_sum(tf.gather(logits, targets, batch_dims=1)) if watch else None
        records = dict(rec.records)
        if watch:
            grads = tape.gradient(score, [rec.acts[n] for n in watch])
            for name, g in zip(watch, grads, strict=True):
                a = rec.acts[name]
                g = tf.zeros_like(a) if g is None else g
                if wants(f"{name}/gradcam"):
                    weights = tf.reduce_mean(g, axis=[2, 3])  # [B, T, C]: per frame
                    records[f"{name}/gradcam"] = tf.nn.relu(
                        tf.einsum("bthwc,btc->bthw", a, weights)
                    )
                if wants(f"{name}/grad_x_act"):
                    records[f"{name}/grad_x_act"] = tf.nn.relu(tf.reduce_sum(g * a, axis=-1))
        per_frame = None
        if frame_logits and stream and rec.pool is not None:
            pooled = _pooled(rec.pool)
            per_frame = _frame_logits(net, pooled)
            for name in records:
                if name.startswith("head/") and kind_of(name) == "activation":
                    # Per frame, as stepping gives: the layer returns the chunk's last
                    # (and, in a padded last chunk, an average over padding too).
                    records[name] = _reduce("activation", pooled, reduce)
        meta.update(rec.meta)
        return records, logits, per_frame, targets, new_states

    def run(image, states, classes):
        if pieces > 1 and not watch:
            try:
                return _in_pieces(step, image, states, classes, pieces)
            except _NoPiecesError:
                pass
        return step(image, states, classes)

    per_model[full_key] = (_Traced(run, exact=pieces > 1 and not watch), meta)
    return per_model[full_key]


#: Input shapes that get a traced function of their own, per model and capture
#: options, when their chunks run in pieces (:class:`_Traced`).
EXACT_SHAPES = 4


class _Traced:
    """``fn`` traced: one ``tf.function`` per input shape, or one for all shapes.

    A ``tf.function`` that has seen two input shapes traces again with the
    differing sizes left unknown (``reduce_retracing``), and a chunk of unknown
    length cannot run in pieces (:func:`_in_pieces`): every later call would be
    ~1.2-1.6x slower. So with ``exact``, each of the first :data:`EXACT_SHAPES`
    input shapes (a chunk length, a video's size) gets a trace of its own, and
    only further shapes share one with relaxed shapes. Without ``exact``, one
    relaxed ``tf.function`` serves all.

    Called like ``fn``; ``python_function`` is ``fn`` itself (eager runs).
    """

    def __init__(self, fn: Callable, *, exact: bool):
        self.python_function = fn
        self._exact: dict[tuple, Any] | None = {} if exact else None
        self._relaxed = tf.function(fn, reduce_retracing=True)

    def _for(self, image):
        if self._exact is not None:
            shape = tuple(image.shape)
            if shape not in self._exact and len(self._exact) < EXACT_SHAPES:
                self._exact[shape] = tf.function(self.python_function)
            if shape in self._exact:
                return self._exact[shape]
        return self._relaxed

    def __call__(self, image, states, classes):
        return self._for(image)(image, states, classes)

    def get_concrete_function(self, image, states, classes):
        """The concrete function that :meth:`__call__` runs for these inputs."""
        return self._for(image).get_concrete_function(image, states, classes)

    def experimental_get_tracing_count(self) -> int:
        """Traces so far, over all of this function's shapes."""
        functions = [self._relaxed, *(self._exact or {}).values()]
        return sum(f.experimental_get_tracing_count() for f in functions)


# Keys of _in_pieces' rows beside the records' names (which always hold a "/").
_PIECE_LOGITS, _PIECE_PER_FRAME = "logits of the piece", "per-frame logits"


class _NoPiecesError(Exception):
    """Raised while tracing :func:`_in_pieces` when a chunk cannot run in pieces."""


def _in_pieces(step, image, states, classes, count: int):
    """``step`` on ``count`` consecutive pieces of the chunk, states passed along, in one loop.

    A stream model gives the same values on a chunk and on its pieces in turn (the
    streaming contract). Inside one ``tf.while_loop`` whose iterations may overlap,
    block ``k`` of piece ``i + 1`` waits only for block ``k`` of piece ``i`` and
    block ``k - 1`` of piece ``i + 1``, so TensorFlow runs one piece's late blocks
    beside the next piece's early ones and keeps more cores busy than one call on
    the whole chunk, whose small kernels leave cores idle. The loop body is traced
    once, so tracing costs what one call does.

    Every record must have time on axis 1 (one value per frame, or one per piece
    for ``se``); each piece's records are flattened into one ``[batch, piece, d]``
    row of a ``TensorArray`` and split again after the loop.

    Raises:
      _NoPiecesError: while tracing, if the chunk's length is unknown or not a multiple
        of ``count``, or a record has another layout.
    """
    n = image.shape[1]
    if n is None or n % count or None in image.shape[2:]:
        raise _NoPiecesError
    piece = n // count
    xs = tf.reshape(image, [-1, count, piece, *image.shape[2:]])
    layout: dict = {}  # filled while the body is traced (once)

    def body(i, states, rows):
        records, logits, per_frame, _, new_states = step(xs[:, i], states, classes)
        b = tf.shape(logits)[0]
        values = {**records, _PIECE_LOGITS: tf.repeat(logits[:, None], piece, axis=1)}
        if per_frame is not None:
            values[_PIECE_PER_FRAME] = per_frame
        flat = []
        for name, v in values.items():
            if v.shape.rank < 2 or None in v.shape[2:]:
                raise _NoPiecesError
            if v.shape[1] == 1 and piece > 1 and kind_of(name) == "se":
                v = tf.broadcast_to(v, [b, piece, *v.shape[2:]])  # one gate per piece
            elif v.shape[1] != piece:
                raise _NoPiecesError
            layout[name] = (v.dtype, v.shape[2:])
            flat.append(tf.reshape(tf.cast(v, tf.float32), [b, piece, -1]))
        return i + 1, new_states, rows.write(i, tf.concat(flat, axis=-1))

    rows = tf.TensorArray(tf.float32, size=count)
    _, states, rows = tf.while_loop(
        lambda i, *_: i < count,
        body,
        (tf.constant(0), states, rows),
        parallel_iterations=count,
    )
    stacked = rows.stack()  # [count, batch, piece, d]
    flat = tf.reshape(tf.transpose(stacked, [1, 0, 2, 3]), [tf.shape(stacked)[1], n, -1])
    sizes = [int(np.prod(shape, dtype=np.int64)) for _, shape in layout.values()]
    out = {}
    for (name, (dtype, shape)), part in zip(
        layout.items(), tf.split(flat, sizes, axis=-1), strict=True
    ):
        out[name] = tf.cast(tf.reshape(part, [-1, n, *shape]), dtype)
    logits = out.pop(_PIECE_LOGITS)[:, -1]
    per_frame = out.pop(_PIECE_PER_FRAME, None)
    return out, logits, per_frame, _targets(logits, classes), states


def _targets(logits, classes):
    """The class each batch item explains: ``classes`` where given (>= 0), else the top one."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.where(classes >= 0, classes, predicted)


# -- options ---------------------------------------------------------------------


class _Plan:
    """Validated options of one capture, and its traced function."""

    def __init__(self, model, *, names, kinds, reduce, class_index, stream, chunk, eager=False):
        user_kinds = {k for _, _, ks in _USER_PROBES for k in ks}
        if kinds is None:
            kinds = (*DEFAULT_KINDS, *sorted(user_kinds))
        kinds = tuple([kinds] if isinstance(kinds, str) else kinds)
        unknown = [k for k in kinds if k not in KINDS and k not in user_kinds]
        if unknown:
            extra = (
                f" or a registered probe kind ({', '.join(sorted(user_kinds))})"
                if user_kinds
                else ""
            )
            raise VizAttnError(
                f"unknown kind {unknown[0]!r}; use one of {', '.join(KINDS)}{extra}."
            )
        if reduce not in (None, "mean", "norm", "max"):
            raise VizAttnError(f"unknown reduce {reduce!r}; use 'mean', 'norm', 'max' or None.")
        if stream and not is_stream(model):
            raise VizAttnError(
                "streaming needs a stream model; build it with build_movinet(..., stream=True)."
            )
        if not endpoints(model):
            raise VizAttnError(
                f"{type(model).__name__} has no MoViNet endpoints; pass a model from "
                "vizattn.build_movinet or vizattn.load_model."
            )
        if int(chunk) < 1:
            raise VizAttnError(f"chunk must be >= 1 frame, got {chunk!r}.")
        self.model = model
        self.stream = stream
        self.stream_model = is_stream(model)
        self.chunk = int(chunk)
        self.kinds = frozenset(kinds)
        self.reduce = reduce
        if names is not None and not callable(names):
            items = _names.name_list(names)
            available = [*endpoints(model), "classifier_head"]
            for item in items:
                _names.resolve(item.split("/", 1)[0], available, what="layer")
                if item == "head" and set(kinds) <= set(GRADIENT_KINDS):
                    raise VizAttnError(
                        "layer 'head' is pooled over space and time, so it has no map; "
                        f"use 'stem' or a block such as {available[-3].split('_')[0]!r}."
                    )
        self.names = names
        match = _names.matcher(names)
        self.match = match
        kind_set = self.kinds

        def wants(name: str) -> bool:
            return kind_of(name) in kind_set and match(name)

        self.wants = wants
        self.per_step = stream and bool(self.kinds & {"state", *GRADIENT_KINDS})
        if callable(names):
            names_key: Any = ("fn", id(names))
        else:
            names_key = names if isinstance(names, str | None) else tuple(names)
        self.class_index = class_index
        self.eager = bool(eager)
        self.taps = _taps_of(model)
        info = model_info(model)
        self.causal = stream and not (info is not None and info.simam == "clip")
        pieces = (
            _pieces()
            if self.causal and not self.per_step and not eager and kind_set <= PIECE_KINDS
            else 1
        )
        self.run, self.meta = _traced(
            model, (names_key, kind_set, reduce), wants, reduce, frame_logits=stream, pieces=pieces
        )

    def classes(self, batch: int) -> np.ndarray:
        return _classes(self.class_index, batch, self.model)


_TAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _taps_of(model) -> list:
    taps = _TAPS.get(model)
    if taps is None:
        taps = _TAPS[model] = _model_taps(model)
    return taps + _user_taps(model)


def _classes(class_index, batch: int, model) -> np.ndarray:
    """Target classes ``int32 [batch]``; -1 means "the predicted class"."""
    if class_index is None or (isinstance(class_index, str) and class_index == "top"):
        return np.full([batch], -1, np.int32)
    info = model_info(model)
    num_classes = info.num_classes if info is not None else getattr(model, "_num_classes", None)
    if isinstance(class_index, str):
        from vizattn.labels import class_names, resolve_class

        resolved = resolve_class(class_index, class_names(model))
        return _classes(resolved, batch, model)
    values = np.atleast_1d(np.asarray(class_index))
    if not np.issubdtype(values.dtype, np.integer) or values.ndim != 1:
        raise VizAttnError(
            f"class_index must be an int, a class name, 'top' or one int per batch item, "
            f"got {class_index!r}."
        )
    if values.size == 1:
        values = np.repeat(values, batch)
    if values.size != batch:
        raise VizAttnError(
            f"class_index has {values.size} entries for a batch of {batch}; give one int "
            "or one per batch item."
        )
    top = int(num_classes) if num_classes is not None else np.iinfo(np.int32).max
    bad = [int(v) for v in values if not 0 <= v < top]
    if bad:
        raise VizAttnError(
            f"class_index {bad[0]} is out of range; the model has {num_classes} classes "
            f"(0 to {top - 1})."
        )
    return values.astype(np.int32)


# -- the streaming core ----------------------------------------------------------


def _chunks(frames, chunk: int, size) -> Iterator[np.ndarray]:
    """Float32 ``[batch, n, h, w, 3]`` chunks of ``chunk`` frames; only the last may be shorter.

    Chunks are stacked and preprocessed in a background thread, up to two ahead,
    so that resizing chunk ``i + 1`` overlaps the model's call on chunk ``i``.
    Each is yielded as soon as it is ready (no look-ahead for the last one).
    """

    def groups() -> Iterator[np.ndarray]:
        if isinstance(frames, np.ndarray) or hasattr(frames, "numpy"):
            x = as_clip(frames, size=size)
            for start in range(0, x.shape[1], chunk):
                yield x[:, start : start + chunk]
            return
        batch: list = []
        prepare = _first_chunk
        for frame in frames:
            image = getattr(frame, "image", frame)  # vizattn.video.Frame or an array
            batch.append(np.asarray(image))
            if len(batch) == chunk:
                yield prepare(batch, size)
                batch, prepare = [], _stacked
        if batch:
            yield prepare(batch, size)

    empty = True
    with contextlib.closing(threaded(groups(), 2)) as ready:
        for x in ready:
            empty = False
            yield x
    if empty:
        raise VizAttnError("no frames to run; the clip or video is empty.")


def _first_chunk(batch: list, size) -> np.ndarray:
    """:func:`~vizattn.models.as_clip` of the first chunk, its two halves resized at once.

    Nothing else is ready to run while the first chunk is resized (the model
    waits for it), so two threads share the work. The values are those of one
    call: ``as_clip`` treats frames independently.
    """
    if size is None or len(batch) < 2:
        return _stacked(batch, size)
    half = len(batch) // 2
    later = in_background(_stacked, batch[half:], size)
    return np.concatenate([_stacked(batch[:half], size), later.result()], axis=1)


def _stacked(batch: list, size) -> np.ndarray:
    """:func:`~vizattn.models.as_clip` of a list of frames."""
    return as_clip(np.stack(batch), size=size)


def _chunk_shape(frames, chunk: int, size) -> tuple[int, ...] | None:
    """The shape of :func:`_chunks`'s chunks, when known before the first is decoded:
    frames one by one, resized to ``size``."""
    if size is None or isinstance(frames, np.ndarray) or hasattr(frames, "numpy"):
        return None
    return (1, int(chunk), int(size[0]), int(size[1]), 3)


def _attention_rows(value: np.ndarray, start: int, n: int, window: int) -> np.ndarray:
    """Routing attention ``[B, h, n', (w-1)+n']`` of a chunk -> ``[B, h, n, start + n]``."""
    b, h = value.shape[:2]
    out = np.zeros((b, h, n, start + n), value.dtype)
    first = start - (window - 1)  # the frame of column 0
    skip = max(0, -first)
    cols = value[:, :, :n, skip : skip + (start + n - max(0, first))]
    out[:, :, :, max(0, first) : max(0, first) + cols.shape[-1]] = cols
    return out


def _to_numpy(records, n: int, start: int, meta: dict, time_total: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in records.items():
        v = value.numpy()
        kind = kind_of(name)
        if kind == "se":
            v = v.reshape(v.shape[0], v.shape[1], -1)
            if v.shape[1] != time_total:
                v = np.broadcast_to(v, (v.shape[0], time_total, v.shape[2])).copy()
            v = v[:, :n]
        elif kind == "tada_attention":
            v = _attention_rows(v, start, n, int(meta.get(name, {}).get("window", 1)))
        elif v.ndim >= 2 and kind != "logits":
            v = v[:, :n]
        out[name] = v
    return out


def _step(plan: _Plan, x: np.ndarray, states, classes):
    # Eager runs the same Python function without tracing it (see capture_stream).
    run = plan.run.python_function if plan.eager else plan.run
    with tap(plan.taps), xla_quiet(not plan.stream_model):
        return run(tf.constant(x), states, tf.constant(classes))


def _run_stream(
    plan: _Plan,
    chunks: Iterator[np.ndarray],
    *,
    clip_logits: bool = False,
    shape: tuple[int, ...] | None = None,
) -> Iterator[Cache]:
    """The one streaming loop: ``plan`` on every chunk, states carried.

    With the chunks' ``shape`` known in advance, the zero states (tens of
    milliseconds of eager work) are made in a thread while the first chunk is
    decoded and resized, instead of after it.
    """
    zero = None
    if shape is not None and is_stream(plan.model):
        zero = in_background(init_states, plan.model, shape)
    states = None
    start = 0
    info = model_info(plan.model)
    for x in chunks:
        b, n = x.shape[:2]
        if states is None:
            if zero is not None and (b, *x.shape[2:]) == (shape[0], *shape[2:]):
                states = zero.result()
            else:
                states = init_states(plan.model, x.shape)
        classes = plan.classes(b)
        step_states: list[dict] = []
        if plan.per_step:
            parts, logits, targets = [], [], []
            for t in range(n):
                records, lg, per_frame, tg, states = _step(plan, x[:, t : t + 1], states, classes)
                parts.append(_to_numpy(records, 1, start + t, plan.meta, 1))
                logits.append(lg.numpy())
                targets.append(tg.numpy())
                if "state" in plan.kinds:
                    step_states.append(
                        {
                            k: v.numpy()
                            for k, v in states.items()
                            if plan.match(_names.state_endpoint(k) + "/state")
                        }
                    )
            arrays = {k: _join([p[k] for p in parts], kind_of(k), start) for k in parts[0]}
            frame_logits = np.stack(logits, axis=1)
            target = np.stack(targets, axis=1)
        else:
            feed = x
            if plan.causal and not plan.eager and start > 0 and n < plan.chunk:
                # Pad the stream's last, short chunk with its last frame so the traced
                # function is reused: causal outputs of real frames cannot depend on it.
                pad = np.repeat(x[:, -1:], plan.chunk - n, axis=1)
                feed = np.concatenate([x, pad], axis=1)
            records, lg, per_frame, tg, states = _step(plan, feed, states, classes)
            arrays = _to_numpy(records, n, start, plan.meta, feed.shape[1])
            frame_logits = per_frame.numpy()[:, :n] if per_frame is not None else None
            if frame_logits is None or clip_logits:
                frame_logits = lg.numpy()
            target = np.repeat(tg.numpy()[:, None], n, axis=1)
        if "logits" in plan.kinds:  # the model's output: whatever ``names`` selects
            arrays[LOGITS_NAME] = frame_logits
        if start == 0:
            _check_captured(plan, arrays, step_states)
        metadata = {
            "model": info.as_dict() if info else {},
            "options": {
                "names": repr(plan.names),
                "kinds": sorted(plan.kinds),
                "stream": plan.stream,
                "reduce": plan.reduce,
                "class_index": repr(plan.class_index),
            },
            "clip": {"shape": [b, n, *x.shape[2:]]},
            "start": start,
            "targets": target.tolist() if plan.kinds & set(GRADIENT_KINDS) else None,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        yield Cache(arrays, states=step_states or None, metadata=metadata)
        start += n


def _check_captured(plan: _Plan, arrays: dict, states: list) -> None:
    """Raises when a capture recorded none of the kinds it was asked for (an empty
    :class:`Cache` would fail later, far from the cause)."""
    asked = sorted(plan.kinds - {"logits"})
    if not asked or states or any(kind_of(n) != "logits" for n in arrays):
        return
    info = model_info(plan.model)
    reasons = []
    if info is not None and info.simam is None and any(k.startswith("simam") for k in asked):
        reasons.append("the model has no SimAM (build_movinet(..., simam='frame'))")
    if info is not None and info.tada is None and any(k.startswith("tada") for k in asked):
        reasons.append("the model has no TAdaConv (build_movinet(..., tada='v1'))")
    if not reasons:
        reasons.append(f"no layer that names={plan.names!r} selects records them")
    raise VizAttnError(
        f"captured nothing of kind {', '.join(map(repr, asked))}: {'; '.join(reasons)}; "
        "list what a model records with `vizattn layers`."
    )


def _join(parts: list[np.ndarray], kind: str, start: int) -> np.ndarray:
    if kind == "tada_attention":  # rows [B, h, 1, start + t + 1] -> [B, h, n, start + n]
        n = len(parts)
        out = np.zeros((*parts[0].shape[:2], n, start + n), parts[0].dtype)
        for t, p in enumerate(parts):
            out[:, :, t, : p.shape[-1]] = p[:, :, 0]
        return out
    if kind == "logits" or parts[0].ndim < 2:
        return parts[-1]
    return np.concatenate(parts, axis=1)


# -- public ----------------------------------------------------------------------


def capture_stream(
    model,
    frames,
    *,
    chunk: int = 16,
    names: _names.NameFilter = None,
    kinds: Iterable[str] | None = None,
    reduce: str | None = None,
    class_index=None,
    size: tuple[int, int] | None = None,
    eager: bool = False,
) -> Iterator[Cache]:
    """Streams frames through a stream model and yields one :class:`Cache` per chunk.

    States are carried across chunks, so a long video gives exactly what one
    frame-by-frame pass would, with bounded memory.

    Args:
      model: a stream model from :func:`vizattn.build_movinet` / :func:`vizattn.load_model`.
      frames: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]`` (or float in [0, 1]), or
        any iterable of ``[H, W, 3]`` frames (arrays or :class:`vizattn.video.Frame`).
      chunk: frames per yielded cache (and per model call for kinds that need no
        per-frame stepping).
      names: which hooks (see :mod:`vizattn.names`); ``None`` for all. The
        logits (kind ``logits``) are kept whatever ``names`` selects.
      kinds: which kinds (see :mod:`vizattn.cache`); ``None`` for every kind
        that needs no gradient (add ``"gradcam"``/``"grad_x_act"`` by name).
      reduce: ``None``, ``"mean"``, ``"norm"`` or ``"max"`` over channels for the
        spatial kinds, done inside the traced function.
      class_index: the class that gradient kinds explain: an index, a class name,
        ``"top"`` (default: the class predicted at each frame) or one index per
        batch item.
      size: ``(height, width)`` to resize frames to (:func:`vizattn.models.as_clip`).
      eager: run the model eagerly instead of tracing it. Tracing costs seconds
        once, then every call is fast; eager calls cost more each but nothing up
        front, so eager wins for a few model calls (a short video). Same values.

    Yields:
      A :class:`Cache` per chunk; ``cache.metadata["start"]`` is its first frame.
      Join them with :meth:`Cache.concat`.
    """
    plan = _Plan(
        model,
        names=names,
        kinds=kinds,
        reduce=reduce,
        class_index=class_index,
        stream=True,
        chunk=chunk,
        eager=eager,
    )
    chunks = _chunks(frames, plan.chunk, size)
    with contextlib.closing(chunks):  # stops its thread, even when the caller stops early
        yield from _run_stream(plan, chunks, shape=_chunk_shape(frames, plan.chunk, size))


def capture(
    model,
    clip,
    *,
    names: _names.NameFilter = None,
    kinds: Iterable[str] | None = None,
    stream: bool = False,
    reduce: str | None = None,
    class_index=None,
    chunk: int | None = None,
) -> Cache:
    """Runs ``model`` on ``clip`` and returns what its layers computed.

    Args:
      model: a model from :func:`vizattn.build_movinet` or :func:`vizattn.load_model`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]``, or float in [0, 1].
      names: which hooks: a prefix (``"block3"``), a list, or a predicate on
        ``"{endpoint}/{kind}"``; ``None`` for all (see :mod:`vizattn.names`).
        The logits (kind ``logits``), the model's output, are kept whatever
        ``names`` selects.
      kinds: which kinds (see :mod:`vizattn.cache`); ``None`` for every kind
        that needs no gradient (add ``"gradcam"``/``"grad_x_act"`` by name).
      stream: stream with states (stream models only): logits per frame,
        gradient kinds explaining each frame's prediction, and
        ``cache.states[t]`` with the states after frame ``t`` (kind ``state``).
        Without it the clip runs at once from zero states; logits are the
        clip's ``[batch, classes]`` and gradient kinds explain them.
      reduce: ``None``, ``"mean"``, ``"norm"`` or ``"max"`` over channels for the
        spatial kinds, done while capturing.
      class_index: target of the gradient kinds (an index, a name, ``"top"``).
      chunk: with ``stream``, frames per model call (default: the whole clip).

    Returns:
      A :class:`Cache`.
    """
    x = as_clip(clip)
    plan = _Plan(
        model,
        names=names,
        kinds=kinds,
        reduce=reduce,
        class_index=class_index,
        stream=stream,
        chunk=(x.shape[1] if chunk is None else chunk) if stream else x.shape[1],
    )
    caches = list(_run_stream(plan, _chunks(x, plan.chunk, None), clip_logits=not stream))
    cache = Cache.concat(caches)
    cache.metadata["clip"] = {"shape": list(x.shape)}
    return cache


def predict(model, clip) -> np.ndarray:
    """Logits of the whole clip at once: ``[batch, classes]``.

    Args:
      model: a model from :func:`vizattn.build_movinet`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]`` or float in [0, 1].
    """
    return capture(model, clip, kinds=["logits"])[LOGITS_NAME]


def predict_stream(model, clip, *, chunk: int = 16) -> np.ndarray:
    """Logits after every frame, streaming with states: ``[batch, time, classes]``.

    The logits at frame ``t`` use frames ``<= t`` only and do not depend on
    ``chunk`` (frames per model call).
    """
    if not is_stream(model):
        raise VizAttnError(
            "predict_stream needs a stream model; build it with build_movinet(..., stream=True)."
        )
    caches = capture_stream(model, clip, chunk=chunk, kinds=["logits"])
    return np.concatenate([c[LOGITS_NAME] for c in caches], axis=1)


def gradcam(
    model,
    clip,
    names: _names.NameFilter = "block3",
    class_index=None,
    *,
    stream: bool = False,
    normalize: str | None = "clip",
) -> np.ndarray:
    """Per-frame Grad-CAM maps ``[batch, time, h, w]``: ``capture(kinds=["gradcam"])`` + maps.

    The channel weights are the gradients averaged over ``h x w`` *per frame*
    (each frame is the image of ordinary Grad-CAM); the map of frame ``t`` is
    ``ReLU(sum_c w[t, c] A[t, :, :, c])``. With ``stream=True`` step ``t``'s map
    explains the prediction made at step ``t`` from frames ``<= t``.

    Args:
      model: a model from :func:`vizattn.build_movinet`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]`` or float in [0, 1].
      names: an endpoint, a block (the average of its layers), or a list.
      class_index: an index, a class name, ``"top"``/``None`` (the prediction)
        or one index per batch item.
      stream: explain every frame's own prediction (stream models).
      normalize: ``"clip"``, ``"frame"``, ``"auto"`` (per frame: see
        :func:`vizattn.cache.default_normalize`) or ``None`` (raw logit units).
    """
    cache = capture(
        model, clip, names=names, kinds=["gradcam"], stream=stream, class_index=class_index
    )
    return cache.frame_maps(names, "gradcam", normalize=normalize)
