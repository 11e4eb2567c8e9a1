"""MoViNet TFLite files: read the official models' weights into a vizattn model.

The most downloaded MoViNets are the TFLite files of TF Hub / Kaggle (the
ones inside phone apps). This module reads one with the TFLite interpreter that
TensorFlow already depends on (``ai_edge_litert``), works out which Model
Garden MoViNet it is, and converts its weights into a model that vizattn can
open up (hooks, SimAM, TAdaConv, Grad-CAM):

>>> info = inspect_tflite("movinet_a0_stream_int8.tflite")          # doctest: +SKIP
>>> info.model_id, info.activation, info.se_type, info.input_size   # doctest: +SKIP
('a0', 'relu6', 'none', (172, 172))
>>> model = vizattn.build_movinet(checkpoint="movinet_a0_stream_int8.tflite")  # doctest: +SKIP
>>> print(vizattn.models.model_info(model).restore_summary)         # doctest: +SKIP
converted 329 variables from movinet_a0_stream_int8.tflite (int8, 64 convolutions, ...)

How the conversion works:

* **Which model.** The expansion widths of every block name the model id
  (``a0`` to ``a5``); the fused activation of the convolutions (Relu6) or a
  ``HARD_SWISH`` op after them gives ``activation``; ``/se/`` tensors mean
  squeeze-excitation (``"2plus3d"``); the ``image`` input gives the input size
  and the classifier's kernel the number of classes. Only the stream models
  (causal, (2+1)D convolutions, one frame per call) can be mapped.
* **Weights.** int8 weights are per-channel quantized: ``w = scale * (q - zero_point)``;
  int32 biases likewise (their scale is input scale x weight scale). A float
  file takes the same path without dequantization.
* **Batch norm** is folded into the convolutions of a TFLite file. The folded
  bias goes into the batch norm, set up so that it computes ``conv + bias``
  exactly: ``gamma = 1``, ``moving_mean = 0``, ``moving_variance = 1 - eps``,
  ``beta = bias``.
* **Layouts.** TFLite stores convolution kernels OHWI and depthwise kernels
  1HWC (temporal ones ``[1, k, 1, C]``); Keras stores HWIO and HWC1. Both take
  a ``(1, 2, 3, 0)`` transpose.
* **Names.** TFLite tensor names are Model Garden's layer scopes
  (``movinet_classifier/movinet/block1_layer0/bneck/feature/conv2d_temporal/...``),
  often several joined by ``;``. Each convolution is matched to the scope its
  weight *and* bias name agree on; the ``rezero`` scale of every block comes
  from its ``rezero/mul`` constant.

The result is a :class:`~vizattn.checkpoints.RestoreSummary`: what was
converted and what kept its initialization (vizattn's inserted SimAM and
TAdaConv layers; TAdaConv is the identity at init).

:class:`TFLiteStream` runs the file itself, frame by frame with its states,
as the reference the converted model is compared with:

>>> reference = TFLiteStream("movinet_a0_stream_int8.tflite")       # doctest: +SKIP
>>> reference.logits(clip).shape                                    # doctest: +SKIP
(131, 600)

The int8 runtime rounds its activations and, above all, the running sum of
the head's average pool (one int8 step is about 0.57 there, so small per-frame
increments are lost). :func:`stream_logits` with ``emulate_int8_head=True``
rounds the converted model's head buffer the same way.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vizattn._tf import native_quiet
from vizattn.errors import VizAttnError

__all__ = [
    "ConvOp",
    "TFLiteInfo",
    "TFLiteStream",
    "conv_ops",
    "dequantize",
    "Int8Head",
    "inspect_tflite",
    "int8_head",
    "load_tflite_weights",
    "stream_logits",
]

#: What a file has to be for this module to map it.
EXPECTED = (
    "a Model Garden MoViNet stream TFLite file (a0..a5, causal (2+1)D, e.g. TF Hub's "
    "movinet/a0/stream/kinetics-600 tflite)"
)

_MODEL_IDS = ("a0", "a1", "a2", "a3", "a4", "a5")
_CONV_OPS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "dense"}
_FUSED = {0: None, 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh"}
_HEAD_BUFFER = "state_head_pool_buffer"
_BN_LEAVES = ("gamma", "beta", "moving_mean", "moving_variance")
# A layer scope starts at one of Model Garden's top-level layer names; a second
# model built in the same process gets "classifier_head_1" and so on.
_SCOPE_ROOT = re.compile(r"^(stem|head|classifier_head|block\d+_layer\d+)(?:_\d+)?$")
_BLOCK_NAME = re.compile(r"^conv2d(_temporal)?$")


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - older TensorFlow without ai_edge_litert
        from vizattn._tf import import_tf

        return import_tf().lite.Interpreter
    return Interpreter


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:  # pragma: no cover
        return None
    return schema_py_generated


# -- reading the graph -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConvOp:
    """One convolution of a TFLite graph, matched to a Model Garden layer scope.

    Attributes:
      op_index: the operator's index in the graph.
      kind: ``"conv"``, ``"depthwise"`` or ``"dense"``.
      scope: the Model Garden layer scope, e.g. ``"block1_layer0/bneck/feature/conv2d"``.
      input_index, output_index: tensor indices of the activation input/output.
      weight_index, bias_index: tensor indices of the kernel and bias (-1: none).
      strides: ``(height, width)``.
      padding: ``"SAME"`` or ``"VALID"``.
      activation: the fused activation (``None``, ``"relu"``, ``"relu6"``...).
    """

    op_index: int
    kind: str
    scope: str
    input_index: int
    output_index: int
    weight_index: int
    bias_index: int
    strides: tuple[int, int]
    padding: str
    activation: str | None


def dequantize(values: np.ndarray, quantization: dict | None) -> np.ndarray:
    """``scale * (q - zero_point)`` per channel, as float32; float input passes through.

    Args:
      values: the stored tensor (int8/int32 quantized, or float).
      quantization: the tensor's ``quantization_parameters`` (``scales``,
        ``zero_points``, ``quantized_dimension``) from the interpreter.

    >>> dequantize(np.array([[2, -4]], np.int8),
    ...            {"scales": np.array([0.5, 0.25]), "zero_points": np.array([0, 0]),
    ...             "quantized_dimension": 1})
    array([[ 1., -1.]], dtype=float32)
    """
    values = np.asarray(values)
    scales = np.asarray((quantization or {}).get("scales", ()), np.float64)
    if scales.size == 0 or np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float32)
    zero = np.asarray(quantization.get("zero_points", np.zeros_like(scales)), np.float64)
    if zero.size == 0:
        zero = np.zeros_like(scales)
    if scales.size > 1:
        shape = [1] * values.ndim
        shape[int(quantization.get("quantized_dimension", 0))] = scales.size
        scales, zero = scales.reshape(shape), zero.reshape(shape)
    return (scales * (values.astype(np.float64) - zero)).astype(np.float32)


class _Graph:
    """The interpreter of one file, with its tensors, ops and fused options."""

    def __init__(self, path: str | os.PathLike, *, preserve_all_tensors: bool = False):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise VizAttnError(f"TFLite file {self.path!r} does not exist; pass {EXPECTED}.")
        cls = _interpreter_class()
        try:
            kwargs = {"experimental_preserve_all_tensors": True} if preserve_all_tensors else {}
            # "intended for debugging": that is the use here
            with warnings.catch_warnings(), native_quiet():
                warnings.filterwarnings("ignore", ".*experimental_preserve_all_tensors")
                self.interpreter = cls(model_path=self.path, **kwargs)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            first = " ".join(str(e).split())[:160]
            raise VizAttnError(
                f"{self.path} is not a readable TFLite file ({first}); pass {EXPECTED}."
            ) from None
        self.tensors = {int(t["index"]): t for t in self.interpreter.get_tensor_details()}
        self.ops = self.interpreter._get_ops_details()
        self.producer = {}
        self.consumers: dict[int, list[dict]] = {}
        # A delegate (XNNPACK) shows up as extra DELEGATE nodes; the graph is the builtin ops.
        self.ops = [op for op in self.ops if op["op_name"] != "DELEGATE"]
        for op in self.ops:
            for i in op["outputs"]:
                self.producer[int(i)] = op
            for i in op["inputs"]:
                self.consumers.setdefault(int(i), []).append(op)
        self._options = self._read_options()

    def _read_options(self) -> dict[int, tuple]:
        """op index -> (fused activation, strides, padding) for convolutions."""
        schema = _schema()
        out: dict[int, tuple] = {}
        if schema is None:  # pragma: no cover
            return out
        buf = Path(self.path).read_bytes()
        graph = schema.Model.GetRootAs(buf, 0).Subgraphs(0)
        kinds = {
            schema.BuiltinOptions.Conv2DOptions: schema.Conv2DOptions,
            schema.BuiltinOptions.DepthwiseConv2DOptions: schema.DepthwiseConv2DOptions,
            schema.BuiltinOptions.FullyConnectedOptions: schema.FullyConnectedOptions,
            schema.BuiltinOptions.AddOptions: schema.AddOptions,
            schema.BuiltinOptions.MulOptions: schema.MulOptions,
        }
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            cls = kinds.get(op.BuiltinOptionsType())
            table = op.BuiltinOptions()
            if cls is None or table is None:
                continue
            opts = cls()
            opts.Init(table.Bytes, table.Pos)
            act = _FUSED.get(opts.FusedActivationFunction(), "other")
            if hasattr(opts, "StrideH"):
                padding = "SAME" if opts.Padding() == schema.Padding.SAME else "VALID"
                out[i] = (act, (opts.StrideH(), opts.StrideW()), padding)
            else:
                out[i] = (act, (1, 1), "VALID")
        return out

    def fused(self, op: dict) -> str | None:
        return self._options.get(int(op["index"]), (None,))[0]

    def names(self, index: int) -> list[str]:
        return self.tensors[int(index)]["name"].split(";")

    def constant(self, index: int) -> np.ndarray | None:
        """A constant tensor's value, dequantized (also through a DEQUANTIZE op)."""
        index = int(index)
        producer = self.producer.get(index)
        if producer is not None:
            if (
                producer["op_name"] == "DEQUANTIZE"
                and int(producer["inputs"][0]) not in self.producer
            ):
                return self.constant(int(producer["inputs"][0]))
            return None
        try:
            value = self.interpreter.get_tensor(index)
        except ValueError:
            return None
        return dequantize(value, self.tensors[index]["quantization_parameters"])

    def is_quantized(self, index: int) -> bool:
        producer = self.producer.get(int(index))
        if producer is not None and producer["op_name"] == "DEQUANTIZE":
            index = int(producer["inputs"][0])
        return np.issubdtype(self.tensors[int(index)]["dtype"], np.integer)

    def signature(self) -> tuple[dict, dict]:
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise VizAttnError(
                f"{self.path} has {len(signatures)} signatures ({', '.join(signatures) or 'none'});"
                f" expected one, as in {EXPECTED}."
            )
        runner = self.interpreter.get_signature_runner(next(iter(signatures)))
        return runner.get_input_details(), runner.get_output_details()


