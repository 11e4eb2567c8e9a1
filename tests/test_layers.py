"""Layer-level properties of vizattn's modules (no MoViNet is built here).

* ``CausalSimAM`` computes the SimAM formula over the documented set of positions
  (one frame, frames ``<= t``, the last ``k`` frames, the whole clip), streams
  exactly, is causal (except ``mode="clip"``, which provably leaks), is
  numerically stable on data with a large offset, and works with dynamic shapes
  inside ``tf.function``.
* ``TAdaRouting`` is the identity at init, streams exactly, is causal, and its v2
  attention stays inside its window; ``TAdaConv2D``'s efficient form equals the
  per-frame-kernel formula.
* Every layer survives a config / Keras-serialization round trip.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tf_keras

from vizattn import _probe
from vizattn._tf import import_tf
from vizattn.layers import (
    CausalSimAM,
    TAdaConv2D,
    TAdaRouting,
    simam_reference,
    tada_conv_direct,
)
from vizattn.layers.simam import CAUSAL_MODES
from vizattn.layers.tada import VERSIONS

tf = import_tf()

# Configurations of CausalSimAM that carry (or need no) state and are causal.
CAUSAL_SIMAM = {
    "frame": {"mode": "frame"},
    "cumulative": {"mode": "cumulative"},
    "window3": {"mode": "window", "window": 3},
    "window1": {"mode": "window", "window": 1},
    "multiscale-frame": {"mode": "frame", "scales": (1.0, 0.5, 0.25)},
    "multiscale-cumulative": {"mode": "cumulative", "scales": (1.0, 0.5, 0.25)},
    "multiscale-window": {"mode": "window", "window": 2, "scales": (1.0, 0.5, 0.25)},
    "learnable-cumulative": {"mode": "cumulative", "learnable_lambda": True, "e_lambda": 0.3},
    "learnable-window": {"mode": "window", "window": 4, "learnable_lambda": True},
}


def _normal(shape, seed=0, loc=0.0, scale=1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, scale, size=shape).astype(np.float32)


def _simam(config) -> CausalSimAM:
    """A built ``CausalSimAM``; a learnable lambda is moved off its initial value."""
    layer = CausalSimAM(**config)
    layer(_normal((1, 2, 4, 4, 3)))
    if layer.learnable_lambda:
        layer.log_lambda.assign(math.log(0.05))
    return layer


def _stream(layer, x, chunk):
    """Feeds ``x`` ``chunk`` frames at a time, carrying states; returns (outputs, states)."""
    outs, states = [], None
    for start in range(0, x.shape[1], chunk):
        y, states = layer(x[:, start : start + chunk], states=states)
        outs.append(np.asarray(y))
    return np.concatenate(outs, axis=1), states


def _future_changed(x, t, seed=99) -> np.ndarray:
    """``x`` with every frame after ``t`` replaced by very different data."""
    out = np.array(x, copy=True)
    out[:, t + 1 :] = _normal(out[:, t + 1 :].shape, seed=seed, loc=3.0, scale=5.0)
    return out


def _randomize_routing(routing: TAdaRouting, seed=1, scale=0.5):
    """Gives the zero-initialized last routing layer random weights (so alpha != 1)."""
    k = routing.conv_b.kernel
    fan_in = int(np.prod(k.shape[:-1]))
    k.assign(_normal(k.shape, seed=seed, scale=scale / fan_in**0.5))


# -- CausalSimAM: the formula -----------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(2, 3, 5, 7, 4), (1, 2, 1, 2, 3), (1, 4, 2, 2, 8), (3, 1, 9, 1, 2)],
    ids=lambda s: "x".join(map(str, s)),
)
@pytest.mark.parametrize("e_lambda", [1e-4, 0.5])
def test_simam_frame_mode_is_the_simam_formula_per_frame(shape, e_lambda):
    """``mode="frame"`` equals the SimAM formula with statistics over each frame's H x W."""
    x = _normal(shape, seed=sum(shape))
    y, states = CausalSimAM(mode="frame", e_lambda=e_lambda)(x)
    ref, _ = simam_reference(x, e_lambda=e_lambda, axes=(2, 3))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert states == {}


