"""The full Model Garden MoViNet, with causal SimAM and TAdaConv inside every block.

:func:`build_movinet` returns Model Garden's own ``MovinetClassifier`` around a
backbone built by Model Garden's own ``Movinet`` code (A0 to A5, base or
stream). vizattn's modules enter through two small subclasses:

* :class:`VizStem` (a ``movinet_layers.Stem``): SimAM after the stem.
* :class:`VizMovinetBlock` (a ``movinet_layers.MovinetBlock``): SimAM after
  the projection (where the user put it) or after the depthwise feature
  convolution; TAdaConv calibration of the feature convolution.

:class:`VizMovinet` lets Model Garden build its network as usual, then wires
the same sequence of layers again, swapping in the subclasses; endpoint names
(``stem``, ``block{i}_layer{j}``, ``head``) and state names (``state_...``)
are Model Garden's. Model Garden's classes are never edited or patched.

>>> model = build_movinet("a0", simam="cumulative", tada="v1")   # doctest: +SKIP
>>> predict(model, clip).shape                                   # doctest: +SKIP
(1, 600)
>>> predict_stream(model, clip).shape     # one prediction per frame # doctest: +SKIP
(1, 8, 600)

``stream=True`` is the official streaming configuration (causal, (2+1)D
convolutions, "2plus3d" squeeze-excitation, hard-swish, external states,
positional encoding for A3 to A5); ``stream=False`` is the base 3D model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import tf_keras

from vizattn._tf import import_tf
from vizattn.errors import VizAttnError
from vizattn.layers.simam import MODES, CausalSimAM
from vizattn.layers.tada import VERSIONS, TAdaRouting
from vizattn.overlay import _resize_image, checked_clip  # the one frame check and resize

tf = import_tf()

from official.projects.movinet.modeling import (  # noqa: E402
    movinet,
    movinet_layers,
    movinet_model,
)

__all__ = [
    "ACTIVATIONS",
    "MODEL_IDS",
    "POSITIONS",
    "SE_TYPES",
    "ModelInfo",
    "VizMovinet",
    "VizMovinetBlock",
    "VizStem",
    "as_clip",
    "build_movinet",
    "endpoint_names",
    "is_stream",
    "load_model",
    "model_info",
    "predict",
    "predict_stream",
]

log = logging.getLogger("vizattn")

MODEL_IDS = ("a0", "a1", "a2", "a3", "a4", "a5")
POSITIONS = ("projection", "feature", "stem")

STREAM_CONFIG = {
    "causal": True,
    "conv_type": "2plus1d",
    "se_type": "2plus3d",
    "activation": "hard_swish",
    "gating_activation": "hard_sigmoid",
}
BASE_CONFIG = {
    "causal": False,
    "conv_type": "3d",
    "se_type": "3d",
    "activation": "swish",
    "gating_activation": "sigmoid",
}


def _simam_layer(config: Mapping | None, prefix: str) -> CausalSimAM | None:
    if not config:
        return None
    return CausalSimAM(**dict(config), state_prefix=prefix, name="vizattn_simam")


def _tada_layer(config: Mapping | None, prefix: str) -> TAdaRouting | None:
    if not config:
        return None
    return TAdaRouting(**dict(config), state_prefix=prefix, name="vizattn_tada")


_BUILD_LOCK = threading.Lock()


class _Namespace:
    """``movinet_layers`` as Model Garden's ``movinet`` sees it, some classes replaced."""

    def __init__(self, module, replaced: Mapping[str, Any]):
        self._module, self._replaced = module, dict(replaced)

    def __getattr__(self, name: str):
        if name in self._replaced:
            return self._replaced[name]
        return getattr(self._module, name)


