"""The official MoViNet-A0 stream int8 TFLite model, converted into vizattn, against the runtime.

Two layers of proof (issue 8):

* **per operation**: every convolution of the TFLite graph, fed its own int8
  input (dequantized) and run with vizattn's converted weights, lands within one
  quantization step of the runtime's output: weights, layouts and biases are exact;
* **end to end**: carving_ice.mp4 streamed frame by frame through the runtime and
  through ``vizattn.predict_stream`` on the converted model agrees (top-1, top-5,
  correlation); emulating the int8 head's rounding closes most of the rest.

The fixtures live in ``../shared/fixtures`` beside the checkout; without them
these tests skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vizattn
from vizattn import labels
from vizattn.errors import VizAttnError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
TFLITE = FIXTURES / "movinet_a0_stream_int8.tflite"
VIDEO = FIXTURES / "carving_ice.mp4"
LABELS = FIXTURES / "kinetics600_labels.txt"

needs_fixtures = pytest.mark.skipif(
    not (TFLITE.is_file() and VIDEO.is_file()),
    reason="real fixtures absent (../shared/fixtures/: the A0 int8 tflite and carving_ice.mp4)",
)


# -- without fixtures ------------------------------------------------------------------


def test_dequantize_per_channel_inverts_quantization():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3, 3, 4)).astype(np.float32)
    scales = np.abs(w).reshape(6, -1).max(axis=1) / 127.0
    q = np.round(w / scales[:, None, None, None]).astype(np.int8)
    params = {"scales": scales, "zero_points": np.zeros(6, np.int64), "quantized_dimension": 0}
    back = vizattn.tflite.dequantize(q, params)
    assert back.dtype == np.float32
    # Within half a step of the original, per output channel.
    assert np.all(np.abs(back - w) <= scales[:, None, None, None] / 2 + 1e-7)
    # A zero point shifts; float tensors pass through untouched.
    shifted = vizattn.tflite.dequantize(
        np.array([-128, 0], np.int8),
        {"scales": np.array([0.5]), "zero_points": np.array([-128]), "quantized_dimension": 0},
    )
    np.testing.assert_allclose(shifted, [0.0, 64.0])
    np.testing.assert_array_equal(vizattn.tflite.dequantize(w, params), w)


def test_unreadable_file_is_one_line_error(tmp_path):
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer at all" * 10)
    for bad in (garbage, tmp_path / "absent.tflite"):
        with pytest.raises(VizAttnError) as err:
            vizattn.tflite.inspect_tflite(bad)
        assert "\n" not in str(err.value) and "MoViNet stream TFLite" in str(err.value)


def test_labels_resolve_and_rank():
    names = labels.class_names(600)
    assert len(names) == 600 and len(set(names)) == 600
    if LABELS.is_file():
        assert names == labels.read_labels(LABELS)
    for i in (0, 72, 599):
        assert labels.resolve_class(names[i], names) == i
        assert labels.resolve_class(names[i].upper().replace(" ", "_"), names) == i
        assert labels.resolve_class(str(i), names) == i
    assert labels.resolve_class("top", names) == "top"
    with pytest.raises(VizAttnError, match="did you mean 'carving ice'"):
        labels.resolve_class("carving ise", names)
    with pytest.raises(VizAttnError, match="out of range"):
        labels.resolve_class(600, names)
    assert labels.class_names(3) == ["class 0", "class 1", "class 2"]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=600)
    ranked = labels.top_k(logits, 5, names)
    assert [i for _, i, _ in ranked] == list(np.argsort(-logits)[:5])
    probs = [p for _, _, p in ranked]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) < 1
    assert ranked[0][0] == names[ranked[0][1]]


def test_labels_file_overrides_and_must_fit(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("cat\ndog\n\nbird\n")
    assert labels.class_names(3, labels_file=path) == ["cat", "dog", "bird"]
    with pytest.raises(VizAttnError, match="3 names but the model has 4"):
        labels.class_names(4, labels_file=path)


# -- with the official file ----------------------------------------------------------------


@pytest.fixture(scope="module")
def converted():
    """``(model, summary)``: the official A0 int8 file converted into a vizattn model."""
    if not TFLITE.is_file():
        pytest.skip("real fixtures absent (../shared/fixtures/movinet_a0_stream_int8.tflite)")
    model = vizattn.build_movinet(checkpoint=str(TFLITE))
    return model, vizattn.models.model_info(model).restore_summary


@pytest.fixture(scope="module")
def clip():
    if not VIDEO.is_file():
        pytest.skip("real fixtures absent (../shared/fixtures/carving_ice.mp4)")
    frames, _ = vizattn.video.read_all(VIDEO)
    return vizattn.models.as_clip(frames, size=(172, 172))


@pytest.fixture(scope="module")
def reference(clip):
    """The TFLite runtime's logits after every frame: ``[time, 600]``."""
    return vizattn.tflite.TFLiteStream(TFLITE).logits(clip)


@pytest.fixture(scope="module")
def streamed(converted, clip):
    """vizattn's streaming logits of the converted model: ``[time, 600]``."""
    return vizattn.predict_stream(converted[0], clip)[0]