@pytest.mark.parametrize("shape", [(2, 5, 4, 3, 4), (1, 3, 1, 2, 2)])
def test_simam_clip_mode_is_the_simam_formula_over_the_whole_clip(shape):
    """``mode="clip"`` equals the SimAM formula over all T x H x W positions."""
    x = _normal(shape, seed=3)
    y, _ = CausalSimAM(mode="clip")(x)
    ref, _ = simam_reference(x, axes=(1, 2, 3))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 6, 4, 3, 4), (1, 5, 1, 2, 3)])
def test_simam_cumulative_mode_uses_every_frame_up_to_t(shape):
    """Output frame ``t`` of "cumulative" is SimAM over frames ``[0, t]`` (its last frame)."""
    x = _normal(shape, seed=4, loc=0.5)
    y, _ = CausalSimAM(mode="cumulative")(x)
    for t in range(shape[1]):
        ref, _ = simam_reference(x[:, : t + 1], axes=(1, 2, 3))
        np.testing.assert_allclose(y.numpy()[:, t], ref[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("window", [1, 2, 3, 4, 9])
def test_simam_window_mode_uses_the_last_k_frames(window):
    """Output frame ``t`` of "window" is SimAM over frames ``[t-k+1, t]`` (clamped at 0)."""
    x = _normal((2, 7, 3, 4, 3), seed=window, loc=-1.0)
    y, _ = CausalSimAM(mode="window", window=window)(x)
    for t in range(x.shape[1]):
        ref, _ = simam_reference(x[:, max(0, t - window + 1) : t + 1], axes=(1, 2, 3))
        np.testing.assert_allclose(y.numpy()[:, t], ref[:, -1], rtol=1e-5, atol=1e-5)


# -- CausalSimAM: streaming and causality -----------------------------------------


@pytest.mark.parametrize("name", list(CAUSAL_SIMAM))
def test_simam_streaming_equals_full_clip(name):
    """Streaming in chunks of 1, 2, 3 or 4 frames (carrying states) equals one full-clip call."""
    layer = _simam(CAUSAL_SIMAM[name])
    x = _normal((2, 8, 8, 8, 3), seed=5, loc=0.3)
    full, full_states = layer(x)
    for chunk in (1, 2, 3, 4):
        streamed, states = _stream(layer, x, chunk)
        np.testing.assert_allclose(streamed, full.numpy(), rtol=0, atol=1e-5, err_msg=f"{chunk=}")
        assert sorted(states) == sorted(full_states)
        for key in states:  # the final states do not depend on the chunking either
            np.testing.assert_allclose(np.asarray(states[key]), np.asarray(full_states[key]), 1e-5)


def test_simam_clip_mode_streaming_differs_from_full_clip():
    """``mode="clip"`` cannot stream: per-chunk statistics differ from whole-clip ones."""
    layer = CausalSimAM(mode="clip")
    x = _normal((1, 8, 6, 6, 3), seed=6)
    full, _ = layer(x)
    for chunk in (1, 2, 4):
        streamed, states = _stream(layer, x, chunk)
        assert states == {}
        assert np.abs(streamed - full.numpy()).max() > 1e-2, f"{chunk=}"


@pytest.mark.parametrize("name", list(CAUSAL_SIMAM))
def test_simam_causal_modes_ignore_future_frames(name):
    """For causal modes, changing frames after ``t`` leaves outputs at frames ``<= t`` unchanged."""
    layer = _simam(CAUSAL_SIMAM[name])
    assert layer.causal
    x = _normal((1, 6, 5, 6, 3), seed=7)
    y = layer(x)[0].numpy()
    for t in range(x.shape[1] - 1):
        y2 = layer(_future_changed(x, t))[0].numpy()
        np.testing.assert_allclose(y2[:, : t + 1], y[:, : t + 1], rtol=0, atol=1e-6)
        assert np.abs(y2[:, t + 1 :] - y[:, t + 1 :]).max() > 0  # the change did reach the layer


def test_simam_clip_mode_leaks_the_future_into_the_past():
    """``mode="clip"`` is NOT causal: changing frames after ``t`` changes outputs at ``<= t``."""
    layer = CausalSimAM(mode="clip")
    assert not layer.causal
    x = _normal((1, 6, 5, 6, 3), seed=7)
    y = layer(x)[0].numpy()
    for t in range(x.shape[1] - 1):
        y2 = layer(_future_changed(x, t))[0].numpy()
        assert np.abs(y2[:, : t + 1] - y[:, : t + 1]).max() > 1e-2, f"{t=}"


def test_causal_modes_constant_matches_layer_property():
    """``CausalSimAM.causal`` is True exactly for the modes that do not read the future."""
    assert set(CAUSAL_MODES) == {"frame", "cumulative", "window"}
    for mode in ("frame", "cumulative", "window", "clip"):
        assert CausalSimAM(mode=mode).causal == (mode != "clip")


# -- CausalSimAM: numerics, dynamic shapes, learnable lambda ----------------------


@pytest.mark.parametrize("mode", ["cumulative", "window"])
@pytest.mark.parametrize("chunk", [None, 1])
def test_simam_statistics_are_stable_with_a_large_offset(mode, chunk):
    """x = 1e4 + N(0, 1) in float32: the layer matches a float64 reference; the naive
    ``E[x^2] - E[x]^2`` variance in float32 is wildly wrong on the same data."""
    x = (1e4 + np.random.default_rng(8).normal(0, 1, (1, 6, 8, 8, 4))).astype(np.float32)
    layer = CausalSimAM(mode=mode, window=3)
    y = layer(x)[0].numpy() if chunk is None else _stream(layer, x, chunk)[0]
    attention = y / x
    naive_worst = 0.0
    for t in range(x.shape[1]):
        lo = 0 if mode == "cumulative" else max(0, t - 2)
        frames = x[:, lo : t + 1]
        ref, _ = simam_reference(frames.astype(np.float64), axes=(1, 2, 3))
        ref_attention = ref[:, -1] / x[:, t].astype(np.float64)
        np.testing.assert_allclose(attention[:, t], ref_attention, rtol=0, atol=2e-3)

        # The naive one-pass formula, in float32 like the layer.
        n = np.float32(frames[0, ..., 0].size)
        mean = frames.mean(axis=(1, 2, 3), dtype=np.float32)
        sum_sq = (frames * frames).sum(axis=(1, 2, 3), dtype=np.float32)
        var = (sum_sq - n * mean * mean) / (n - 1)
        d = x[:, t] - mean[:, None, None, :]
        with np.errstate(all="ignore"):
            naive = 1 / (1 + np.exp(-(d * d / (4 * (var[:, None, None, :] + 1e-4)) + 0.5)))
        err = np.abs(naive - ref_attention)
        naive_worst = max(naive_worst, np.inf if not np.isfinite(err).all() else err.max())
    assert naive_worst > 0.05, "the naive formula should fail on this data"


@pytest.mark.parametrize("mode", ["frame", "cumulative", "window"])
def test_simam_multiscale_in_tf_function_with_dynamic_shapes(mode):
    """Multi-scale SimAM traces once with ``[None, None, None, None, C]`` and runs on odd
    sizes (the user's crash: a float scale multiplied by an int32 dynamic shape)."""
    layer = CausalSimAM(mode=mode, window=2, scales=(1.0, 0.5, 0.25))
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, None, 3])])
    for i, (h, w) in enumerate([(7, 9), (5, 3), (1, 1), (9, 7)]):
        x = _normal((1 + i % 2, 3, h, w, 3), seed=h * w)
        y, states = fn(tf.constant(x))
        assert y.shape == x.shape
        assert np.isfinite(y.numpy()).all()
        eager, eager_states = layer(x)
        np.testing.assert_allclose(y.numpy(), eager.numpy(), rtol=1e-6, atol=1e-6)
        assert sorted(states) == sorted(eager_states)
    assert fn.experimental_get_tracing_count() == 1