def _rooted(name: str) -> list[str] | None:
    """``"movinet_classifier_1/classifier_head_1/head"`` -> ``["classifier_head", "head"]``."""
    parts = name.split("/")
    for i, part in enumerate(parts):
        m = _SCOPE_ROOT.match(part)
        if m:
            return [m.group(1), *parts[i + 1 :]]
    return None


def _model_scopes(model) -> dict[str, dict[str, Any]]:
    """Layer scope -> {"kernel"|"bias"|"gamma"|...|"rezero": variable} of ``model``."""
    scopes: dict[str, dict[str, Any]] = {}
    for var in model.variables:
        parts = _rooted(var.name.split(":")[0])
        if parts is None:
            continue
        leaf = parts[-1]
        if leaf == "scale" and len(parts) == 2:
            scopes.setdefault(parts[0], {})["rezero"] = var
        elif leaf in ("kernel", "depthwise_kernel", "bias", *_BN_LEAVES) and len(parts) >= 3:
            role = "kernel" if leaf.endswith("kernel") else leaf
            scopes.setdefault("/".join(parts[:-2]), {})[role] = var
    return scopes


def _scopes_in(names: list[str], scopes) -> list[str]:
    found = []
    for name in names:
        parts = _rooted(name)
        if parts is None:
            continue
        padded = "/" + "/".join(parts) + "/"
        hits = [s for s in scopes if "/" + s + "/" in padded]
        if hits:
            found.append(max(hits, key=len))
    return found


