"""MoViNet-level properties: the full Model Garden A0 with SimAM/TAdaConv inside.

All stream models are A0 with a 10-class head on a ``[1, 8, 64, 64, 3]`` clip,
built once per session (``movinet`` fixture) with randomized rezero scales, batch
norms and TAda routing, so that every inserted module affects the logits.

Four stream variants cover every causal SimAM mode, both TAda versions and all
three SimAM positions, with stream states at every position:

=================== ============ ========== ====================================
variant             SimAM mode   position   TAda
=================== ============ ========== ====================================
window+tada_v2      window (4)   projection v2 (attention window 3)
frame+tada_v1       frame        projection v1
cumulative@feature  cumulative   feature    -- (multi-scale, learnable lambda)
window@stem         window (3)   stem       --
=================== ============ ========== ====================================

``mode="clip"`` gets its own model: it is the documented non-causal counter-example.
"""

from __future__ import annotations

import functools
import re
import tarfile

import numpy as np
import pytest
import tf_keras

from vizattn import _probe, checkpoints, models, testing
from vizattn.errors import VizAttnError
from vizattn.layers import CausalSimAM, TAdaRouting
from vizattn.models import (
    MODEL_IDS,
    VizMovinetBlock,
    VizStem,
    build_movinet,
    init_states,
    model_info,
    predict,
    predict_stream,
)

tf = models.tf

# Model Garden's modules, as vizattn imports them (the fixture `movinet` takes the name).
mg_movinet = models.movinet
movinet_layers = models.movinet_layers
movinet_model = models.movinet_model

VARIANTS = {
    "window+tada_v2": dict(
        simam="window", simam_options={"window": 4}, tada="v2", tada_options={"window": 3}
    ),
    "frame+tada_v1": dict(simam="frame", tada="v1"),
    "cumulative@feature": dict(
        simam="cumulative",
        simam_position="feature",
        simam_options={"scales": (1.0, 0.5), "learnable_lambda": True},
    ),
    "window@stem": dict(simam="window", simam_position="stem", simam_options={"window": 3}),
}
CLIP_MODE = dict(simam="clip")
STREAM_CONFIG = dict(
    causal=True,
    conv_type="2plus1d",
    se_type="2plus3d",
    activation="hard_swish",
    gating_activation="hard_sigmoid",
)

variant_names = pytest.mark.parametrize("variant", list(VARIANTS))


@functools.cache
def _prefix_logits(model, clip_bytes: bytes, shape: tuple) -> np.ndarray:
    """``predict(model, clip[:, :t+1])`` for every ``t``: ``[batch, T, classes]``."""
    x = np.frombuffer(clip_bytes, np.uint8).reshape(shape)
    return np.stack([predict(model, x[:, : t + 1]) for t in range(shape[1])], axis=1)


def prefix_logits(model, clip) -> np.ndarray:
    return _prefix_logits(model, clip.tobytes(), clip.shape)


def _with_new_future(clip, t: int, seed: int = 7) -> np.ndarray:
    """``clip`` with every frame after ``t`` replaced by other (random) frames."""
    out = np.array(clip, copy=True)
    future = testing.synthetic_clip(frames=clip.shape[1], size=clip.shape[2:4], seed=seed)
    out[:, t + 1 :] = 255 - future[:, t + 1 :]
    return out


def _endpoints(model, clip) -> dict[str, np.ndarray]:
    """Per-frame backbone features of a full-clip forward pass (eager; ``head`` excluded)."""
    x = models.as_clip(clip)
    states = init_states(model, x.shape)
    endpoints, _ = model._backbone({**states, "image": tf.constant(x)}, training=False)
    return {k: v.numpy() for k, v in endpoints.items() if k != "head"}


def _viz_blocks(model) -> list:
    return [x for x in model._backbone.layers if isinstance(x, VizMovinetBlock)]


# -- streaming equals the full clip, for every causal configuration -----------------