def test_simam_multiscale_inside_a_keras_model_with_unknown_sizes():
    """Multi-scale SimAM is usable in a functional tf_keras model with unknown T, H, W."""
    inputs = tf_keras.Input(shape=(None, None, None, 4))
    y, _ = CausalSimAM(mode="cumulative", scales=(1.0, 0.5))(inputs)
    model = tf_keras.Model(inputs, y)
    out = model(_normal((1, 3, 7, 9, 4)))
    assert out.shape == (1, 3, 7, 9, 4)


def test_learnable_lambda_is_trainable_and_stays_positive():
    """``learnable_lambda`` is one trainable variable ``log_lambda`` with a gradient;
    ``lambda = exp(log_lambda)`` stays positive while training pushes it down."""
    layer = CausalSimAM(mode="cumulative", learnable_lambda=True, e_lambda=0.1)
    x = np.abs(_normal((1, 4, 5, 5, 3), seed=9)) + 0.1
    layer(x)
    assert [v.name.split("/")[-1] for v in layer.trainable_weights] == ["log_lambda:0"]
    assert float(layer.log_lambda) == pytest.approx(math.log(0.1), rel=1e-6)

    optimizer = tf_keras.optimizers.SGD(learning_rate=50.0)
    start = float(layer._lambda(tf.float32))
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(layer(x)[0])  # larger lambda -> smaller output
        (grad,) = tape.gradient(loss, layer.trainable_weights)
        assert grad is not None and np.isfinite(grad.numpy()) and grad.numpy() != 0
        optimizer.apply_gradients([(grad, layer.log_lambda)])
        assert float(layer._lambda(tf.float32)) > 0
    assert float(layer._lambda(tf.float32)) < start / 2  # training really moved lambda