@contextlib.contextmanager
def _layer_classes(replaced: Mapping[str, Any]):
    """While building, Model Garden's ``movinet`` module creates ``replaced`` layer classes.

    Only ``movinet``'s own reference to ``movinet_layers`` changes (under a lock),
    so no other code sees the replacement.
    """
    if not replaced:
        yield
        return
    with _BUILD_LOCK:
        original = movinet.movinet_layers
        movinet.movinet_layers = _Namespace(original, replaced)
        try:
            yield
        finally:
            movinet.movinet_layers = original


def _no_autograph():
    """Context in which Keras wires layers without AutoGraph-converting their ``call``.

    The layers' ``call`` methods branch on Python values only, so converting them
    while the functional graph is wired costs about a third of the build and
    changes nothing. Calls inside ``tf.function`` (every prediction and capture)
    still convert as usual. Falls back to a no-op if TensorFlow moves the API.
    """
    try:
        from tensorflow.python.autograph.core import ag_ctx

        return ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED)
    except (ImportError, AttributeError):  # pragma: no cover - other TF versions
        return contextlib.nullcontext()


@contextlib.contextmanager
def _known_output_signature(backbone):
    """While the classifier is wired, calling ``backbone`` on inputs like its own
    reuses the outputs it was built with instead of tracing it again.

    ``MovinetClassifier`` calls the finished functional backbone on new
    ``Input`` tensors; Keras then runs every backbone layer once more in a
    scratch graph only to learn the output shapes, which it already knows
    (about 40% of the build). Inputs with other shapes or dtypes, arguments
    other than ``training``, or a Keras without this hook take Keras's own path.
    """
    known = getattr(backbone, "_nested_outputs", None)
    own_inputs = getattr(backbone, "_nested_inputs", None)
    infer = getattr(backbone, "_infer_output_signature", None)
    if known is None or not isinstance(own_inputs, dict) or infer is None:
        yield
        return
    from tf_keras.src.engine import keras_tensor

    def spec(t):
        return (tuple(t.shape.as_list()), t.dtype)

    own = {k: spec(v) for k, v in own_inputs.items()}

    def fast(inputs, args, kwargs, input_masks):
        same = (
            not args
            and set(kwargs) <= {"training"}  # shapes do not depend on it
            and isinstance(inputs, dict)
            and {k: spec(v) for k, v in inputs.items()} == own
        )
        if not same:
            return infer(inputs, args, kwargs, input_masks)
        backbone._set_save_spec(inputs, args, kwargs)
        return tf.nest.map_structure(lambda t: keras_tensor.KerasTensor(t.type_spec), known)

    backbone._infer_output_signature = fast  # this object only, removed below
    try:
        yield
    finally:
        del backbone._infer_output_signature