@variant_names
def test_variant_contains_the_requested_modules(movinet, variant):
    """Every block (or the stem) really carries the requested SimAM/TAda modules."""
    kwargs = VARIANTS[variant]
    model = movinet(**kwargs)
    backbone = model._backbone
    blocks = _viz_blocks(model)
    specs = mg_movinet.BLOCK_SPECS["a0"]
    n_blocks = sum(
        len(b.expand_filters) for b in specs if isinstance(b, mg_movinet.MovinetBlockSpec)
    )
    if kwargs.get("simam_position") == "stem":
        stems = [x for x in backbone.layers if isinstance(x, VizStem)]
        assert len(stems) == 1 and stems[0]._vizattn_simam.mode == kwargs["simam"]
        assert blocks == []
    else:
        assert len(blocks) == n_blocks
        for block in blocks:
            assert isinstance(block._vizattn_simam, CausalSimAM)
            assert block._vizattn_simam.mode == kwargs["simam"]
            assert block._vizattn_position == kwargs.get("simam_position", "projection")
            if kwargs.get("tada"):
                assert isinstance(block._vizattn_tada, TAdaRouting)
                assert block._vizattn_tada.version == kwargs["tada"]
                # randomize() made the routing non-trivial (alpha != 1)
                assert np.abs(block._vizattn_tada.conv_b.kernel.numpy()).max() > 0
            else:
                assert block._vizattn_tada is None
    info = model_info(model)
    assert (info.model_id, info.stream, info.simam) == ("a0", True, kwargs["simam"])

    # ... and every one of them runs in the forward pass.
    owners = {}
    for layer in [*blocks, *(x for x in backbone.layers if isinstance(x, VizStem))]:
        for attr in ("_vizattn_simam", "_vizattn_tada"):
            module = getattr(layer, attr, None)
            if module is not None:
                owners[id(module)] = f"{layer.name}{attr}"
    recorder = _probe.Recorder(owners, lambda name: True)
    x = tf.constant(models.as_clip(testing.synthetic_clip(frames=2, size=64)))
    with _probe.recording(recorder):
        model({**init_states(model, x.shape), "image": x}, training=False)
    assert {name.split("/")[0] for name in recorder.records} == set(owners.values())


@variant_names
def test_stream_equals_full_clip_prediction_at_every_frame(movinet, clip, variant):
    """``predict_stream(model, clip)[:, t] == predict(model, clip[:, :t+1])`` for every ``t``."""
    model = movinet(**VARIANTS[variant])
    streamed = predict_stream(model, clip, chunk=1)
    assert streamed.shape == (1, clip.shape[1], 10)
    expected = prefix_logits(model, clip)
    np.testing.assert_allclose(streamed, expected, rtol=0, atol=1e-4)
    assert np.abs(np.diff(streamed, axis=1)).max() > 1e-3  # the prediction evolves


@variant_names
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 8])
def test_chunked_stream_equals_full_clip_prediction(movinet, clip, variant, chunk):
    """With ``chunk`` frames per model call, the logits after *every* frame still equal
    ``predict`` on the frames seen so far (the last chunk may be shorter)."""
    model = movinet(**VARIANTS[variant])
    streamed = predict_stream(model, clip, chunk=chunk)
    assert streamed.shape == (1, clip.shape[1], 10)
    np.testing.assert_allclose(streamed, prefix_logits(model, clip), rtol=0, atol=1e-4)


@variant_names
def test_future_frames_change_nothing_at_or_before_t(movinet, clip, variant):
    """Changing frames after ``t`` leaves every streamed output at steps ``<= t`` unchanged,
    and, in one full-clip forward pass, every backbone feature at frames ``<= t``."""
    model = movinet(**VARIANTS[variant])
    streamed = predict_stream(model, clip)
    features = _endpoints(model, clip)
    for t in (2, 5):
        other = _with_new_future(clip, t)
        np.testing.assert_allclose(predict_stream(model, other)[:, : t + 1], streamed[:, : t + 1],
                                   rtol=0, atol=1e-5)  # fmt: skip
        other_features = _endpoints(model, other)
        changed_later = 0.0
        for name, value in features.items():
            np.testing.assert_allclose(
                other_features[name][:, : t + 1], value[:, : t + 1], rtol=0, atol=1e-5,
                err_msg=f"{name} at frames <= {t}",
            )  # fmt: skip
            changed_later = max(changed_later, np.abs(other_features[name] - value).max())
        assert changed_later > 1e-2  # the new frames did reach the network


# -- the documented leak of mode="clip" ------------------------------------------------


