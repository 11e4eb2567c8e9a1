"""Per-frame Grad-CAM at any MoViNet endpoint: ``gradcam(model, clip, layer) -> [B, T, H, W]``.

Grad-CAM (Selvaraju et al., 2017) explains a class score ``y`` through the
activation ``A`` of a layer: channel weights are the spatially averaged
gradients ``dy/dA``, and the map is ``ReLU(sum_c w_c A_c)``. For video the
activation is ``[batch, time, h, w, channels]`` and there is one choice to
make: over which positions the gradient is averaged into a weight.

Here the weights are averaged over ``h x w`` **per frame**:
``w[b, t, c] = mean_{h,w} dy/dA[b, t, h, w, c]``, so each frame is treated as
the image of ordinary Grad-CAM. Averaging over ``T x h x w`` instead would give
one weight per channel for the whole clip, blurring the frames where a channel
drives the score with those where it does not; and in the streaming setting a
step only ever has its own frame. The map of frame ``t`` is then
``ReLU(sum_c w[b, t, c] A[b, t, :, :, c])``.

Two ways to run (``stream``):

* ``stream=False`` (default): the whole clip at once (stream models get zero
  initial states, like :func:`vizattn.models.predict`); ``y`` is the clip's
  logit, and the map of frame ``t`` shows how frame ``t``'s activation drives
  it (for the base 3D model this includes the influence of later frames).
* ``stream=True`` (stream models): frame by frame carrying states; the map at
  step ``t`` explains the prediction made *at step* ``t`` from frames
  ``<= t``: the gradient of step ``t``'s logit with respect to step ``t``'s
  activation. The states are inputs of each step, so no gradient flows back
  into earlier frames, and a map never changes when later frames change.

The target is the logit of ``class_index``, by default the predicted class of
each batch item (in stream mode, the class predicted at that step).

Maps are normalized per clip by default (``normalize="clip"``): each batch
item's maps are divided by their maximum over the whole clip, so zero stays
"no positive evidence" and changes over time stay visible. ``"frame"`` divides
each frame by its own maximum; ``None`` returns the raw values (in logit units).
A block prefix (``"block3"``) averages the raw maps of its layers, resized to
the largest of them, before normalizing.

>>> maps = gradcam(model, clip, "block3")                # doctest: +SKIP
>>> maps.shape                                           # [B, T, h, w] in [0, 1]  # doctest: +SKIP
(1, 8, 4, 4)

How it works: the endpoint layers' ``call`` is wrapped *on this model's
instances* (never the class) while a ``tf.function`` is traced, recording the
activation inside a ``tf.GradientTape``; the wrapper is always removed. The
traced function is cached per model and layer, so repeated calls with the
same shapes do not retrace.
"""

from __future__ import annotations

import contextlib
import difflib
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vizattn._tf import import_tf
from vizattn.errors import VizAttnError
from vizattn.models import as_clip, init_states, is_stream

tf = import_tf()

__all__ = ["gradcam", "resolve_layers", "tap_outputs"]

_MISSING = object()
NORMALIZE = ("clip", "frame", None)


# -- instance wrappers -----------------------------------------------------------


@contextlib.contextmanager
def tap_outputs(layers: Mapping[str, Any], fn: Callable[[str, Any], Any]) -> Iterator[None]:
    """Wraps ``call`` of the given layer *instances* for the duration of the block.

    ``fn(name, outputs)`` runs after each call of layer ``name`` and may return
    replacement outputs (``None`` keeps them). Whatever was in the instance's
    ``__dict__`` before (for example a probe of :func:`vizattn.capture`) is put
    back afterwards, even on error.
    """
    saved = []
    try:
        for name, layer in layers.items():
            previous = layer.__dict__.get("call", _MISSING)
            original = layer.call

            def call(*args, _original=original, _name=name, **kwargs):
                outputs = _original(*args, **kwargs)
                replaced = fn(_name, outputs)
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


# -- layer names -----------------------------------------------------------------