def _known_scopes(graph: _Graph) -> set[str]:
    """The layer scopes named in the graph's tensors (no model needed).

    Model Garden names every convolution block ``conv2d`` or ``conv2d_temporal``
    inside its layer, so a scope is a name's prefix up to that component:
    ``.../block1_layer0/bneck/feature/conv2d_temporal/bn_temporal/FusedBatchNormV3``
    -> ``block1_layer0/bneck/feature/conv2d_temporal``.
    """
    out = set()
    for t in graph.tensors.values():
        for name in t["name"].split(";"):
            parts = _rooted(name)
            if parts is None:
                continue
            end = next((i for i in range(1, len(parts) - 1) if _BLOCK_NAME.match(parts[i])), None)
            if end is not None:
                out.add("/".join(parts[: end + 1]))
    return out


def conv_ops(graph: _Graph | str | os.PathLike, scopes=None) -> list[ConvOp]:
    """The convolutions of a MoViNet TFLite graph, each matched to its layer scope.

    Args:
      graph: a path (or an internal graph object).
      scopes: the layer scopes to match against (default: every scope that
        appears in the graph's own tensor names).

    Raises:
      VizAttnError: a convolution matches no scope, or two match the same one.
    """
    if not isinstance(graph, _Graph):
        graph = _Graph(graph)
    known = set(scopes) if scopes is not None else _known_scopes(graph)
    # Only leaves: scopes that end at a convolution-owning layer.
    out, taken = [], {}
    for op in graph.ops:
        kind = _CONV_OPS.get(op["op_name"])
        if kind is None:
            continue
        inputs = [int(i) for i in op["inputs"]]
        weight, bias = inputs[1], (inputs[2] if len(inputs) > 2 else -1)
        w_scopes = _scopes_in(graph.names(weight), known)
        b_scopes = _scopes_in(graph.names(bias), known) if bias >= 0 else []
        common = [s for s in w_scopes if s in b_scopes]
        if len(set(common)) == 1:
            scope = common[0]
        elif b_scopes:
            scope = b_scopes[0]
        elif w_scopes:
            scope = w_scopes[0]
        else:
            raise VizAttnError(
                f"{graph.path}: convolution {op['index']} ({graph.names(weight)[0]}) belongs to "
                f"no Model Garden layer; expected {EXPECTED}."
            )
        if scope in taken:
            raise VizAttnError(
                f"{graph.path}: convolutions {taken[scope]} and {op['index']} both map to "
                f"{scope}; expected {EXPECTED}."
            )
        taken[scope] = op["index"]
        act, strides, padding = graph._options.get(int(op["index"]), (None, (1, 1), "VALID"))
        out.append(
            ConvOp(
                op_index=int(op["index"]),
                kind=kind,
                scope=scope,
                input_index=inputs[0],
                output_index=int(op["outputs"][0]),
                weight_index=weight,
                bias_index=bias,
                strides=tuple(strides),
                padding=padding,
                activation=act,
            )
        )
    return out