@tf_keras.utils.register_keras_serializable(package="vizattn")
class VizStem(movinet_layers.Stem):
    """Model Garden's ``Stem`` followed by :class:`~vizattn.layers.CausalSimAM`.

    Args:
      *args: ``movinet_layers.Stem`` arguments.
      simam: ``CausalSimAM`` keyword arguments (``mode`` etc.).
      **kwargs: ``movinet_layers.Stem`` keyword arguments.
    """

    def __init__(self, *args, simam: Mapping | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._vizattn_setup(simam)

    def _vizattn_setup(self, simam: Mapping | None) -> None:
        self._vizattn_simam_config = dict(simam or {})
        self._vizattn_simam = _simam_layer(simam, self._state_prefix)

    def get_config(self):
        config = super().get_config()
        config.update({"simam": self._vizattn_simam_config})
        return config

    def call(self, inputs, states=None):
        x, states = super().call(inputs, states=states)
        if self._vizattn_simam is not None:
            x, states = self._vizattn_simam(x, states=states)
        return x, states


@tf_keras.utils.register_keras_serializable(package="vizattn")
class VizMovinetBlock(movinet_layers.MovinetBlock):
    """Model Garden's ``MovinetBlock`` with SimAM and TAdaConv inserted.

    The block's own layers (expansion, feature, squeeze-excitation, projection,
    skip, rezero) are Model Garden's, under their usual attribute names, so
    released checkpoints restore into it; the inserted modules live under
    ``_vizattn_*`` attributes.

    Order inside the block::

        expansion -> [TAda: x *= alpha_t] -> feature -> [SimAM "feature"]
        -> squeeze-excitation -> projection -> [SimAM "projection"] -> + skip

    Args:
      *args: ``movinet_layers.MovinetBlock`` arguments.
      simam: ``CausalSimAM`` keyword arguments, or ``None``.
      simam_position: ``"projection"`` or ``"feature"``.
      tada: ``TAdaRouting`` keyword arguments, or ``None``.
      **kwargs: ``movinet_layers.MovinetBlock`` keyword arguments.
    """

    def __init__(
        self,
        *args,
        simam: Mapping | None = None,
        simam_position: str = "projection",
        tada: Mapping | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._vizattn_setup(simam, simam_position, tada)

    def _vizattn_setup(
        self, simam: Mapping | None, simam_position: str, tada: Mapping | None
    ) -> None:
        if simam_position not in ("projection", "feature"):
            raise ValueError(
                f"unknown block position {simam_position!r}; use 'projection' or 'feature'."
            )
        self._vizattn_simam_config = dict(simam or {})
        self._vizattn_tada_config = dict(tada or {})
        self._vizattn_position = simam_position
        self._vizattn_simam = _simam_layer(simam, self._state_prefix)
        self._vizattn_tada = _tada_layer(tada, self._state_prefix)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "simam": self._vizattn_simam_config,
                "simam_position": self._vizattn_position,
                "tada": self._vizattn_tada_config,
            }
        )
        return config

    def call(self, inputs, states=None):
        if self._vizattn_simam is None and self._vizattn_tada is None:
            return super().call(inputs, states=states)
        states = dict(states) if states is not None else {}
        b = self._mobile_bottleneck
        simam = self._vizattn_simam
        # Model Garden's layers run in the bottleneck's name scope, as in its own
        # call, so their variables keep their names ("block0_layer0/bneck/...",
        # which TFLite and released-checkpoint mapping read); vizattn's modules
        # live beside it ("block0_layer0/vizattn_simam/...").
        tf = import_tf()
        with tf.name_scope(b.name) as scope:  # re-entered below by its full name
            x = b._expansion_layer(inputs)
        if self._vizattn_tada is not None:
            alpha, states = self._vizattn_tada(x, states=states)
            x = x * alpha[:, :, None, None, :]
        with tf.name_scope(scope):
            x, states = b._feature_layer(x, states=states)
        if simam is not None and self._vizattn_position == "feature":
            x, states = simam(x, states=states)
        with tf.name_scope(scope):
            if b._attention_layer is not None:
                x, states = b._attention_layer(x, states=states)
            x = b._projection_layer(x)
        if simam is not None and self._vizattn_position == "projection":
            x, states = simam(x, states=states)
        with tf.name_scope(scope):
            x = b._identity(x)
            x = b._rezero(x)
            if b._stochastic_depth is not None:
                x = b._stochastic_depth(x)
            skip = b._skip_layer(inputs) if b._skip_layer is not None else inputs
        return x + skip, states