def _endpoints(model) -> dict[str, Any]:
    from vizattn.capture import endpoints

    return endpoints(model)


def resolve_layers(model, layer: str | Sequence[str], *, what: str = "Grad-CAM") -> list[str]:
    """Endpoint names for an endpoint, a block prefix (``"block3"``) or a list of them.

    ``head`` (pooled over space and time) is refused. Unknown names raise
    :class:`~vizattn.errors.VizAttnError` listing the closest names.
    """
    names = [n for n in _endpoints(model) if n != "head"]
    if not names:
        raise VizAttnError(
            f"{type(model).__name__} has no MoViNet endpoints; pass a model from "
            "vizattn.build_movinet."
        )
    wanted = [layer] if isinstance(layer, str) else list(layer)
    if not wanted:
        raise VizAttnError(f"no layer given for {what}; use e.g. 'block3' or 'block3_layer1'.")
    chosen: list[str] = []
    for item in wanted:
        if not isinstance(item, str):
            raise VizAttnError(f"layer must be a string such as 'block3', got {item!r}.")
        if item == "head":
            raise VizAttnError(
                f"layer 'head' is pooled over space and time, so it has no {what} map; "
                f"use 'stem' or a block such as {names[-1]!r}."
            )
        found = [n for n in names if n == item or n.startswith(item + "_")]
        if not found:
            options = sorted(set(names) | {n.split("_")[0] for n in names})
            close = difflib.get_close_matches(item, options, n=3, cutoff=0.4)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            blocks = sorted({n.split("_")[0] for n in names if n.startswith("block")})
            raise VizAttnError(
                f"unknown layer {item!r}; {hint}use 'stem', a block "
                f"({', '.join(blocks)}) or an endpoint such as {names[-1]!r}."
            )
        chosen += [n for n in found if n not in chosen]
    return chosen


# -- traced function -------------------------------------------------------------

_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _gradcam_fn(model, names: tuple[str, ...]):
    """``run(image, states, classes) -> (cams, logits, targets, states)``, cached."""
    per_model = _FUNCTIONS.setdefault(model, {})
    if names in per_model:
        return per_model[names]
    ref = weakref.ref(model)  # the cache must not keep the model alive
    stream = is_stream(model)

    @tf.function(reduce_retracing=True)
    def run(image, states, classes):
        net = ref()
        layers = _endpoints(net)
        acts: dict[str, Any] = {}
        with tf.GradientTape() as tape:

            def record(name, outputs):
                a = _first(outputs)
                tape.watch(a)
                acts[name] = a

            with tap_outputs({n: layers[n] for n in names}, record):
                if stream:
                    logits, new_states = net({**states, "image": image}, training=False)
                else:
                    logits, new_states = net({"image": image}, training=False), states
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            targets = tf.where(classes >= 0, classes, predicted)
            # Batch items are independent at inference, so one gradient of the
            # sum gives every item the gradient of its own target logit.
            score = tf.reduce_sum(tf.gather(logits, targets, batch_dims=1))
        grads = tape.gradient(score, [acts[n] for n in names])
        cams = []
        for n, g in zip(names, grads, strict=True):
            a = acts[n]
            if g is None:  # the target does not depend on this activation
                g = tf.zeros_like(a)
            weights = tf.reduce_mean(g, axis=[2, 3])  # [B, T, C]: per frame
            cams.append(tf.nn.relu(tf.einsum("bthwc,btc->bthw", a, weights)))
        return cams, logits, targets, new_states

    per_model[names] = run
    return run


# -- public ----------------------------------------------------------------------