def test_clip_mode_stream_differs_from_full_clip_because_it_reads_the_future(movinet, clip):
    """``mode="clip"`` (naive 3D SimAM) is NOT causal: streaming differs from the full-clip
    prediction, and past features change when future frames change (the documented leak)."""
    model = movinet(**CLIP_MODE)
    streamed = predict_stream(model, clip, chunk=1)
    expected = prefix_logits(model, clip)
    np.testing.assert_allclose(streamed[:, 0], expected[:, 0], rtol=0, atol=1e-4)  # 1 frame: same
    # Causal variants agree to rounding; clip mode differs by more. The
    # size of the leak in the logits depends on the random weights, so the bound is loose;
    # the features below show the leak plainly.
    assert np.abs(streamed - expected).max() > 1e-4

    t = 3
    features = _endpoints(model, clip)
    other_features = _endpoints(model, _with_new_future(clip, t))
    leak = max(
        np.abs(other_features[n][:, : t + 1] - v[:, : t + 1]).max() for n, v in features.items()
    )
    assert leak > 1e-3


# -- other configurations ------------------------------------------------------------


def test_base_model_with_simam_and_tada_predicts(movinet, clip):
    """``stream=False`` (the base 3D model) builds with SimAM and TAda and predicts
    ``[1, classes]``; it has no stream states, so ``predict_stream`` refuses it."""
    model = movinet(stream=False, simam="cumulative", tada="v2")
    assert not models.is_stream(model)
    assert len(_viz_blocks(model)) > 0
    assert init_states(model, clip.shape) == {}
    logits = predict(model, clip)
    assert logits.shape == (1, 10)
    assert np.isfinite(logits).all()
    with pytest.raises(VizAttnError, match="stream model"):
        predict_stream(model, clip)


def test_wiring_the_classifier_reuses_the_backbones_known_outputs(movinet, monkeypatch):
    """``build_movinet`` wires the classifier without tracing the finished backbone
    again: inputs like the backbone's own get its known output specs; any other
    input goes Keras's own way; the shortcut is gone afterwards."""
    backbone = movinet(**VARIANTS["frame+tada_v1"])._backbone  # built for other tests too
    own = backbone._nested_inputs
    same = {k: tf_keras.Input(type_spec=v.type_spec) for k, v in own.items()}
    keras_calls = []
    monkeypatch.setattr(
        type(backbone), "_infer_output_signature", lambda self, *a: keras_calls.append(a) or "keras"
    )
    with models._known_output_signature(backbone):
        out = backbone._infer_output_signature(same, (), {"training": None}, None)
        other = dict(same, image=tf_keras.Input(shape=(4, 32, 32, 3)))
        assert backbone._infer_output_signature(other, (), {}, None) == "keras"
        assert backbone._infer_output_signature(same, (1,), {}, None) == "keras"
    assert len(keras_calls) == 2 and "_infer_output_signature" not in backbone.__dict__
    specs = tf.nest.map_structure(lambda t: t.type_spec, out)
    assert specs == tf.nest.map_structure(lambda t: t.type_spec, backbone._nested_outputs)


def test_block_specs_cover_every_model_id():
    """Model Garden has block specs for every model id vizattn accepts (A0 to A5).

    Building A1-A5 here would take minutes; A0 is built by the other tests."""
    assert MODEL_IDS == ("a0", "a1", "a2", "a3", "a4", "a5")
    assert set(MODEL_IDS) <= set(mg_movinet.BLOCK_SPECS)
    assert checkpoints.MODEL_IDS == MODEL_IDS


@pytest.mark.slow
def test_a3_stream_with_positional_encoding_streams_exactly():
    """A3 stream (which adds Model Garden's positional encoding, with its own frame-count
    states) with cumulative SimAM: streaming equals full-clip prediction at every frame.

    The one non-A0 build of the suite (~1 min), run eagerly (tracing A3 would double
    that) on a 2-frame 32x32 clip."""
    model = build_movinet("a3", num_classes=10, simam="cumulative")
    testing.randomize(model, seed=0)
    x = models.as_clip(testing.synthetic_clip(frames=2, size=32, seed=3))
    states = init_states(model, x.shape)
    assert any(name.endswith("_pos_enc_frame_count") for name in states)
    assert len(_viz_blocks(model)) == len(models.endpoint_names("a3")) - 2  # minus stem, head
    assert all(f"{b._state_prefix}_simam_mean" in states for b in _viz_blocks(model))

    def call(frames, states):
        return model({**states, "image": tf.constant(frames)}, training=False)

    streamed = []
    for t in range(x.shape[1]):
        logits, states = call(x[:, t : t + 1], states)
        full, _ = call(x[:, : t + 1], init_states(model, x.shape))
        np.testing.assert_allclose(logits.numpy(), full.numpy(), rtol=0, atol=1e-4)
        streamed.append(logits.numpy())
    assert np.abs(streamed[1] - streamed[0]).max() > 1e-3