@tf_keras.utils.register_keras_serializable(package="vizattn")
class VizMovinet(movinet.Movinet):
    """Model Garden's ``Movinet`` backbone with vizattn modules.

    Args:
      model_id: ``"a0"`` to ``"a5"``.
      simam: ``CausalSimAM`` keyword arguments or ``None``.
      simam_position: ``"projection"``, ``"feature"`` or ``"stem"``.
      tada: ``TAdaRouting`` keyword arguments or ``None``.
      **kwargs: ``movinet.Movinet`` keyword arguments.
    """

    def __init__(
        self,
        model_id: str = "a0",
        simam: Mapping | None = None,
        simam_position: str = "projection",
        tada: Mapping | None = None,
        **kwargs,
    ):
        self._vizattn = {
            "simam": dict(simam or {}),
            "simam_position": simam_position,
            "tada": dict(tada or {}),
        }
        super().__init__(model_id=model_id, **kwargs)

    def _block_modules(self) -> tuple[dict, dict]:
        cfg = self._vizattn
        simam = cfg["simam"] if cfg["simam_position"] != "stem" else {}
        return dict(simam), dict(cfg["tada"])

    def _build_network(self, input_specs, state_specs=None):
        # One pass: Model Garden's own _build_network runs as is, and creates
        # vizattn's subclasses where it would create a Stem or a MovinetBlock
        # (same arguments, names and weights, plus the vizattn modules).
        simam, tada = self._block_modules()
        classes = {}
        if self._vizattn["simam_position"] == "stem":
            classes["Stem"] = functools.partial(VizStem, simam=self._vizattn["simam"])
        if simam or tada:
            classes["MovinetBlock"] = functools.partial(
                VizMovinetBlock,
                simam=simam,
                tada=tada,
                simam_position=self._vizattn["simam_position"],
            )
        with _layer_classes(classes):
            return super()._build_network(input_specs, state_specs=state_specs)

    def _get_initial_state_shapes(self, block_specs, input_shape, use_positional_encoding=False):
        shapes = super()._get_initial_state_shapes(
            block_specs, input_shape, use_positional_encoding=use_positional_encoding
        )
        batch = input_shape[0]
        cfg = self._vizattn
        simam, tada = self._block_modules()
        for block_idx, block in enumerate(block_specs):
            if isinstance(block, movinet.StemSpec) and cfg["simam_position"] == "stem":
                layer = _simam_layer(cfg["simam"], "state_stem")
                shapes.update(layer.state_shapes(batch, block.filters))
            elif isinstance(block, movinet.MovinetBlockSpec):
                for layer_idx, expand in enumerate(block.expand_filters):
                    prefix = f"state_block{block_idx - 1}_layer{layer_idx}"
                    if simam:
                        channels = (
                            expand if cfg["simam_position"] == "feature" else block.base_filters
                        )
                        shapes.update(_simam_layer(simam, prefix).state_shapes(batch, channels))
                    if tada:
                        shapes.update(_tada_layer(tada, prefix).state_shapes(batch, expand))
        return shapes

    def get_config(self):
        config = super().get_config()
        config.update(
            se_type=self._se_type,
            gating_activation=self._gating_activation,
            average_pooling_type=self._average_pooling_type,
            **self._vizattn,
        )
        return config


@dataclasses.dataclass
class ModelInfo:
    """What :func:`build_movinet` was asked for; kept beside the model."""

    model_id: str
    stream: bool
    simam: str | None
    simam_position: str
    tada: str | None
    num_classes: int
    simam_options: dict
    tada_options: dict
    checkpoint: str | None = None
    restore_summary: Any = None
    #: Backbone activation (``"hard_swish"`` for stream, ``"swish"`` for base, unless set).
    activation: str | None = None
    #: Squeeze-excitation type (``"2plus3d"``, ``"3d"``, ``"none"``...).
    se_type: str | None = None
    #: Activation of the classifier head's hidden convolution.
    head_activation: str | None = None
    #: Class names, when the weights came with them (else see :func:`vizattn.labels.class_names`).
    class_names: list[str] | None = None
    #: ``(height, width)`` the weights expect (a TFLite file's input size), if known.
    input_size: tuple[int, int] | None = None
    #: Whether these are the bundled demo model's weights.
    demo: bool = False

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["restore_summary"] = None if self.restore_summary is None else str(self.restore_summary)
        return d


_INFO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def endpoint_names(model_id: str) -> list[str]:
    """Model Garden's endpoint names for ``model_id``, without building the model.

    >>> endpoint_names("a0")[:3]
    ['stem', 'block0_layer0', 'block1_layer0']
    """
    names = []
    for block_idx, block in enumerate(movinet.BLOCK_SPECS[model_id]):
        if isinstance(block, movinet.StemSpec):
            names.append("stem")
        elif isinstance(block, movinet.MovinetBlockSpec):
            names += [f"block{block_idx - 1}_layer{j}" for j in range(len(block.expand_filters))]
        elif isinstance(block, movinet.HeadSpec):
            names.append("head")
    return names