def _classes(class_index, batch: int, num_classes: int | None) -> np.ndarray:
    if class_index is None:
        return np.full([batch], -1, np.int32)
    values = np.atleast_1d(np.asarray(class_index))
    if not np.issubdtype(values.dtype, np.integer) or values.ndim != 1:
        raise VizAttnError(
            f"class_index must be an int or one int per batch item, got {class_index!r}."
        )
    if values.size == 1:
        values = np.repeat(values, batch)
    if values.size != batch:
        raise VizAttnError(
            f"class_index has {values.size} entries for a batch of {batch}; give one int "
            "or one per batch item."
        )
    top = num_classes if num_classes is not None else np.iinfo(np.int32).max
    bad = [int(v) for v in values if not 0 <= v < top]
    if bad:
        raise VizAttnError(
            f"class_index {bad[0]} is out of range; the model has {num_classes} classes "
            f"(0 to {top - 1})."
        )
    return values.astype(np.int32)


def _num_classes(model) -> int | None:
    from vizattn.models import model_info

    info = model_info(model)
    if info is not None:
        return int(info.num_classes)
    n = getattr(model, "_num_classes", None)
    return int(n) if n is not None else None


def _normalize(maps: np.ndarray, how: str | None) -> np.ndarray:
    if how is None:
        return maps.astype(np.float32)
    axes = (1, 2, 3) if how == "clip" else (2, 3)
    hi = maps.max(axis=axes, keepdims=True)
    return (maps / np.where(hi > 0, hi, 1.0)).astype(np.float32)


def gradcam(
    model,
    clip,
    layer: str | Sequence[str],
    class_index: int | Sequence[int] | None = None,
    *,
    stream: bool = False,
    normalize: str | None = "clip",
) -> np.ndarray:
    """Per-frame Grad-CAM maps ``[batch, time, h, w]`` of ``layer``.

    Args:
      model: a model from :func:`vizattn.build_movinet`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]``, or float in [0, 1].
      layer: an endpoint (``"block3_layer1"``), a block prefix (``"block3"``:
        the average of its layers' maps, resized to the largest), ``"stem"``,
        or a list of these.
      class_index: the class whose logit is explained: an int, one int per
        batch item, or ``None`` for the predicted class of each item (per step
        when ``stream``).
      stream: run frame by frame carrying states (stream models only); the
        map at step ``t`` explains the prediction made at step ``t``.
      normalize: ``"clip"`` (divide each item's maps by their maximum over the
        clip), ``"frame"`` (by each frame's maximum) or ``None`` (raw values).

    Returns:
      float32 ``[batch, time, h, w]`` at the endpoint's resolution, in [0, 1]
      unless ``normalize=None``.
    """
    if normalize not in NORMALIZE:
        raise VizAttnError(f"unknown normalize {normalize!r}; use 'clip', 'frame' or None.")
    if stream and not is_stream(model):
        raise VizAttnError(
            "gradcam(stream=True) needs a stream model; build it with "
            "build_movinet(..., stream=True) or use stream=False."
        )
    names = tuple(resolve_layers(model, layer))
    x = as_clip(clip)
    batch, time = x.shape[:2]
    classes = tf.constant(_classes(class_index, batch, _num_classes(model)))
    run = _gradcam_fn(model, names)
    states = init_states(model, x.shape)
    if not stream:
        cams, _, _, _ = run(tf.constant(x), states, classes)
        per_layer = [c.numpy() for c in cams]
    else:
        steps = []
        for t in range(time):
            cams, _, _, states = run(tf.constant(x[:, t : t + 1]), states, classes)
            steps.append([c.numpy() for c in cams])
        per_layer = [np.concatenate([s[i] for s in steps], axis=1) for i in range(len(names))]
    h = max(m.shape[2] for m in per_layer)
    w = max(m.shape[3] for m in per_layer)
    from vizattn.capture import _resize_bthw  # one resize for cache maps and Grad-CAM

    maps = np.mean([_resize_bthw(m, h, w) for m in per_layer], axis=0)
    return _normalize(maps, normalize)


class _CallableModule(__import__("types").ModuleType):
    """Lets ``vizattn.gradcam(...)`` call the function even after the module of the same
    name has been imported (Python then binds the package attribute to the module)."""

    def __call__(self, *args, **kwargs):
        return gradcam(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