def _rezero_scales(graph: _Graph) -> dict[str, float]:
    """``block{i}_layer{j}`` -> its rezero scale, from the ``rezero/mul`` constants."""
    out = {}
    pattern = re.compile(r"(?:^|/)(block\d+_layer\d+)/(?:[^;]*/)?rezero/mul")
    for op in graph.ops:
        if op["op_name"] != "MUL":
            continue
        for i in op["inputs"]:
            value = graph.constant(int(i))
            if value is None:
                continue
            m = next(filter(None, (pattern.search(n) for n in graph.names(int(i)))), None)
            if m is None:
                m = next(
                    filter(None, (pattern.search(n) for n in graph.names(int(op["outputs"][0])))),
                    None,
                )
            if m is None:
                continue
            flat = value.reshape(-1)
            if flat.size and np.ptp(flat) <= 1e-6 * max(1.0, float(np.abs(flat).max())):
                out[m.group(1)] = float(flat[0])
    return out


# -- what the file is ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TFLiteInfo:
    """What :func:`inspect_tflite` found in a MoViNet TFLite file.

    Attributes:
      path: the file.
      model_id: ``"a0"`` to ``"a5"``.
      stream: True (only stream files are mapped).
      activation: the backbone's activation (``"relu6"``, ``"hard_swish"``...).
      head_activation: the classifier head's activation.
      se_type: ``"none"`` or ``"2plus3d"`` (squeeze-excitation).
      input_size: ``(height, width)`` of the ``image`` input.
      num_classes: classifier outputs.
      quantized: int8 weights (True) or float (False).
      num_convs: convolutions in the graph.
    """

    path: str
    model_id: str
    stream: bool
    activation: str
    head_activation: str
    se_type: str
    input_size: tuple[int, int]
    num_classes: int
    quantized: bool
    num_convs: int

    def build_options(self) -> dict:
        """The :func:`vizattn.build_movinet` arguments of the matching model."""
        return {
            "model_id": self.model_id,
            "stream": self.stream,
            "activation": self.activation,
            "head_activation": self.head_activation,
            "se_type": self.se_type,
            "num_classes": self.num_classes,
        }

    def contradictions(self, given: dict) -> list[tuple[str, object, object]]:
        """``(key, value, the file's value)`` for each given build option (``None``: not
        given) that the file contradicts: what :func:`vizattn.build_movinet` refuses,
        and the command line checks before building."""
        found = self.build_options()
        out = []
        for key, value in given.items():
            mine = str(value).lower() if isinstance(value, str) else value
            if value is not None and key in found and mine != found[key]:
                out.append((key, value, found[key]))
        return out