def model_info(model) -> ModelInfo | None:
    """The :class:`ModelInfo` of a model made by :func:`build_movinet`, else ``None``."""
    return _INFO.get(model)


ACTIVATIONS = ("hard_swish", "swish", "relu6", "relu")
SE_TYPES = ("2plus3d", "3d", "2d", "none")


def _is_tflite(checkpoint) -> bool:
    import os

    return isinstance(checkpoint, (str, os.PathLike)) and str(checkpoint).lower().endswith(
        ".tflite"
    )


def _tflite_options(checkpoint, given: dict) -> tuple[dict, Any]:
    """Fills ``given``'s ``None`` entries from a TFLite file; refuses contradictions."""
    from vizattn.tflite import inspect_tflite

    info = inspect_tflite(checkpoint)
    clash = info.contradictions(given)
    if clash:
        key, value, found = clash[0]
        raise VizAttnError(
            f"{key}={value!r} contradicts {checkpoint}, which holds a MoViNet-{info.model_id} "
            f"stream model with {key}={found!r}; drop {key}= to build the model the "
            "file describes."
        )
    return info.build_options(), info


def build_movinet(
    model_id: str | None = None,
    *,
    stream: bool | None = None,
    simam: str | None = None,
    simam_position: str = "projection",
    tada: str | None = None,
    num_classes: int | None = None,
    checkpoint: str | None = None,
    simam_options: Mapping | None = None,
    tada_options: Mapping | None = None,
    activation: str | None = None,
    se_type: str | None = None,
    head_activation: str | None = None,
):
    """Builds a full Model Garden MoViNet classifier, optionally with SimAM/TAdaConv.

    Args:
      model_id: ``"a0"`` to ``"a5"`` (default ``"a0"``, or the TFLite file's).
      stream: the official streaming configuration (causal, external states);
        ``False`` gives the base 3D model (default True).
      simam: ``None`` or a :class:`~vizattn.layers.CausalSimAM` mode
        (``"frame"``, ``"cumulative"``, ``"window"``, ``"clip"``).
      simam_position: ``"projection"`` (after each block's projection),
        ``"feature"`` (after the depthwise feature convolution) or ``"stem"``.
      tada: ``None``, ``"v1"`` or ``"v2"``: TAdaConv on every block's feature
        convolution.
      num_classes: classifier outputs (default 600, as the released
        Kinetics-600 weights, or the TFLite file's).
      checkpoint: a Model Garden checkpoint (directory, ``.tar.gz``, prefix),
        a Keras weight file, a URL, ``"official"``, or a MoViNet stream
        ``.tflite`` file; see :func:`vizattn.load_checkpoint`. A ``.tflite``
        file says what it holds (model id, activation, squeeze-excitation,
        classes, input size; :func:`vizattn.tflite.inspect_tflite`): leave
        those arguments out, or an argument that contradicts the file raises.
      simam_options: extra ``CausalSimAM`` arguments (``e_lambda``,
        ``window``, ``scales``, ``learnable_lambda``).
      tada_options: extra ``TAdaRouting`` arguments (``window``, ``heads``, ...).
      activation: the backbone's activation, one of ``ACTIVATIONS`` (default:
        ``"hard_swish"`` for stream, ``"swish"`` for base; the official int8
        TFLite models use ``"relu6"``).
      se_type: squeeze-excitation, one of ``SE_TYPES`` (default ``"2plus3d"``
        for stream, ``"3d"`` for base; ``"none"`` removes it).
      head_activation: activation of the classifier head's hidden convolution
        (default: Model Garden's, ``"swish"``; the TFLite models use ``"relu6"``).

    Returns:
      A ``movinet_model.MovinetClassifier``. Stream models are called with
      ``{"image": clip, **states}`` and return ``(logits, states)``; use
      :func:`predict` and :func:`predict_stream` rather than calling directly.

    >>> model = build_movinet("a0", simam="frame")   # doctest: +SKIP
    >>> model = build_movinet(checkpoint="movinet_a0_stream_int8.tflite")   # doctest: +SKIP
    """
    tflite_info = None
    if checkpoint is not None and _is_tflite(checkpoint):
        given = {
            "model_id": model_id,
            "stream": stream,
            "activation": activation,
            "head_activation": head_activation,
            "se_type": se_type,
            "num_classes": num_classes,
        }
        found, tflite_info = _tflite_options(checkpoint, given)
        model_id, stream = found["model_id"], found["stream"]
        activation, head_activation = found["activation"], found["head_activation"]
        se_type, num_classes = found["se_type"], found["num_classes"]
    model_id = "a0" if model_id is None else str(model_id).lower()
    stream = True if stream is None else bool(stream)
    num_classes = 600 if num_classes is None else int(num_classes)
    if num_classes < 1:
        raise VizAttnError(f"num_classes must be >= 1, got {num_classes}; leave it out for 600.")
    if model_id not in MODEL_IDS:
        raise VizAttnError(f"unknown model_id {model_id!r}; use one of {', '.join(MODEL_IDS)}.")
    if simam is not None and simam not in MODES:
        raise VizAttnError(f"unknown SimAM mode {simam!r}; use one of {', '.join(MODES)} or None.")
    if simam_position not in POSITIONS:
        raise VizAttnError(
            f"unknown simam_position {simam_position!r}; use one of {', '.join(POSITIONS)}."
        )
    if tada is not None and tada not in VERSIONS:
        raise VizAttnError(f"unknown TAda version {tada!r}; use 'v1', 'v2' or None.")
    for key, value, allowed in (
        ("activation", activation, ACTIVATIONS),
        ("head_activation", head_activation, ACTIVATIONS),
        ("se_type", se_type, SE_TYPES),
    ):
        if value is not None and value not in allowed:
            raise VizAttnError(f"unknown {key} {value!r}; use one of {', '.join(allowed)}.")
    simam_cfg = {"mode": simam, **dict(simam_options or {})} if simam else None
    tada_cfg = {"version": tada, **dict(tada_options or {})} if tada else None

    config = dict(STREAM_CONFIG if stream else BASE_CONFIG)
    if activation is not None:
        config["activation"] = activation
    if se_type is not None:
        config["se_type"] = se_type
    config["use_positional_encoding"] = bool(stream) and model_id in ("a3", "a4", "a5")
    config["use_external_states"] = bool(stream)
    with _no_autograph():
        if simam_cfg or tada_cfg:
            backbone = VizMovinet(
                model_id, simam=simam_cfg, simam_position=simam_position, tada=tada_cfg, **config
            )
        else:
            backbone = movinet.Movinet(model_id, **config)
        head = {"activation": head_activation} if head_activation is not None else {}
        with _known_output_signature(backbone):
            model = movinet_model.MovinetClassifier(
                backbone, num_classes=num_classes, output_states=bool(stream), **head
            )
    info = ModelInfo(
        model_id=model_id,
        stream=bool(stream),
        simam=simam,
        simam_position=simam_position,
        tada=tada,
        num_classes=num_classes,
        simam_options=dict(simam_options or {}),
        tada_options=dict(tada_options or {}),
        activation=config["activation"],
        se_type=config["se_type"],
        head_activation=head_activation or "swish",
        input_size=tflite_info.input_size if tflite_info is not None else None,
    )
    _INFO[model] = info
    if checkpoint is not None:
        from vizattn.checkpoints import load_checkpoint

        info.checkpoint = str(checkpoint)
        info.restore_summary = load_checkpoint(model, checkpoint, model_id=model_id, stream=stream)
        log.info("%s", info.restore_summary)
    return model