@needs_fixtures
def test_inspect_reads_the_variant():
    info = vizattn.tflite.inspect_tflite(TFLITE)
    assert (info.model_id, info.stream, info.activation, info.head_activation) == (
        "a0",
        True,
        "relu6",
        "relu6",
    )
    assert (info.se_type, info.input_size, info.num_classes) == ("none", (172, 172), 600)
    assert info.quantized and info.num_convs == 64


@needs_fixtures
def test_every_variable_converted(converted):
    model, summary = converted
    assert summary.format == "tflite" and summary.complete
    assert summary.restored == len(model.variables) == 329
    assert not summary.kept_init
    info = vizattn.models.model_info(model)
    assert (info.activation, info.se_type, info.input_size) == ("relu6", "none", (172, 172))
    # Rezero scales come from the file: no residual branch is switched off.
    scales = [v.numpy() for v in model.variables if v.name.split(":")[0].endswith("/scale")]
    assert len(scales) == 15 and all(s != 0 for s in scales)


@needs_fixtures
@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (b"block4_layer", b"block9_layer", "does not match any MoViNet"),
        (b"classifier_head", b"classifyer_head", "belongs to no Model Garden layer"),
    ],
)
def test_unmappable_variant_is_one_line_error(tmp_path, old, new, why):
    """The official file with its layer names changed (same length, still valid TFLite)."""
    path = tmp_path / "variant.tflite"
    data = TFLITE.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))
    with pytest.raises(VizAttnError) as err:
        vizattn.tflite.inspect_tflite(path)
    message = str(err.value)
    assert "\n" not in message and why in message and "MoViNet stream TFLite" in message


@needs_fixtures
def test_contradicting_argument_is_refused():
    for kwargs in ({"model_id": "a1"}, {"activation": "hard_swish"}, {"num_classes": 10}):
        with pytest.raises(VizAttnError) as err:
            vizattn.build_movinet(checkpoint=str(TFLITE), **kwargs)
        key = next(iter(kwargs))
        assert "\n" not in str(err.value) and f"{key}=" in str(err.value)


@needs_fixtures
def test_each_convolution_within_one_quantization_step(converted):
    """Every conv, fed its TFLite int8 input, matches TFLite's output to one step."""
    tf = vizattn.models.tf
    from vizattn import tflite

    model, _ = converted
    graph = tflite._Graph(TFLITE, preserve_all_tensors=True)
    runner = graph.interpreter.get_signature_runner()
    inputs = runner.get_input_details()
    states = {k: np.zeros(d["shape"], d["dtype"]) for k, d in inputs.items() if k != "image"}
    rng = np.random.default_rng(0)
    for _ in range(3):  # a few frames, so that the temporal buffers are not zero
        frame = rng.uniform(0, 1, size=inputs["image"]["shape"]).astype(np.float32)
        out = runner(image=frame, **states)
        states = {k: out[k] for k in states}
    scopes = tflite._model_scopes(model)
    eps = tflite._bn_epsilons(model)
    ops = tflite.conv_ops(graph, scopes)
    assert len(ops) == 64
    worst = 0.0
    for op in ops:

        def value(index):
            t = graph.tensors[index]
            return tflite.dequantize(
                graph.interpreter.get_tensor(index), t["quantization_parameters"]
            )

        x, expected = value(op.input_index), value(op.output_index)
        step = float(graph.tensors[op.output_index]["quantization_parameters"]["scales"][0])
        var = scopes[op.scope]
        kernel = var["kernel"].numpy()
        strides = [1, *op.strides, 1]
        if op.kind == "depthwise":
            y = tf.nn.depthwise_conv2d(x, kernel, strides, op.padding).numpy()
        else:
            y = tf.nn.conv2d(x, kernel, strides, op.padding).numpy()
        if "gamma" in var:
            e = eps[var["moving_variance"].ref()]
            scale = var["gamma"].numpy() / np.sqrt(var["moving_variance"].numpy() + e)
            y = y * scale + (var["beta"].numpy() - var["moving_mean"].numpy() * scale)
        else:
            y = y + var["bias"].numpy()
        if op.activation == "relu6":
            y = np.clip(y, 0.0, 6.0)
        assert op.activation in (None, "relu6"), op
        err = float(np.abs(y - expected).max()) / step
        worst = max(worst, err)
        assert err <= 1.0 + 1e-3, f"{op.scope}: {err:.3f} quantization steps"
    print(f"\nlargest per-op error: {worst:.3f} quantization steps over {len(ops)} convolutions")


@needs_fixtures
def test_carving_ice_end_to_end(reference, streamed):
    names = labels.class_names(600)
    assert reference.shape == streamed.shape == (131, 600)
    top_ref = labels.top_k(reference[-1], 5, names)
    top_ours = labels.top_k(streamed[-1], 5, names)
    assert top_ref[0][0] == top_ours[0][0] == "carving ice"
    overlap = len({i for _, i, _ in top_ref} & {i for _, i, _ in top_ours})
    assert overlap >= 4
    corr = float(np.corrcoef(reference.ravel(), streamed.ravel())[0, 1])
    assert corr >= 0.93
    diff = np.abs(reference - streamed)
    t, c = np.unravel_index(diff.argmax(), diff.shape)
    print(
        f"\ncorrelation {corr:.4f}, largest logit difference {diff.max():.3f} "
        f"(frame {t}, {names[c]!r}); top-5 overlap {overlap}"
    )