def _activation_after(graph: _Graph, op: ConvOp) -> str | None:
    if op.activation not in (None, "other"):
        return op.activation
    for consumer in graph.consumers.get(op.output_index, []):
        name = consumer["op_name"]
        if name == "HARD_SWISH":
            return "hard_swish"
        if name == "LOGISTIC":
            return "swish"
        if name in ("RELU6", "RELU"):
            return name.lower()
    return None


def _model_id(widths: dict[int, list[int]], stem: int | None) -> str | None:
    from official.projects.movinet.modeling import movinet

    for model_id in _MODEL_IDS:
        specs = [
            b for b in movinet.BLOCK_SPECS[model_id] if isinstance(b, movinet.MovinetBlockSpec)
        ]
        stems = [
            b.filters for b in movinet.BLOCK_SPECS[model_id] if isinstance(b, movinet.StemSpec)
        ]
        expected = {i: list(b.expand_filters) for i, b in enumerate(specs)}
        if expected == widths and (stem is None or stems == [stem]):
            return model_id
    return None


def _inspect(graph: _Graph) -> tuple[TFLiteInfo, list[ConvOp]]:
    inputs, outputs = graph.signature()
    if "image" not in inputs:
        raise VizAttnError(
            f"{graph.path} has no 'image' input (inputs: {', '.join(sorted(inputs)[:4])}); "
            f"expected {EXPECTED}."
        )
    shape = [int(s) for s in inputs["image"]["shape"]]
    states = [k for k in inputs if k.startswith("state_")]
    if len(shape) != 5 or shape[-1] != 3:
        raise VizAttnError(
            f"{graph.path}: 'image' input has shape {shape}; expected [1, 1, height, width, 3] "
            f"as in {EXPECTED}."
        )
    if shape[1] != 1 or not states:
        raise VizAttnError(
            f"{graph.path} is a base (whole-clip, 3D) MoViNet with input {shape} and no stream "
            f"states; only stream files can be mapped: pass {EXPECTED}."
        )
    ops = conv_ops(graph)
    by_scope = {op.scope: op for op in ops}
    widths: dict[int, list[int]] = {}
    for op in ops:
        m = re.fullmatch(r"block(\d+)_layer(\d+)/bneck/expansion/conv2d", op.scope)
        if m:
            b, j = int(m.group(1)), int(m.group(2))
            widths.setdefault(b, {})[j] = int(graph.tensors[op.weight_index]["shape"][0])
    widths = {b: [w[j] for j in sorted(w)] for b, w in widths.items()}
    stem_op = by_scope.get("stem/stem/conv2d")
    stem = int(graph.tensors[stem_op.weight_index]["shape"][0]) if stem_op else None
    model_id = _model_id(widths, stem)
    if model_id is None:
        shown = (
            ", ".join(f"block{b}: {w}" for b, w in sorted(widths.items())) or "no MoViNet blocks"
        )
        raise VizAttnError(
            f"{graph.path} does not match any MoViNet a0..a5 (expansion widths {shown}); "
            f"expected {EXPECTED}."
        )
    classifier = by_scope.get("classifier_head/classifier/conv2d")
    head = by_scope.get("classifier_head/head/conv2d")
    first = by_scope.get("block0_layer0/bneck/expansion/conv2d")
    if classifier is None or head is None or first is None:
        raise VizAttnError(
            f"{graph.path} has no MoViNet classifier head (classifier_head/...); "
            f"expected {EXPECTED}."
        )
    activation = _activation_after(graph, first)
    head_activation = _activation_after(graph, head)
    if activation is None or head_activation is None:
        raise VizAttnError(
            f"{graph.path}: cannot tell the activation of {first.scope}; expected {EXPECTED} "
            "with Relu6, ReLU, hard-swish or swish activations."
        )
    has_se = any("/se/" in "/" + s + "/" for s in by_scope)
    info = TFLiteInfo(
        path=graph.path,
        model_id=model_id,
        stream=True,
        activation=activation,
        head_activation=head_activation,
        se_type="2plus3d" if has_se else "none",
        input_size=(shape[2], shape[3]),
        num_classes=int(graph.tensors[classifier.weight_index]["shape"][0]),
        quantized=graph.is_quantized(first.weight_index),
        num_convs=len(ops),
    )
    return info, ops