#: What ``checkpoint`` may name besides a path: the bundled demo model, or random weights.
DEMO, RANDOM = "demo", "random"

DEMO_NOTICE = (
    "using the bundled demo model: MoViNet-A0 stream with SimAM, trained on moving "
    "shapes (it knows shapes, not human actions); pass a checkpoint for your own weights"
)
RANDOM_NOTICE = (
    "weights are randomly initialized, so maps show untrained features; pass a checkpoint "
    "(a Model Garden checkpoint or an official .tflite) for trained ones"
)


def _notify(message: str) -> None:
    import sys

    print(f"vizattn: {message}", file=sys.stderr)


def load_model(
    checkpoint: str | None = None,
    *,
    model_id: str | None = None,
    stream: bool | None = None,
    simam: str | None = "",
    simam_position: str | None = None,
    tada: str | None = None,
    num_classes: int | None = None,
    seed: int | None = None,
    notify=_notify,
):
    """The one documented way to get a model to explain.

    Args:
      checkpoint: ``"demo"`` for the bundled trained demo model (MoViNet-A0
        stream with frame SimAM after the projection, trained on the
        moving-shapes task of :mod:`vizattn.demo`); ``None`` for the demo model
        too, unless architecture options are given, which then build that
        variant with random weights; ``"random"`` for random
        weights; or a path: a Model Garden checkpoint (directory, ``.tar.gz``,
        prefix), a Keras weight file, or an official MoViNet ``.tflite``.
      model_id, stream, simam, simam_position, tada, num_classes: the
        architecture, as for :func:`build_movinet`; ``None`` (or ``""`` for
        ``simam``) means "what the weights say", else the defaults
        ``a0``, stream, ``simam="frame"``, 600 classes.
      seed: with ``"random"``, the seed of :func:`vizattn.testing.randomize`,
        which also switches on the residual branches (their ``rezero`` scales
        start at 0); ``None`` keeps Model Garden's initialization.
      notify: called with one line saying which weights are used (``None``: silent).

    Returns:
      A ``MovinetClassifier`` whose :func:`model_info` says what it is.

    >>> model = load_model()                      # the demo model        # doctest: +SKIP
    >>> model = load_model("movinet_a0_stream_int8.tflite")               # doctest: +SKIP
    """
    say = notify or (lambda message: None)
    asked = {
        "model_id": model_id,
        "stream": stream,
        "simam": simam if simam != "" else None,
        "simam_position": simam_position,
        "tada": tada,
        "num_classes": num_classes,
    }
    if checkpoint is None and (any(v is not None for v in asked.values()) or simam is None):
        checkpoint = RANDOM  # an architecture without weights: that variant, random
    if checkpoint in (None, DEMO):
        from vizattn.demo_bundle import demo_build_options, demo_clashes
        from vizattn.training import load_demo_model

        clash = [f"{k}={v!r}" for k, v in demo_clashes({**asked, "simam": simam})]
        if clash:
            raise VizAttnError(
                f"the bundled demo model is fixed ({_describe_build(demo_build_options())}), so "
                f"{', '.join(clash)} cannot apply; pass checkpoint='random' or your own "
                "checkpoint to build that variant."
            )
        say(DEMO_NOTICE)
        return load_demo_model()
    if checkpoint == RANDOM:
        model = build_movinet(
            model_id or "a0",
            stream=True if stream is None else bool(stream),
            simam="frame" if simam == "" else simam,
            simam_position=simam_position or "projection",
            tada=tada,
            num_classes=num_classes or 600,
        )
        if seed is not None:
            from vizattn.testing import randomize

            randomize(model, seed=int(seed))
        say(RANDOM_NOTICE)
        return model
    # Trained weights: nothing is inserted unless asked (SimAM would change what the
    # trained network computes), and what the file says fills the rest.
    options = {
        "model_id": model_id,
        "stream": stream,
        "simam": None if simam == "" else simam,
        "simam_position": simam_position or "projection",
        "tada": tada,
        "num_classes": num_classes,
    }
    model = build_movinet(**options, checkpoint=checkpoint)
    summary = model_info(model).restore_summary
    kept = len(getattr(summary, "kept_init", ()))
    say(
        f"weights from {checkpoint}: {getattr(summary, 'restored', '?')} variables restored"
        + (f", {kept} vizattn module variables kept their initialization" if kept else "")
    )
    if options["simam"] is not None and (_is_tflite(checkpoint) or checkpoint == "official"):
        # SimAM has no weights to restore, so nothing above says it is new to them.
        say(
            f"SimAM ({options['simam']}) is inserted into weights trained without it: "
            "the model no longer computes what they were trained for (its predictions "
            "change); leave SimAM out (--simam none) to explain the weights as they are"
        )
    return model