def test_fixed_lambda_has_no_weights():
    """Plain SimAM is parameter-free."""
    layer = CausalSimAM(mode="window")
    layer(_normal((1, 2, 3, 3, 2)))
    assert layer.weights == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"e_lambda": 0.0}, "e_lambda"),
        ({"e_lambda": -1e-4}, "e_lambda"),
        ({"e_lambda": float("nan")}, "e_lambda"),
        ({"mode": "future"}, "mode"),
        ({"window": 0}, "window"),
        ({"scales": ()}, "scales"),
        ({"scales": (1.0, 0.0)}, "scales"),
        ({"scales": (1.5,)}, "scales"),
    ],
)
def test_simam_rejects_bad_arguments(kwargs, words):
    """Bad arguments raise ``ValueError`` naming the argument."""
    with pytest.raises(ValueError, match=words):
        CausalSimAM(**kwargs)


@pytest.mark.parametrize(
    "config, expected",
    [
        ({"mode": "frame"}, {}),
        ({"mode": "clip"}, {}),
        ({"mode": "window", "window": 1}, {}),
        (
            {"mode": "cumulative"},
            {"mean": (2, 3), "m2": (2, 3), "frame_count": (1,)},
        ),
        (
            {"mode": "window", "window": 4},
            {"mean": (2, 3, 3), "m2": (2, 3, 3), "frame_count": (1,)},
        ),
    ],
    ids=["frame", "clip", "window1", "cumulative", "window4"],
)
def test_simam_state_names_and_shapes(config, expected):
    """States are ``{prefix}_simam_{mean,m2,frame_count}``; what ``call`` returns matches
    ``state_shapes`` (names and shapes), which is what MoViNet's state inputs are made from."""
    layer = CausalSimAM(**config, state_prefix="state_block1_layer2")
    want = {f"state_block1_layer2_simam_{k}": v for k, v in expected.items()}
    assert layer.state_shapes(2, 3) == want
    _, states = layer(_normal((2, 5, 4, 4, 3)))
    assert {k: tuple(v.shape) for k, v in states.items()} == want
    if want:
        assert states["state_block1_layer2_simam_frame_count"].dtype == tf.int32
        assert int(states["state_block1_layer2_simam_frame_count"][0]) == 5