def inspect_tflite(path: str | os.PathLike) -> TFLiteInfo:
    """What MoViNet a TFLite file holds: model id, activation, SE, input size, classes.

    Args:
      path: a ``.tflite`` file.

    Returns:
      A :class:`TFLiteInfo`; ``info.build_options()`` are the
      :func:`vizattn.build_movinet` arguments of the matching model.

    Raises:
      VizAttnError: the file is not a MoViNet stream TFLite file.
    """
    return _inspect(_Graph(path))[0]


# -- converting ----------------------------------------------------------------------


def _bn_epsilons(model) -> dict:
    eps = {}
    import tf_keras

    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            for w in layer.weights:
                eps[w.ref()] = float(layer.epsilon)
    return eps


def _fit(value: np.ndarray, var, what: str, path: str) -> np.ndarray:
    shape = tuple(var.shape)
    if value.shape == shape:
        return value
    if value.size == int(np.prod(shape)) and [s for s in value.shape if s != 1] == [
        s for s in shape if s != 1
    ]:
        return value.reshape(shape)
    raise VizAttnError(
        f"{path}: {what} has shape {list(value.shape)} in the file but {list(shape)} in the "
        "model; build the model with the file's options (vizattn.tflite.inspect_tflite(path)"
        ".build_options()), or pass build_movinet(checkpoint=path) alone."
    )


def load_tflite_weights(
    model, path: str | os.PathLike, *, source: str | None = None, strict: bool = True
):
    """Converts the weights of a MoViNet TFLite file into ``model``.

    Args:
      model: a ``MovinetClassifier`` from :func:`vizattn.build_movinet` built
        with the file's options (see :func:`inspect_tflite`); vizattn modules
        (SimAM, TAdaConv) may be inserted, they keep their initialization.
      path: the ``.tflite`` file.
      source: how to name the file in the summary (default: ``path``).
      strict: if True (default), every non-vizattn variable of the model must
        be converted and every convolution of the file used, else nothing is
        assigned. If False, what matches is converted and the rest listed.

    Returns:
      A :class:`vizattn.checkpoints.RestoreSummary` (``format="tflite"``).

    Raises:
      VizAttnError: not a MoViNet stream TFLite file, or a model that does not fit it.
    """
    from vizattn.checkpoints import RestoreSummary

    graph = _Graph(path)
    info, ops = _inspect(graph)
    scopes = _model_scopes(model)
    eps = _bn_epsilons(model)
    plan: list[tuple[Any, np.ndarray]] = []
    unused: list[str] = []
    mismatched: list[str] = []
    for op in ops:
        target = scopes.get(op.scope)
        if target is None or "kernel" not in target:
            unused.append(op.scope)
            continue
        kernel = graph.constant(op.weight_index)
        bias = graph.constant(op.bias_index) if op.bias_index >= 0 else None
        if kernel is None:
            raise VizAttnError(
                f"{graph.path}: {op.scope} has no constant kernel; expected {EXPECTED}."
            )
        if op.kind == "dense":
            kernel = kernel.T
        else:
            kernel = np.transpose(kernel, (1, 2, 3, 0))  # OHWI -> HWIO, 1HWC -> HWC1
        if not strict and kernel.size != int(np.prod(target["kernel"].shape)):
            mismatched.append(f"{op.scope}: {list(kernel.shape)} vs {list(target['kernel'].shape)}")
            continue
        plan.append(
            (target["kernel"], _fit(kernel, target["kernel"], f"{op.scope} kernel", graph.path))
        )
        if bias is None:
            bias = np.zeros(
                [kernel.shape[-1] if op.kind != "depthwise" else kernel.shape[-2]], np.float32
            )
        if "beta" in target:
            var = target["moving_variance"]
            e = eps.get(var.ref(), 1e-3)
            plan += [
                (target["gamma"], np.ones(target["gamma"].shape, np.float32)),
                (target["beta"], _fit(bias, target["beta"], f"{op.scope} bias", graph.path)),
                (target["moving_mean"], np.zeros(var.shape, np.float32)),
                (var, np.full(var.shape, 1.0 - e, np.float32)),
            ]
        elif "bias" in target:
            plan.append(
                (target["bias"], _fit(bias, target["bias"], f"{op.scope} bias", graph.path))
            )
        elif np.any(bias):
            raise VizAttnError(
                f"{graph.path}: {op.scope} has a bias but the model's layer has neither a bias "
                f"nor a batch norm; expected {EXPECTED}."
            )
    rezero = _rezero_scales(graph)
    for block, scale in rezero.items():
        target = scopes.get(block, {}).get("rezero")
        if target is None:
            unused.append(f"{block}/rezero")
            continue
        plan.append((target, np.asarray(scale, np.float32).reshape(target.shape)))

    assigned = {var.ref() for var, _ in plan}
    missing, kept_init = [], []
    for var in model.variables:
        if var.ref() in assigned:
            continue
        name = var.name.split(":")[0]
        (kept_init if "vizattn" in name else missing).append(name)
    if not plan or (strict and (missing or unused)):
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} model variables have nothing in it (first: {missing[0]})"
            )
        if unused:
            problems.append(
                f"{len(unused)} of its layers fit nothing in the model (first: {unused[0]})"
            )
        raise VizAttnError(
            f"{graph.path} ({info.model_id}, activation={info.activation}, "
            f"se_type={info.se_type}, {info.num_classes} classes) does not fit this model: "
            f"{'; '.join(problems) or 'nothing matches'}; build it with "
            f"vizattn.build_movinet(checkpoint={graph.path!r}), which reads these options from "
            "the file, or pass strict=False."
        )
    for var, value in plan:
        var.assign(value.astype(var.dtype.as_numpy_dtype))
    kind = "int8" if info.quantized else "float"
    return RestoreSummary(
        source=str(source if source is not None else path),
        prefix=f"{Path(graph.path).name}: {kind}, {len(ops)} convolutions, "
        f"{len(rezero)} rezero scales, batch norm folded",
        restored=len(plan),
        kept_init=tuple(kept_init),
        missing=tuple(missing),
        unused=tuple(unused),
        mismatched=tuple(mismatched),
        format="tflite",
    )