# -- TAda at init is the plain network; released checkpoints restore ----------------------


@pytest.fixture(scope="module")
def mg_model():
    """Model Garden's own A0 stream classifier (internal states), randomized."""
    backbone = mg_movinet.Movinet("a0", use_external_states=False, **STREAM_CONFIG)
    model = movinet_model.MovinetClassifier(backbone, num_classes=10, output_states=True)
    testing.randomize(model, seed=1)
    return model


@pytest.fixture(scope="module")
def mg_logits(mg_model, clip) -> np.ndarray:
    logits, _ = mg_model({"image": tf.constant(models.as_clip(clip))}, training=False)
    return logits.numpy()


def _non_vizattn_weights(layer) -> list:
    inserted = {
        id(v)
        for sub in layer._flatten_layers(include_self=False)
        if sub.name.startswith("vizattn_")
        for v in sub.weights
    }
    return [v for v in layer.weights if id(v) not in inserted]


def _copy_weights(src, dst) -> int:
    """Copies ``src``'s weights into ``dst`` layer by layer (matched by layer name)."""
    by_name = {layer.name: layer for layer in dst._backbone.layers}
    pairs = [(layer, by_name[layer.name]) for layer in src._backbone.layers]
    (src_head,) = [x for x in src.layers if isinstance(x, movinet_layers.ClassifierHead)]
    (dst_head,) = [x for x in dst.layers if isinstance(x, movinet_layers.ClassifierHead)]
    pairs.append((src_head, dst_head))
    copied = 0
    for s, d in pairs:
        sw, dw = s.weights, _non_vizattn_weights(d)
        assert [w.shape for w in sw] == [w.shape for w in dw], s.name
        for a, b in zip(sw, dw, strict=True):
            b.assign(a)
        copied += len(sw)
    return copied


def test_tada_at_init_gives_exactly_the_plain_models_logits(mg_model, mg_logits, clip):
    """With the routing at init (``alpha == 1``), a TAda model holding the weights of Model
    Garden's plain A0 gives exactly its logits; random routing then changes them."""
    model = build_movinet("a0", num_classes=10, tada="v1")
    assert _copy_weights(mg_model, model) == len(mg_model.weights)

    # Model Garden's variables keep their names (TFLite and checkpoint mapping read them).
    def plain(n):
        return re.sub(r"_\d+(?=[/:])", "", n)  # Keras' per-build suffixes: conv2d_3 -> conv2d

    ours = sorted(plain(w.name) for w in model.weights if "vizattn" not in w.name)
    assert ours == sorted(plain(w.name) for w in mg_model.weights)
    x = tf.constant(models.as_clip(clip))
    states = init_states(model, x.shape)
    logits = model({**states, "image": x}, training=False)[0].numpy()
    np.testing.assert_array_equal(logits, mg_logits)

    rng = np.random.default_rng(2)
    for block in _viz_blocks(model):  # random routing, every other weight unchanged
        kernel = block._vizattn_tada.conv_b.kernel
        kernel.assign(rng.normal(0, 0.1, kernel.shape).astype(np.float32))
    logits = model({**states, "image": x}, training=False)[0].numpy()
    assert np.abs(logits - mg_logits).max() > 1e-3