def test_simam_multiscale_state_names_have_scale_suffixes():
    """With several scales each scale has its own states, suffixed ``_s{i}``."""
    layer = CausalSimAM(mode="cumulative", scales=(1.0, 0.5), state_prefix="state_stem")
    _, states = layer(_normal((1, 3, 8, 8, 2)))
    expected = {f"state_stem_simam_{k}_s{i}" for k in ("mean", "m2", "frame_count") for i in (0, 1)}
    assert set(states) == expected == set(layer.state_shapes(1, 2))


# -- TAdaRouting -------------------------------------------------------------------


def _routing(version, seed=1, **kwargs) -> TAdaRouting:
    routing = TAdaRouting(version, **kwargs)
    routing(_normal((1, 2, 3, 3, 16)))
    _randomize_routing(routing, seed=seed)
    return routing


@pytest.mark.parametrize("version", VERSIONS)
def test_tada_alpha_is_exactly_one_at_init(version):
    """The last routing layer is zero-initialized, so ``alpha == 1`` exactly."""
    routing = TAdaRouting(version)
    alpha, _ = routing(_normal((2, 6, 4, 4, 16), seed=2, loc=1.0, scale=3.0))
    assert alpha.shape == (2, 6, 16)
    assert np.all(alpha.numpy() == 1.0)


@pytest.mark.parametrize("kwargs", [{}, {"kernels": (1, 1)}, {"kernels": (2, 4)}], ids=str)
@pytest.mark.parametrize("version", VERSIONS)
def test_tada_routing_streaming_equals_full_clip(version, kwargs):
    """With random routing (alpha != 1), streaming in chunks of 1/2/3/4 equals the full clip."""
    routing = _routing(version, window=3, **kwargs)
    x = _normal((2, 8, 4, 4, 16), seed=3)
    full, full_states = routing(x)
    assert np.abs(full.numpy() - 1).max() > 1e-2
    for chunk in (1, 2, 3, 4):
        streamed, states = _stream(routing, x, chunk)
        np.testing.assert_allclose(streamed, full.numpy(), rtol=0, atol=1e-5, err_msg=f"{chunk=}")
        assert sorted(states) == sorted(full_states)


@pytest.mark.parametrize("version", VERSIONS)
def test_tada_routing_is_causal(version):
    """Changing frames after ``t`` leaves ``alpha`` at frames ``<= t`` unchanged."""
    routing = _routing(version, window=4)
    x = _normal((1, 7, 4, 4, 16), seed=4)
    alpha = routing(x)[0].numpy()
    for t in range(x.shape[1] - 1):
        alpha2 = routing(_future_changed(x, t))[0].numpy()
        np.testing.assert_allclose(alpha2[:, : t + 1], alpha[:, : t + 1], rtol=0, atol=1e-6)
        assert np.abs(alpha2[:, t + 1 :] - alpha[:, t + 1 :]).max() > 0