# -- running ---------------------------------------------------------------------------


class TFLiteStream:
    """Runs a MoViNet stream TFLite file frame by frame with its states: the reference.

    Args:
      path: the ``.tflite`` file.
      num_threads: interpreter threads (default: the runtime's).

    >>> reference = TFLiteStream("movinet_a0_stream_int8.tflite")   # doctest: +SKIP
    >>> reference.logits(clip)          # [time, classes]           # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, *, num_threads: int | None = None):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise VizAttnError(f"TFLite file {self.path!r} does not exist; pass {EXPECTED}.")
        cls = _interpreter_class()
        kwargs = {"num_threads": num_threads} if num_threads else {}
        with native_quiet():  # LiteRT's INFO line about its CPU delegate, when it allocates
            self.interpreter = cls(model_path=self.path, **kwargs)
            self.interpreter.allocate_tensors()
            signatures = self.interpreter.get_signature_list()
            self._runner = self.interpreter.get_signature_runner(next(iter(signatures)))
        self._inputs = self._runner.get_input_details()
        if "image" not in self._inputs:
            raise VizAttnError(f"{self.path} has no 'image' input; pass {EXPECTED}.")
        shape = [int(s) for s in self._inputs["image"]["shape"]]
        self.input_size = (shape[2], shape[3])
        self.states: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Zero states: the next :meth:`step` is the first frame of a clip."""
        self.states = {
            k: np.zeros(d["shape"], d["dtype"]) for k, d in self._inputs.items() if k != "image"
        }

    def step(self, frame: np.ndarray) -> np.ndarray:
        """Feeds one float frame ``[1, 1, height, width, 3]`` in [0, 1].

        Returns:
          The logits after this frame, ``[classes]``.
        """
        out = self._runner(image=np.asarray(frame, np.float32), **self.states)
        self.states = {k: out[k] for k in self.states}
        return np.asarray(out["logits"]).reshape(-1)

    def iter_logits(self, clip) -> Iterator[np.ndarray]:
        """Logits after each frame of ``clip`` (batch 1), from zero states."""
        from vizattn.models import as_clip

        arr = as_clip(clip, size=self.input_size)
        if arr.shape[0] != 1:
            raise VizAttnError(
                f"TFLiteStream takes one clip at a time, got a batch of {arr.shape[0]}."
            )
        self.reset()
        for t in range(arr.shape[1]):
            yield self.step(arr[:, t : t + 1])

    def logits(self, clip) -> np.ndarray:
        """Logits after every frame: float32 ``[time, classes]``.

        Args:
          clip: uint8/float ``[T, H, W, 3]`` or ``[1, T, H, W, 3]``, preprocessed
            by :func:`vizattn.models.as_clip` (resized to the file's input size).
        """
        return np.stack(list(self.iter_logits(clip))).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Int8Head:
    """The int8 grids of the head's running average pool, as ``(scale, zero_point)``.

    Per frame the int8 runtime computes ``buffer = q_buffer(q_state(old) + q_increment(mean))``
    and ``logits = head(buffer / count)``; the state passed on is ``buffer``.
    """

    increment: tuple[float, int]
    buffer: tuple[float, int]
    state: tuple[float, int]


