"""Does anything read the future? ``check_causal(layer_or_model, clip_shape) -> CausalReport``.

A video layer is *causal* when output frame ``t`` depends on input frames
``<= t`` only; only then can it stream. :func:`check_causal` measures the
dependency matrix ``D[t_out, t_in]`` (how much input frame ``t_in`` moves output
frame ``t_out``) and reports every entry above the diagonal that is above
``tol``:

>>> report = check_causal(CausalSimAM(mode="clip"), (1, 4, 8, 8, 4))   # doctest: +SKIP
>>> report                                                             # doctest: +SKIP
CausalReport of CausalSimAM 'causal_sim_am'
LEAKS: 6 future dependencies (perturb, tol=1e-06); worst: output frame 0 reads input frame 3 (0.137)
D[t_out, t_in]: '#' depends, '!' depends on a later frame (leak), '.' no
t_out \\ t_in 0 1 2 3
           0 # ! ! !
           1 # # ! !
           2 # # # !
           3 # # # #
>>> report.causal, report.worst                                         # doctest: +SKIP
(False, (0, 3, 0.137...))

Methods:

* ``"perturb"``: for each input frame ``t_in``, add random noise to that frame
  only and record, for every output frame, the largest absolute change:
  ``D[:, t_in]``. Deterministic for a given ``seed``. It measures what the
  layer *does*, including effects no gradient sees (``argmax``, thresholds).
* ``"grad"``: for each output frame, the gradient of ``sum(output[t_out] * r)``
  (``r`` a fixed random tensor) with respect to the input; ``D[t_out, t_in]``
  is the largest absolute gradient over frame ``t_in``. Exact zeros where
  there is no path, so it is immune to rounding noise.

Either way the values are reduced over every axis but time (batch, height,
width, channels) with a maximum of absolute values.

What can be checked:

* a Keras layer or any callable taking ``[batch, time, ...]`` and returning a
  tensor or ``(tensor, states)`` (the first item is used): vizattn's
  ``CausalSimAM``, ``TAdaRouting``, ``TAdaConv2D``, Model Garden's or
  vizattn's MoViNet blocks, your own layers. Inputs are standard normal
  (seeded); perturbations add standard normal noise to one frame.
* a whole model from :func:`vizattn.build_movinet`: ``D`` is measured on the
  activation of one endpoint over time, by default the last block before the
  head pools time away (``endpoint="block3_layer1"`` or ``"block3"``, its last
  layer, to choose). Stream models run on the whole clip with zero initial
  states; inputs are uniform in [0, 1] and a perturbation replaces the frame
  with another uniform frame. The clip is batched (one batch item per
  perturbation, baseline included in every batch), which is exact for these
  models: batch items do not interact at inference. Remember that a freshly
  built model multiplies every block's residual branch by a zero ``rezero``
  scale; use :func:`vizattn.testing.randomize` first, or the modules inside
  the blocks are never seen.

Time axes: the output's time axis is its axis 1. When a layer changes the
number of frames (``T_out != T_in``, temporal striding), output frame
``t_out`` is allowed to read input frames up to
``floor((t_out + 1) * T_in / T_out) - 1``; anything later is a leak.

Command line: ``vizattn check-causal --simam clip`` (exit code 1 on a leak).

Beware of a model whose modules are switched off: a freshly built MoViNet has
every residual branch multiplied by a ``rezero`` scale of 0, so whatever SimAM
or TAdaConv does inside a block never reaches the output, and the check would
say CAUSAL whatever they did. :func:`check_causal` detects this and says so in
the verdict; ``randomize=True`` checks a randomized copy instead:

>>> check_causal(vizattn.build_movinet("a0", simam="clip"), (1, 8, 32, 32, 3),
...              randomize=True).causal                               # doctest: +SKIP
False
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from vizattn.errors import VizAttnError

__all__ = ["METHODS", "CausalReport", "check_causal", "disabled_modules"]

METHODS = ("perturb", "grad")
_MAX_BATCH_ELEMENTS = 1 << 24  # model inputs per batched call (~64 MB float32)


# -- report ----------------------------------------------------------------------


def _allowed_limits(t_out: int, t_in: int) -> np.ndarray:
    """Last input frame each output frame may read."""
    if t_out == t_in:
        return np.arange(t_out)
    return np.array([(i + 1) * t_in // t_out - 1 for i in range(t_out)])


@dataclasses.dataclass(repr=False, eq=False)
class CausalReport:
    """Result of :func:`check_causal`.

    Attributes:
      matrix: float64 ``[T_out, T_in]``, ``matrix[t_out, t_in]`` the influence
        of input frame ``t_in`` on output frame ``t_out``.
      tol: entries above ``tol`` count as dependencies.
      method: ``"perturb"`` or ``"grad"``.
      target: what was checked (layer class and name, or model endpoint).
      disabled: what was switched off in the checked model (residual branches
        with a zero ``rezero`` scale, zero-initialized TAdaConv routing); a
        CAUSAL verdict then proves nothing about those modules.
      leaks: ``(t_out, t_in, value)`` for every future dependency
        (``t_in`` after what ``t_out`` may read) above ``tol``, largest first.
      causal: no leaks.
      worst: the largest leak ``(t_out, t_in, value)``, or ``None``.
    """

    matrix: np.ndarray
    tol: float
    method: str
    target: str = ""
    disabled: list = dataclasses.field(default_factory=list)
    leaks: list = dataclasses.field(init=False)
    causal: bool = dataclasses.field(init=False)
    worst: tuple | None = dataclasses.field(init=False)

    def __post_init__(self):
        self.matrix = np.asarray(self.matrix, np.float64)
        t_out, t_in = self.matrix.shape
        limits = _allowed_limits(t_out, t_in)
        leaks = [
            (i, j, float(self.matrix[i, j]))
            for i in range(t_out)
            for j in range(limits[i] + 1, t_in)
            if self.matrix[i, j] > self.tol
        ]
        leaks.sort(key=lambda leak: -leak[2])
        self.leaks = leaks
        self.causal = not leaks
        self.worst = leaks[0] if leaks else None

    @property
    def verdict(self) -> str:
        """One line: causal or not, and the worst leak."""
        head = f"({self.method}, tol={self.tol:g})"
        if self.causal:
            note = ""
            if self.disabled:
                note = (
                    f"; but it PROVES LITTLE: {_summary(self.disabled)} switched off, so the "
                    "modules inside never reached the output (check with randomize=True, "
                    "or trained weights)"
                )
            elif not (self.matrix > self.tol).any():
                note = "; but no frame depends on any frame: is the module inactive (rezero = 0)?"
            return f"CAUSAL: no output frame depends on a later input frame {head}{note}"
        t_out, t_in, value = self.worst
        n = len(self.leaks)
        return (
            f"LEAKS: {n} future dependenc{'y' if n == 1 else 'ies'} {head}; worst: output "
            f"frame {t_out} reads input frame {t_in} ({value:.3g})"
        )

    def to_text(self, *, values: bool = False) -> str:
        """The verdict and a compact matrix (``values=True`` adds the numbers)."""
        t_out, t_in = self.matrix.shape
        limits = _allowed_limits(t_out, t_in)
        lines = [f"CausalReport{f' of {self.target}' if self.target else ''}", self.verdict]
        lines.append("D[t_out, t_in]: '#' depends, '!' depends on a later frame (leak), '.' no")
        w = max(2, len(str(t_in - 1)) + 1)
        label = "t_out \\ t_in"
        lines.append(label + "".join(f"{j:>{w}}" for j in range(t_in)))
        for i in range(t_out):
            row = []
            for j in range(t_in):
                above = self.matrix[i, j] > self.tol
                row.append("." if not above else ("!" if j > limits[i] else "#"))
            lines.append(f"{i:>{len(label)}}" + "".join(f"{c:>{w}}" for c in row))
        if values:
            lines.append(
                "values (max |change|)" if self.method == "perturb" else "values (max |grad|)"
            )
            for i in range(t_out):
                lines.append(f"{i:>{len(label)}} " + " ".join(f"{v:8.1e}" for v in self.matrix[i]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()


# -- measuring -------------------------------------------------------------------


def _tf():
    from vizattn._tf import import_tf

    return import_tf()


def _first(outputs):
    if isinstance(outputs, tuple | list):
        outputs = outputs[0]
    return outputs


def _check_shape(clip_shape) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in clip_shape)
    except (TypeError, ValueError):
        raise VizAttnError(
            f"clip_shape must be a sequence of ints such as (1, 8, 32, 32, 3), got {clip_shape!r}."
        ) from None
    if len(shape) < 2 or min(shape) < 1:
        raise VizAttnError(
            f"clip_shape {shape} needs a batch and a time axis with sizes >= 1, "
            "e.g. (1, 8, 32, 32, 3)."
        )
    return shape


def _reduce_time(a: np.ndarray) -> np.ndarray:
    """``[B, T, ...]`` -> ``[T]``: max of absolute values over every other axis."""
    a = np.abs(np.asarray(a, np.float64))
    if a.ndim < 2:
        raise VizAttnError(
            f"the output has shape {a.shape}, with no time axis; check_causal needs outputs "
            "shaped [batch, time, ...]."
        )
    return a.swapaxes(0, 1).reshape(a.shape[1], -1).max(axis=1)


def _is_movinet(obj) -> bool:
    if not hasattr(obj, "_backbone"):
        return False
    from vizattn.hooks import endpoints

    return bool(endpoints(obj))


def _summary(disabled: list[str]) -> str:
    if len(disabled) <= 3:
        return ", ".join(disabled) + (" is" if len(disabled) == 1 else " are")
    return f"{len(disabled)} modules ({', '.join(disabled[:2])}, ...) are"


def disabled_modules(model) -> list[str]:
    """What is switched off in ``model``: zero ``rezero`` scales and zero TAdaConv routing.

    A freshly built MoViNet multiplies every block's residual branch by a
    ``rezero`` scale that starts at 0, and TAdaConv's last routing layer starts
    at 0 (alpha = 1); such modules cannot influence the output, so no test of
    them on this model can fail.

    Returns:
      Names such as ``"block2_layer1 residual branch (rezero = 0)"``.
    """
    from official.vision.modeling.layers import nn_layers

    from vizattn.hooks import endpoints
    from vizattn.layers.tada import TAdaRouting

    out = []
    for name, endpoint in endpoints(model).items():
        for layer in endpoint._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, nn_layers.Scale) and layer.weights:
                if all(not np.any(w.numpy()) for w in layer.weights):
                    out.append(f"{name} residual branch (rezero = 0)")
            elif (
                isinstance(layer, TAdaRouting)
                and layer.built
                and not np.any(layer.conv_b.kernel.numpy())
            ):
                out.append(f"{name} TAdaConv routing (zero, alpha = 1)")
    return out


def _layer_matrix(fn: Callable, shape, method: str, seed: int) -> np.ndarray:
    tf = _tf()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    time = shape[1]
    if method == "perturb":
        base = _output(fn, tf.constant(x))
        cols = []
        for t in range(time):
            xp = x.copy()
            xp[:, t] += rng.standard_normal(xp[:, t].shape).astype(np.float32)
            cols.append(_reduce_time(_output(fn, tf.constant(xp)) - base))
        return np.stack(cols, axis=1)
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        y = tf.convert_to_tensor(_first(fn(xt)))
    r = tf.constant(rng.standard_normal(y.shape).astype(np.float32), dtype=y.dtype)
    rows = []
    for t in range(y.shape[1]):
        with tape:
            score = tf.reduce_sum(y[:, t] * r[:, t])
        g = tape.gradient(score, xt)
        rows.append(np.zeros(time) if g is None else _reduce_time(g.numpy()))
    del tape
    return np.stack(rows, axis=0)


def _output(fn, x) -> np.ndarray:
    y = _first(fn(x))
    y = y.numpy() if hasattr(y, "numpy") else np.asarray(y)
    return y.astype(np.float64)


def _model_endpoint(model, endpoint: str | None) -> str:
    from vizattn.hooks import endpoints
    from vizattn.names import resolve

    names = [n for n in endpoints(model) if n != "head"]
    if endpoint is None:
        return names[-1]
    if endpoint == "head":
        raise VizAttnError(
            "layer 'head' is pooled over time, so it has no frames to check; "
            f"use e.g. {names[-1]!r}."
        )
    return resolve(endpoint, names, what="layer")[-1]


def _model_runner(model, name: str):
    """``f(batch) -> endpoint activation``: one eager call, the endpoint tapped."""
    from vizattn._tf import xla_quiet
    from vizattn.hooks import endpoints, tap
    from vizattn.models import init_states, is_stream

    tf = _tf()
    layer = endpoints(model)[name]
    stream = is_stream(model)

    def run(x):
        got = {}

        def record(args, kwargs, outputs):
            got["a"] = _first(outputs)

        with tap([(layer, record)]), xla_quiet(not stream):
            if stream:
                model({**init_states(model, tuple(x.shape)), "image": x}, training=False)
            else:
                model({"image": x}, training=False)
        return got["a"]

    return run, tf


def _model_matrix(model, shape, method: str, seed: int, endpoint: str | None):
    if len(shape) != 5 or shape[-1] != 3:
        raise VizAttnError(
            f"clip_shape {shape} does not fit a MoViNet; use (batch, frames, height, width, 3), "
            "e.g. (1, 8, 32, 32, 3)."
        )
    name = _model_endpoint(model, endpoint)
    run, tf = _model_runner(model, name)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, shape).astype(np.float32)
    batch, time = shape[:2]
    per_call = max(1, _MAX_BATCH_ELEMENTS // int(np.prod(shape)))
    if method == "perturb":
        frames = [
            rng.uniform(0.0, 1.0, (batch, *shape[2:])).astype(np.float32) for _ in range(time)
        ]
        cols: list[np.ndarray] = []
        for start in range(0, time, per_call):
            todo = range(start, min(time, start + per_call))
            items = [x]  # the baseline is in every batch, so comparisons stay exact
            for t in todo:
                xp = x.copy()
                xp[:, t] = frames[t]
                items.append(xp)
            y = run(tf.constant(np.concatenate(items, axis=0))).numpy().astype(np.float64)
            y = y.reshape(len(items), batch, *y.shape[1:])
            cols += [_reduce_time(y[k + 1] - y[0]) for k in range(len(todo))]
        return np.stack(cols, axis=1), name
    # grad: batch item k carries the loss of output frame k only.
    t_out = time  # MoViNets keep the number of frames
    r = None
    rows: list[np.ndarray] = []
    for start in range(0, t_out, per_call):
        todo = list(range(start, min(t_out, start + per_call)))
        xt = tf.constant(np.concatenate([x] * len(todo), axis=0))
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = run(xt)
            if y.shape[1] != time:
                raise VizAttnError(
                    f"endpoint {name!r} has {y.shape[1]} frames for {time} input frames; "
                    "use method='perturb' for it."
                )
            if r is None:  # one fixed random direction per output position
                r = rng.standard_normal((batch, *y.shape[1:])).astype(np.float32)
            weights = np.zeros((len(todo), *r.shape), np.float32)
            for k, t in enumerate(todo):
                weights[k, :, t] = r[:, t]
            score = tf.reduce_sum(y * weights.reshape(-1, *r.shape[1:]))
        g = tape.gradient(score, xt).numpy().reshape(len(todo), batch, *shape[1:])
        rows += [_reduce_time(g[k]) for k in range(len(todo))]
    return np.stack(rows, axis=0), name


def _describe(obj) -> str:
    name = getattr(obj, "name", None)
    cls = type(obj).__name__
    if cls == "function":
        return getattr(obj, "__qualname__", "function")
    return f"{cls} {name!r}" if name else cls


def check_causal(
    layer_or_model,
    clip_shape: Sequence[int],
    *,
    tol: float = 1e-6,
    method: str = "perturb",
    seed: int = 0,
    endpoint: str | None = None,
    randomize: bool = False,
) -> CausalReport:
    """Measures which input frames each output frame depends on.

    Args:
      layer_or_model: a Keras layer or callable on ``[batch, time, ...]``
        (returning a tensor or ``(tensor, states)``), or a model from
        :func:`vizattn.build_movinet`.
      clip_shape: the input shape, e.g. ``(1, 8, 16, 16, 8)`` for a layer or
        ``(1, 8, 32, 32, 3)`` for a model.
      tol: influence above ``tol`` counts as a dependency.
      method: ``"perturb"`` (noise on one frame at a time) or ``"grad"``
        (gradients of each output frame).
      seed: seed of the inputs, the noise and the gradient directions.
      endpoint: for models, which endpoint's activation is the output:
        ``"block3_layer1"``, or a block (``"block3"``, its last layer); default
        the last block.
      randomize: for models, check a randomized copy
        (:func:`vizattn.testing.randomize`: nonzero ``rezero`` scales, routing
        and batch-norm statistics) so that every module inside the blocks
        reaches the output; the model's own weights are restored afterwards.
        Without it, modules that the model has switched off are listed in
        ``report.disabled`` and the verdict says the check proves little.

    Returns:
      A :class:`CausalReport`.
    """
    if method not in METHODS:
        raise VizAttnError(f"unknown method {method!r}; use 'perturb' or 'grad'.")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise VizAttnError(f"tol must be a number >= 0, got {tol!r}.") from None
    if not tol >= 0:
        raise VizAttnError(f"tol must be a number >= 0, got {tol!r}.")
    shape = _check_shape(clip_shape)
    if _is_movinet(layer_or_model):
        model = layer_or_model
        from vizattn.models import is_stream

        kind = "stream" if is_stream(model) else "base"
        if randomize:
            from vizattn.testing import randomize as randomize_weights

            saved = model.get_weights()
            try:
                randomize_weights(model, seed=int(seed))
                matrix, name = _model_matrix(model, shape, method, int(seed), endpoint)
            finally:
                model.set_weights(saved)
            disabled = []
            target = f"{kind} MoViNet (randomized copy, seed {int(seed)}), endpoint {name}"
        else:
            matrix, name = _model_matrix(model, shape, method, int(seed), endpoint)
            disabled = disabled_modules(model)
            target = f"{kind} MoViNet, endpoint {name}"
        return CausalReport(matrix=matrix, tol=tol, method=method, target=target, disabled=disabled)
    else:
        if randomize:
            raise VizAttnError(
                "randomize=True only applies to MoViNet models; randomize your layer's weights."
            )
        if endpoint is not None:
            raise VizAttnError(
                f"endpoint={endpoint!r} only applies to MoViNet models; pass the layer itself."
            )
        if not callable(layer_or_model):
            raise VizAttnError(
                f"check_causal needs a layer, a callable or a MoViNet model, got "
                f"{type(layer_or_model).__name__}."
            )
        matrix = _layer_matrix(layer_or_model, shape, method, int(seed))
        target = _describe(layer_or_model)
    return CausalReport(matrix=matrix, tol=tol, method=method, target=target)