def test_released_checkpoint_layout_restores_into_a_tada_model(
    mg_model, mg_logits, clip, tmp_path_factory
):
    """A checkpoint written by Model Garden's classes in the released layout
    (``movinet_a0_stream.tar.gz`` holding ``movinet_a0_stream/ckpt-1``) restores via
    ``build_movinet(..., checkpoint=)`` and reproduces Model Garden's logits; the summary
    lists the TAda variables as kept at init."""
    root = tmp_path_factory.mktemp("released")
    tf.train.Checkpoint(model=mg_model).save(str(root / "movinet_a0_stream" / "ckpt"))
    archive = root / "movinet_a0_stream.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "movinet_a0_stream", arcname="movinet_a0_stream")

    model = build_movinet("a0", num_classes=10, tada="v1", checkpoint=str(archive))
    np.testing.assert_allclose(predict(model, clip), mg_logits, rtol=0, atol=1e-4)

    summary = model_info(model).restore_summary
    tada_vars = [v for b in _viz_blocks(model) for v in b._vizattn_tada.weights]
    assert summary.complete
    assert summary.restored == len(model.weights) - len(tada_vars) == len(mg_model.weights)
    assert len(summary.kept_init) == len(tada_vars) > 0
    assert all("_vizattn_tada" in name for name in summary.kept_init)
    assert "kept init (vizattn modules)" in str(summary) and "_vizattn_tada" in str(summary)
    assert model_info(model).checkpoint == str(archive)


# -- stream states ---------------------------------------------------------------------


@variant_names
def test_stream_state_names_and_shapes(movinet, clip, variant):
    """Every state is ``state_``-prefixed; SimAM/TAda states are declared in the backbone's
    ``initial_state_specs``/``init_states`` with the names, shapes and dtypes that a
    streaming step returns."""
    kwargs = VARIANTS[variant]
    model = movinet(**kwargs)
    shape = (1, 2, 64, 64, 3)
    specs = model._backbone.initial_state_specs(shape)
    states = init_states(model, shape)
    assert set(specs) == set(states)
    assert all(name.startswith("state_") for name in states)

    # Names as documented, at the documented places.
    simam_kinds = {"mean", "m2", "frame_count"}
    if kwargs.get("simam_options", {}).get("scales"):
        simam_kinds = {f"{k}_s{i}" for k in simam_kinds for i in (0, 1)}
    prefixes = (
        ["state_stem"]
        if kwargs.get("simam_position") == "stem"
        else [b._state_prefix for b in _viz_blocks(model)]
    )
    assert prefixes and all(p.startswith("state_") for p in prefixes)
    for prefix in prefixes:
        if kwargs["simam"] != "frame":
            assert {f"{prefix}_simam_{k}" for k in simam_kinds} <= set(states)
        if kwargs.get("tada"):
            assert f"{prefix}_tada_sum" in states and f"{prefix}_tada_frame_count" in states
    module_states = {k for k in states if "_simam_" in k or "_tada_" in k}
    assert bool(module_states) == (kwargs["simam"] != "frame" or bool(kwargs.get("tada")))

    # What a step returns matches what was declared, state by state.
    x = tf.constant(models.as_clip(clip[:, :2]))
    returned = model({**states, "image": x}, training=False)[1]
    assert set(returned) == set(states)
    for name, value in states.items():
        assert returned[name].dtype == value.dtype, name
        assert tuple(returned[name].shape) == tuple(value.shape), name
        assert specs[name].dtype == value.dtype.name, name
    for name in module_states:
        if name.endswith("frame_count") or "_frame_count_" in name:
            assert int(returned[name][0]) == 2


# -- input validation and errors ------------------------------------------------------


def _assert_one_line(err: pytest.ExceptionInfo, *fragments: str) -> str:
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.mark.parametrize(
    "shape",
    [(64, 64, 3), (8, 64, 64, 4), (1, 1, 8, 64, 64, 3), (1, 0, 64, 64, 3), (1, 8, 64, 64)],
    ids=["HW3", "THW4", "6D", "no-frames", "no-channels"],
)
def test_predict_rejects_bad_shapes_naming_received_and_expected(movinet, shape):
    """A wrongly shaped clip raises ``VizAttnError`` naming what was received and expected."""
    model = movinet(**VARIANTS["frame+tada_v1"])
    for fn in (predict, predict_stream):
        with pytest.raises(VizAttnError) as err:
            fn(model, np.zeros(shape, np.uint8))
        _assert_one_line(err, str(shape), "[T, H, W, 3]", "[B, T, H, W, 3]")