def _grid(x, grid: tuple[float, int]):
    scale, zero = grid
    from vizattn._tf import import_tf

    tf = import_tf()
    q = tf.clip_by_value(tf.round(x / scale) + zero, -128.0, 127.0)
    return scale * (q - zero)


def int8_head(path: str | os.PathLike) -> Int8Head | None:
    """The int8 grids of the head's average-pool buffer of a TFLite file (None if float)."""
    graph = _Graph(path)

    def grid(index: int) -> tuple[float, int] | None:
        q = graph.tensors[int(index)]["quantization_parameters"]
        if len(q["scales"]) != 1:
            return None
        return float(q["scales"][0]), int(q["zero_points"][0])

    for op in graph.ops:
        if op["op_name"] != "ADD" or len(op["inputs"]) != 2:
            continue
        increment, state = (int(i) for i in op["inputs"])
        quantize = graph.producer.get(state)
        if quantize is None or quantize["op_name"] != "QUANTIZE":
            continue
        if _HEAD_BUFFER not in graph.tensors[int(quantize["inputs"][0])]["name"]:
            continue
        grids = grid(increment), grid(int(op["outputs"][0])), grid(state)
        if None in grids:
            return None
        return Int8Head(*grids)
    return None


def stream_logits(
    model, clip, *, emulate_int8_head: bool | Int8Head | str | os.PathLike = False
) -> np.ndarray:
    """Logits of a stream model after every frame, optionally with the int8 head's rounding.

    Without emulation this equals :func:`vizattn.predict_stream` (``[batch, time, classes]``).
    With it, the running sum of the head's average pool (the state
    ``state_head_pool_buffer``) is rounded to the int8 grid after every frame,
    as the int8 TFLite runtime does: ``s * (clip(round(x / s) + zp, -128, 127) - zp)``.

    Args:
      model: a stream model from :func:`vizattn.build_movinet`.
      clip: uint8/float ``[T, H, W, 3]`` or ``[B, T, H, W, 3]``.
      emulate_int8_head: False, an :class:`Int8Head`, or a ``.tflite`` path to
        read the grids from (:func:`int8_head`).
    """
    from official.projects.movinet.modeling import movinet_layers

    from vizattn import models

    if not emulate_int8_head:
        return models.predict_stream(model, clip)
    if isinstance(emulate_int8_head, Int8Head):
        grids = emulate_int8_head
    else:
        grids = int8_head(emulate_int8_head)
        if grids is None:
            raise VizAttnError(
                f"{emulate_int8_head} has no int8 head buffer to emulate; "
                "pass emulate_int8_head=False."
            )
    if not models.is_stream(model):
        raise VizAttnError("stream_logits needs a stream model; build it with stream=True.")
    heads = [x for x in model.layers if isinstance(x, movinet_layers.ClassifierHead)]
    if len(heads) != 1:
        raise VizAttnError("stream_logits needs a MovinetClassifier (one ClassifierHead).")
    tf = models.tf
    head = heads[0]
    count_name = _HEAD_BUFFER.replace("_buffer", "_frame_count")

    @tf.function(reduce_retracing=True)
    def step(states, frame):
        old = states[_HEAD_BUFFER]
        _, new_states = model({**states, "image": frame}, training=False)
        increment = _grid(new_states[_HEAD_BUFFER] - old, grids.increment)
        buffer = _grid(old + increment, grids.buffer)
        count = tf.cast(new_states[count_name], buffer.dtype)
        logits = head(buffer / tf.reshape(count, [-1, 1, 1, 1, 1]), training=False)
        return logits, {**new_states, _HEAD_BUFFER: _grid(buffer, grids.state)}

    arr = models.as_clip(clip)
    states = models.init_states(model, arr.shape)
    states = {**states, _HEAD_BUFFER: _grid(states[_HEAD_BUFFER], grids.state)}
    out = []
    for t in range(arr.shape[1]):
        logits, states = step(states, tf.constant(arr[:, t : t + 1]))
        out.append(np.asarray(logits))
    return np.stack(out, axis=1)