@pytest.mark.parametrize("window", [1, 2, 3, 5])
@pytest.mark.parametrize("chunk", [8, 1, 3])
def test_tada_v2_attention_stays_inside_its_window(window, chunk):
    """v2 attention of frame ``t`` gives zero weight outside ``(t - window, t]`` (and to
    buffered slots before the first frame), positive weight inside; rows sum to 1."""
    routing = _routing("v2", window=window, heads=2)
    x = _normal((2, 8, 3, 3, 16), seed=5)
    recorder = _probe.Recorder({id(routing): "r"}, lambda name: True)
    states, w1 = None, window - 1
    for start in range(0, x.shape[1], chunk):
        recorder.records.clear()
        with _probe.recording(recorder):
            _, states = routing(x[:, start : start + chunk], states=states)
        att = recorder.records["r/tada_attention"].numpy()  # [B, heads, time, w1 + time]
        time = min(chunk, x.shape[1] - start)
        assert att.shape == (2, 2, time, w1 + time)
        frame = start + np.arange(time)[:, None]  # absolute index of the query frame
        source = start + np.arange(w1 + time)[None, :] - w1  # absolute index of each source
        band = (source <= frame) & (source > frame - window) & (source >= 0)
        assert np.all(att[:, :, ~band] == 0.0)
        assert np.all(att[:, :, band] > 0.0)
        np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "version, kwargs, expected",
    [
        ("v1", {}, {"sum", "frame_count", "buffer_a", "buffer_b"}),
        ("v1", {"kernels": (1, 1)}, {"sum", "frame_count"}),
        ("v2", {"window": 4}, {"sum", "frame_count", "buffer_a", "buffer_b", "keys", "values"}),
        ("v2", {"window": 1, "kernels": (1, 3)}, {"sum", "frame_count", "buffer_b"}),
    ],
    ids=["v1", "v1-k1", "v2", "v2-w1"],
)
def test_tada_state_names_and_shapes(version, kwargs, expected):
    """States are ``{prefix}_tada_{sum,frame_count,buffer_a,buffer_b,keys,values}``; what
    ``call`` returns matches ``state_shapes`` in names and shapes."""
    routing = TAdaRouting(version, state_prefix="state_block3_layer0", **kwargs)
    declared = routing.state_shapes(2, 16)
    assert set(declared) == {f"state_block3_layer0_tada_{k}" for k in expected}
    _, states = routing(_normal((2, 5, 4, 4, 16)))
    assert {k: tuple(v.shape) for k, v in states.items()} == declared
    hidden = routing.hidden_size(16)
    if "keys" in expected:
        assert declared["state_block3_layer0_tada_keys"] == (2, kwargs["window"] - 1, hidden)
    assert int(states["state_block3_layer0_tada_frame_count"][0]) == 5


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"version": "v3"}, "version"),
        ({"kernels": (3,)}, "kernels"),
        ({"kernels": (0, 3)}, "kernels"),
        ({"window": 0}, "window"),
        ({"heads": 0}, "heads"),
    ],
)
def test_tada_routing_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        TAdaRouting(**kwargs)


# -- TAdaConv2D ----------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("depthwise", [True, False], ids=["depthwise", "regular"])
@pytest.mark.parametrize("version", VERSIONS)
def test_tada_conv_efficient_form_equals_per_frame_kernels(version, depthwise, strides, padding):
    """``conv(alpha_t * x_t, W_b)`` (the layer) equals ``conv(x_t, alpha_t * W_b)``."""
    layer = TAdaConv2D(
        None if depthwise else 6,
        kernel_size=3,
        depthwise=depthwise,
        strides=strides,
        padding=padding,
        routing={"version": version, "window": 3},
    )
    x = _normal((2, 4, 7, 6, 8), seed=6)
    layer(x)
    _randomize_routing(layer.routing, seed=7)
    layer.bias.assign(_normal(layer.bias.shape, seed=8))
    y, _ = layer(x)
    alpha, _ = layer.routing(x)
    assert np.abs(alpha.numpy() - 1).max() > 1e-2  # the calibration is not the identity
    direct = tada_conv_direct(
        tf.constant(x),
        layer.kernel,
        alpha,
        layer.bias,
        depthwise=depthwise,
        strides=strides,
        padding=padding.upper(),
    )
    assert y.shape == direct.shape
    np.testing.assert_allclose(y.numpy(), direct.numpy(), rtol=1e-5, atol=1e-5)


def test_tada_conv_streams_and_requires_filters():
    """TAdaConv2D streams like its routing, and needs ``filters`` unless depthwise."""
    layer = TAdaConv2D(4, routing={"version": "v2", "window": 2})
    x = _normal((1, 6, 5, 5, 3), seed=9)
    layer(x)
    _randomize_routing(layer.routing)
    full, _ = layer(x)
    streamed, states = _stream(layer, x, 2)
    np.testing.assert_allclose(streamed, full.numpy(), rtol=0, atol=1e-5)
    assert "state_tada_keys" in states
    with pytest.raises(ValueError, match="filters"):
        TAdaConv2D()


# -- serialization -----------------------------------------------------------------