def _describe_build(options: Mapping) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


# -- inference -----------------------------------------------------------------


def is_stream(model) -> bool:
    """Whether ``model`` takes and returns stream states."""
    backbone = getattr(model, "_backbone", None)
    return bool(getattr(backbone, "use_external_states", False))


def as_clip(clip, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """The one preprocessing of vizattn: frames -> model input.

    Validates a clip and returns it as float32 ``[batch, time, height, width, 3]``
    in [0, 1]: RGB order as given, uint8 divided by 255, and (with ``size``)
    resized to ``(height, width)`` bilinearly with antialiasing. Every path that
    feeds a model (``predict``, capture, render, the notebooks) goes through it.

    uint8 frames (what a video decodes to) are resized as 8-bit images by Pillow,
    ~1.8x cheaper than in float: the same antialiased bilinear filter as
    ``tf.image.resize(..., antialias=True)``, which float frames get, with the
    result rounded to 8 bits (within 1/255 of the float path's).

    Accepts uint8 in [0, 255] or float in [0, 1], shaped ``[T, H, W, 3]`` or
    ``[B, T, H, W, 3]``.

    >>> as_clip(np.zeros((2, 4, 4, 3), np.uint8)).shape
    (1, 2, 4, 4, 3)
    >>> as_clip(np.zeros((2, 8, 8, 3), np.uint8), size=(4, 6)).shape
    (1, 2, 4, 6, 3)
    """
    arr = checked_clip(clip)
    if size is not None:
        h, w = (int(s) for s in size)
        if h < 1 or w < 1:
            raise VizAttnError(f"size must be positive (height, width), got {size!r}.")
        if arr.shape[2:4] != (h, w):
            b, t = arr.shape[:2]
            frames = arr.reshape(b * t, *arr.shape[2:])
            if arr.dtype == np.uint8:
                small = np.stack([_resize_image(frame, h, w) for frame in frames])
                return (small.astype(np.float32) / 255.0).reshape(b, t, h, w, 3)
            flat = tf.image.resize(frames, (h, w), method="bilinear", antialias=True).numpy()
            return np.clip(flat, 0.0, 1.0, out=flat).reshape(b, t, h, w, 3)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return arr


def init_states(model, shape) -> dict:
    """Zero stream states for clips shaped ``shape`` (``{}`` for base models)."""
    if not is_stream(model):
        return {}
    return model._backbone.init_states(tf.constant(shape, tf.int32))


def predict(model, clip) -> np.ndarray:
    """Logits of the whole clip at once: ``[batch, classes]``; see :func:`vizattn.hooks.predict`."""
    from vizattn import hooks

    return hooks.predict(model, clip)


def predict_stream(model, clip, *, chunk: int = 16) -> np.ndarray:
    """Logits after every frame, streaming with states: ``[batch, time, classes]``.

    See :func:`vizattn.hooks.predict_stream`: the logits at frame ``t`` use
    frames ``<= t`` only and do not depend on ``chunk``.
    """
    from vizattn import hooks

    return hooks.predict_stream(model, clip, chunk=chunk)