@needs_fixtures
def test_int8_head_emulation_explains_most_of_the_rest(converted, clip, reference, streamed):
    """Rounding only the head's running average like the runtime brings logits much closer."""
    emulated = vizattn.tflite.stream_logits(converted[0], clip, emulate_int8_head=TFLITE)[0]
    plain = float(np.corrcoef(reference.ravel(), streamed.ravel())[0, 1])
    corr = float(np.corrcoef(reference.ravel(), emulated.ravel())[0, 1])
    assert corr >= 0.985 and corr > plain
    rms = lambda a: float(np.sqrt(np.mean((a - reference) ** 2)))  # noqa: E731
    assert rms(emulated) < 0.6 * rms(streamed)
    names = labels.class_names(600)
    assert labels.top_k(emulated[-1], 1, names)[0][0] == "carving ice"
    print(
        f"\nwith the int8 head emulated: correlation {corr:.4f} (plain {plain:.4f}), "
        f"largest difference {np.abs(emulated - reference).max():.3f}, "
        f"rms {rms(emulated):.3f} (plain {rms(streamed):.3f})"
    )


@needs_fixtures
def test_vizattn_modules_keep_their_init():
    """TAdaConv inserted into the converted model: it keeps its init, the rest converts."""
    model = vizattn.build_movinet(checkpoint=str(TFLITE), tada="v1")
    summary = vizattn.models.model_info(model).restore_summary
    assert summary.complete and summary.restored == 329
    assert summary.kept_init and all("vizattn" in name for name in summary.kept_init)
    assert summary.restored + len(summary.kept_init) == len(model.variables)


@needs_fixtures
def test_simam_inserted_into_trained_weights_is_said():
    """SimAM has no weights, so the restore summary cannot tell that it is new to them;
    load_model says so (it changes the official model's predictions)."""
    said: list[str] = []
    vizattn.load_model(str(TFLITE), simam="frame", notify=said.append)
    assert any("inserted into weights trained without it" in m for m in said), said


@needs_fixtures
def test_render_and_predict_commands_on_the_real_model(converted, tmp_path, monkeypatch, capsys):
    """``vizattn predict`` and ``vizattn render --kind gradcam --predictions`` on carving_ice
    with the converted official model: class names everywhere, the right top class."""
    import av

    from vizattn import cli

    model = converted[0]
    monkeypatch.setattr(cli, "_load", lambda args, say: model)  # one conversion per module
    code = cli.main(["predict", str(VIDEO), "--checkpoint", str(TFLITE), "--json", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    result = __import__("json").loads(out)
    assert result["clip"]["top"][0]["class"] == "carving ice"
    assert result["clip"]["top"][0]["probability"] > 0.5  # the runtime says 0.91
    frames = tmp_path / "frames"
    argv = [
        "render",
        str(VIDEO),
        "--checkpoint",
        str(TFLITE),
        "--kind",
        "gradcam",
        "--predictions",
        "--max-frames",
        "24",
        "--class",
        "carving ice",
        "-o",
        f"{frames}/",
    ]
    code = cli.main([*argv, "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    pngs = sorted(frames.iterdir())
    assert len(pngs) == 24
    with av.open(str(pngs[-1])) as c:
        image = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert image.shape[0] > 172 and image.shape[1] >= 172  # frame, then strip and colour bar
    np.testing.assert_array_less(0, image[172:].std())  # the strip and the bar are drawn


def test_native_quiet_drops_native_stderr_unless_verbose(capfd, monkeypatch):
    """What C++ writes to file descriptor 2 is dropped inside the block, and kept with -v;
    Python's stderr works after."""
    import os
    import sys

    from vizattn import _tf

    monkeypatch.setattr(_tf, "_VERBOSE", False)
    with _tf.native_quiet():
        os.write(2, b"native noise\n")
    print("python after", file=sys.stderr)
    monkeypatch.setattr(_tf, "_VERBOSE", True)
    with _tf.native_quiet():
        os.write(2, b"verbose native\n")
    err = capfd.readouterr().err
    assert "native noise" not in err
    assert "python after" in err and "verbose native" in err


@needs_fixtures
@pytest.mark.parametrize("reader", ["TFLiteStream", "inspect"])
def test_litert_delegate_line_is_silenced(reader):
    """LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate`` once per process,
    from C++, when it allocates; a fresh process loading the official model prints nothing."""
    import subprocess
    import sys

    code = "import numpy as np; from vizattn import tflite; " + (
        f"s = tflite.TFLiteStream({str(TFLITE)!r}); "
        "s.step(np.zeros((1, 1, *s.input_size, 3), np.float32))"
        if reader == "TFLiteStream"
        else f"tflite.inspect_tflite({str(TFLITE)!r})"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "XNNPACK" not in run.stderr, run.stderr