@pytest.mark.parametrize(
    "values, words",
    [
        (np.zeros((1, 2, 8, 8, 3), np.int32), ["int32", "uint8"]),
        (np.zeros((1, 2, 8, 8, 3), np.uint16), ["uint16", "uint8"]),
        (np.zeros((1, 2, 8, 8, 3), bool), ["bool", "uint8"]),
        (np.full((1, 2, 8, 8, 3), 255.0), ["255", "[0, 1]"]),
        (np.full((1, 2, 8, 8, 3), -0.5, np.float32), ["-0.5", "[0, 1]"]),
        (np.full((1, 2, 8, 8, 3), np.nan, np.float32), ["nan", "[0, 1]"]),
    ],
    ids=["int32", "uint16", "bool", "float-0-255", "float-negative", "float-nan"],
)
def test_predict_rejects_bad_values(movinet, values, words):
    """Non-uint8 integers and floats outside [0, 1] (NaN included) raise ``VizAttnError``."""
    model = movinet(**VARIANTS["frame+tada_v1"])
    with pytest.raises(VizAttnError) as err:
        predict(model, values)
    _assert_one_line(err, *words)


def test_predict_accepts_uint8_and_unit_floats_equally(movinet, clip):
    """uint8 in [0, 255], float in [0, 1] (any float dtype) and an unbatched clip agree."""
    model = movinet(**VARIANTS["frame+tada_v1"])
    reference = predict(model, clip)
    assert reference.shape == (1, 10)
    np.testing.assert_array_equal(predict(model, clip.astype(np.float64) / 255.0), reference)
    np.testing.assert_array_equal(predict(model, tf.constant(clip / np.float32(255))), reference)
    np.testing.assert_array_equal(predict(model, clip[0]), reference)
    with pytest.raises(VizAttnError) as err:
        predict_stream(model, clip, chunk=0)
    _assert_one_line(err, "chunk")


@pytest.mark.parametrize("size", [(24, 40), (64, 64), (90, 150)], ids=["down", "same", "up"])
def test_resizing_uint8_frames_is_the_float_resize_in_8_bits(size):
    """``as_clip`` resizes uint8 frames as 8-bit images (cheaper): the float path's
    antialiased bilinear filter, rounded to 8 bits."""
    rng = np.random.default_rng(7)
    clip = rng.integers(0, 256, (2, 3, 64, 64, 3), dtype=np.uint8)
    fast = models.as_clip(clip, size=size)
    direct = models.as_clip(clip.astype(np.float32) / 255.0, size=size)
    assert fast.dtype == np.float32 and fast.shape == (2, 3, *size, 3)
    assert fast.min() >= 0.0 and fast.max() <= 1.0
    levels = fast * 255.0
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)  # 8-bit values
    error = np.abs(fast - direct) * 255.0  # in 8-bit levels
    assert error.max() <= 1.0 + 1e-3 and error.mean() < 0.35, (error.max(), error.mean())
    if size[0] < 64:  # downsampling: a filter without antialiasing is far off on noise
        plain = tf.image.resize(clip.reshape(6, 64, 64, 3) / 255.0, size, antialias=False)
        assert np.abs(fast.reshape(6, *size, 3) - plain.numpy()).mean() * 255.0 > 10.0


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"model_id": "a6"}, ["'a6'", "a0"]),
        ({"model_id": "mobilenet"}, ["'mobilenet'", "a5"]),
        ({"simam": "future"}, ["'future'", "cumulative"]),
        ({"simam": "Frame"}, ["'Frame'", "frame"]),
        ({"simam": "frame", "simam_position": "head"}, ["'head'", "projection"]),
        ({"tada": "v3"}, ["'v3'", "v1"]),
        ({"num_classes": 0}, ["num_classes", ">= 1"]),
    ],
    ids=["model_id", "model_id2", "mode", "mode-case", "position", "tada", "num_classes"],
)
def test_build_movinet_rejects_unknown_names_in_one_line(kwargs, words):
    """Unknown model id / SimAM mode / position / TAda version: one-line ``VizAttnError``."""
    model_id = kwargs.pop("model_id", "a0")
    with pytest.raises(VizAttnError) as err:
        build_movinet(model_id, **kwargs)
    _assert_one_line(err, *words)