def _built_layers():
    x = _normal((1, 5, 6, 6, 8), seed=10)
    layers = [
        CausalSimAM(mode="frame"),
        CausalSimAM(mode="window", window=3, e_lambda=0.01, state_prefix="state_x"),
        CausalSimAM(mode="cumulative", scales=(1.0, 0.5), learnable_lambda=True),
        CausalSimAM(mode="clip"),
        TAdaRouting("v1", kernels=(2, 3), reduction=2),
        TAdaRouting("v2", window=3, heads=4, state_prefix="state_y"),
        TAdaConv2D(5, kernel_size=(3, 1), routing={"version": "v2", "window": 2}),
        TAdaConv2D(depthwise=True, strides=2, padding="valid", use_bias=False),
    ]
    for layer in layers:
        layer(x)
        if isinstance(layer, CausalSimAM) and layer.learnable_lambda:
            layer.log_lambda.assign(-1.0)
        routing = layer if isinstance(layer, TAdaRouting) else getattr(layer, "routing", None)
        if routing is not None:
            _randomize_routing(routing)
    return x, layers


def _same_outputs(a, b, x):
    b(x)  # build
    b.set_weights(a.get_weights())
    ya, sa = a(x)
    yb, sb = b(x)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert sorted(sa) == sorted(sb)


def test_every_layer_round_trips_through_its_config():
    """``from_config(get_config())`` rebuilds a layer with identical behaviour."""
    x, layers = _built_layers()
    for layer in layers:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        _same_outputs(layer, clone, x)


def test_every_layer_round_trips_through_keras_serialization():
    """Keras serialization finds the layers under the package ``vizattn``."""
    x, layers = _built_layers()
    for layer in layers:
        serialized = tf_keras.utils.serialize_keras_object(layer)
        assert serialized["registered_name"] == f"vizattn>{type(layer).__name__}"
        clone = tf_keras.utils.deserialize_keras_object(serialized)
        assert type(clone) is type(layer)
        _same_outputs(layer, clone, x)


# -- MoViNet subclasses (single layers, not whole networks) ------------------------------

BLOCK_ARGS = dict(
    out_filters=8,
    expand_filters=16,
    kernel_size=(3, 3, 3),
    causal=True,
    conv_type="2plus1d",
    se_type="2plus3d",
    activation="hard_swish",
    gating_activation="hard_sigmoid",
    state_prefix="state_block0_layer0",
)


def test_viz_block_and_stem_configs_carry_the_module_configs():
    """``VizMovinetBlock``/``VizStem`` configs include the SimAM/TAda configs, and
    ``from_config`` rebuilds blocks with identical outputs and states."""
    from vizattn.models import VizMovinetBlock, VizStem

    simam = {"mode": "window", "window": 3}
    tada = {"version": "v2", "window": 2}
    block = VizMovinetBlock(simam=simam, simam_position="feature", tada=tada, **BLOCK_ARGS)
    config = block.get_config()
    assert config["simam"] == simam
    assert config["tada"] == tada
    assert config["simam_position"] == "feature"

    x = _normal((1, 4, 6, 6, 8), seed=11)
    y, states = block(x)
    _randomize_routing(block._vizattn_tada)
    assert any(k.endswith("_simam_mean") for k in states)
    assert any(k.endswith("_tada_keys") for k in states)
    clone = VizMovinetBlock.from_config(config)
    _same_outputs(block, clone, x)

    stem = VizStem(8, (1, 3, 3), causal=True, conv_type="2plus1d", simam={"mode": "cumulative"},
                   state_prefix="state_stem")  # fmt: skip
    assert stem.get_config()["simam"] == {"mode": "cumulative"}
    _, stem_states = stem(_normal((1, 3, 8, 8, 3)))
    assert "state_stem_simam_mean" in stem_states
    _same_outputs(stem, VizStem.from_config(stem.get_config()), _normal((1, 3, 8, 8, 3)))

    with pytest.raises(ValueError, match="position"):
        VizMovinetBlock(simam=simam, simam_position="stem", **BLOCK_ARGS)
