"""capture(): names, shapes, values against the formulas, stream == clip, and no side effects.

One randomized A0 stream model (cumulative SimAM after the projection,
TAdaConv v2) at 32 x 32, 8 frames. ``randomize`` matters: at init every
block's rezero scale is 0 and TAda's ``conv_b`` is 0, so block internals would
never reach the output and alpha would be exactly 1.

Captures are expensive only when they trace (one trace per distinct
``names``/``kinds``/``reduce``), so the two full captures (clip and stream)
are module fixtures and the filter tests each combine several checks.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from official.projects.movinet.modeling import movinet_layers

from vizattn import cache as cap
from vizattn import hooks
from vizattn.cache import DEFAULT_KINDS, SPATIAL_KINDS, Cache, load_cache
from vizattn.errors import VizAttnError
from vizattn.hooks import capture, register_probe
from vizattn.layers import CausalSimAM, simam_reference
from vizattn.models import init_states, predict
from vizattn.testing import synthetic_clip

SHAPE = (1, 8, 32, 32, 3)


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(frames=SHAPE[1], size=SHAPE[2])


@pytest.fixture(scope="module")
def model(clip, movinet):
    m = movinet(simam="cumulative", tada="v2")  # randomized; shared with other test files
    # What the model does before any capture touched it.
    m._test_logits_before = predict(m, clip)
    m._test_run_traces = _traces(m)
    return m


@pytest.fixture(scope="module")
def full(model, clip):
    """Every kind, unreduced, the whole clip at once."""
    return capture(model, clip)


@pytest.fixture(scope="module")
def streamed(model, clip, full):
    """Every kind, frame by frame with states (after ``full``: same traced function)."""
    return capture(model, clip, stream=True)


def _traces(model) -> dict:
    """Tracing count of every traced function vizattn holds for ``model``."""
    return {k: f.experimental_get_tracing_count() for k, (f, _) in hooks._TRACED[model].items()}


def _close(a, b, rel=1e-4):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_allclose(a, b, rtol=rel, atol=rel * max(1.0, np.abs(b).max()))


# -- names and shapes ------------------------------------------------------------


def test_names_and_shapes_of_every_kind(model, full, streamed):
    b, t = SHAPE[:2]
    # SimAM sits after the projection: block3 has 56 channels at 2 x 2 here.
    for kind in ("simam", "simam_energy", "simam_input", "activation"):
        assert full[f"block3_layer1/{kind}"].shape == (b, t, 2, 2, 56)
    assert full["block1_layer0/simam"].shape == (b, t, 4, 4, 32)
    assert full["stem/activation"].shape == (b, t, 16, 16, 8)
    assert full["head/activation"].shape == (b, 1, 1, 1, 480)  # pooled over time
    assert full["block1_layer0/se"].shape == (b, t, 80)  # expanded channels
    assert full["block1_layer0/tada"].shape == (b, t, 80)
    assert full["block1_layer0/tada_attention"].shape == (b, 2, t, t)  # [B, heads, T, T]
    assert full[cap.LOGITS_NAME].shape == (b, 10)
    assert streamed[cap.LOGITS_NAME].shape == (b, t, 10)
    blocks = [n for n in hooks.endpoints(model) if n.startswith("block")]
    for kind in ("simam", "se", "tada", "tada_attention", "activation"):
        assert full.names(kind=kind, names=lambda n: n.startswith("block")) == sorted(
            f"{n}/{kind}" for n in blocks
        )
    assert {cap.kind_of(n) for n in full} == set(DEFAULT_KINDS) - {"state"}
    assert full.states is None
    # Stream states: after step t, per name, the same names as the model's states.
    assert len(streamed.states) == t
    names = set(init_states(model, SHAPE))
    assert all(set(s) == names for s in streamed.states)
    for step, states in enumerate(streamed.states):
        assert states["state_block0_layer0_simam_frame_count"].tolist() == [step + 1]
        assert states["state_block2_layer1_tada_frame_count"].tolist() == [step + 1]
    assert streamed.states[0]["state_block3_layer1_simam_mean"].shape == (b, 56)


# -- values ----------------------------------------------------------------------


def _cumulative_energy(x):
    """SimAM energy with statistics over every position of frames <= t (float64)."""
    frames = [simam_reference(x[:, : t + 1], axes=(1, 2, 3))[1][:, t] for t in range(x.shape[1])]
    return np.stack(frames, axis=1)


@pytest.mark.parametrize("endpoint", ["block1_layer0", "block3_layer2"])
def test_simam_equals_its_formula(full, endpoint):
    x = full[f"{endpoint}/simam_input"]
    energy = full[f"{endpoint}/simam_energy"]
    attention = full[f"{endpoint}/simam"]
    _close(attention, 1.0 / (1.0 + np.exp(-1.0 / energy.astype(np.float64))), 1e-5)
    reference = _cumulative_energy(x)
    _close(energy, reference)
    _close(attention, 1.0 / (1.0 + np.exp(-1.0 / reference)))
    # Frame 0 has seen only itself: the plain per-frame SimAM formula.
    _, first = simam_reference(x[:, :1], axes=(2, 3))
    _close(energy[:, :1], first)
    # And the attention is not constant (randomized weights; it is close to
    # sigmoid(0.5) here because the randomized activations vary little).
    assert np.ptp(attention) > 1e-4


def test_stream_equals_clip_frame_by_frame(full, streamed):
    kinds = (*SPATIAL_KINDS, "se", "tada", "tada_attention")
    checked = 0
    for name in full.names():
        if cap.kind_of(name) in kinds and not name.startswith("head/"):
            _close(streamed[name], full[name])
            checked += 1
    assert checked == 15 * 7 + 1  # 15 blocks x 7 kinds + the stem's activation
    _close(streamed["head/activation"][:, -1:], full["head/activation"])
    _close(streamed[cap.LOGITS_NAME][:, -1], full[cap.LOGITS_NAME])
    # The v2 attention is causal: nothing above the diagonal.
    att = full["block2_layer1/tada_attention"]
    assert np.all(np.triu(att[0, 0], 1) == 0) and np.allclose(att.sum(-1), 1.0)


@pytest.mark.parametrize("chunk", [8, 3])
def test_capture_stream_in_chunks_equals_frame_by_frame(model, clip, streamed, chunk):
    """Chunk 3 ends in a short chunk (2 frames), padded to 3 for the traced call.

    Frame by frame with states (``streamed``) is the reference, for every kind
    that needs no gradient, the head's running average and the logits included.
    """
    kinds = [*SPATIAL_KINDS, "se", "tada", "tada_attention", "logits"]
    got = Cache.concat(list(hooks.capture_stream(model, clip, chunk=chunk, kinds=kinds)))
    checked = _close_to_stepping(got, streamed, kinds)
    assert checked == 15 * 7 + 1 + 2  # as above, the head's activation and the logits


def _close_to_stepping(got: Cache, streamed: Cache, kinds) -> int:
    """Compares every array of ``kinds`` with frame-by-frame stepping; returns how many."""
    checked = 0
    for name in streamed.names():
        if cap.kind_of(name) in kinds:
            _close(got[name], streamed[name])
            checked += 1
    return checked


@pytest.mark.parametrize("chunk, pieces", [(4, 2), (3, 2)])
def test_chunks_in_pieces_equal_frame_by_frame(model, clip, streamed, chunk, pieces, monkeypatch):
    """A traced stream call runs its chunk as ``pieces`` consecutive pieces inside one
    loop (``hooks._in_pieces``), when the chunk's length is a multiple of ``pieces``
    (chunks of 4: 2 pieces of 2 frames, two chunks, states carried across both) and
    otherwise as one call (chunks of 3, the last padded): the values of frame-by-frame
    stepping either way. (Render's 4 pieces run the same loop; a third case cost the
    suite 30 s.)"""
    tf = hooks.tf
    monkeypatch.setattr(hooks, "PIECES", pieces)
    monkeypatch.setattr(hooks, "PIECES_ONE_THREAD", pieces)
    kinds = sorted(hooks.PIECE_KINDS)
    got = Cache.concat(list(hooks.capture_stream(model, clip, chunk=chunk, kinds=kinds)))
    checked = _close_to_stepping(got, streamed, kinds)
    assert checked == 15 * 6 + 1 + 2  # 15 blocks x 6 kinds, the stem, the head, the logits
    # The loop is really there when the chunk splits (and absent when it does not).
    run = next(f for key, (f, _) in hooks._TRACED[model].items() if key[-1] == pieces)
    states = init_states(model, (1, chunk, *clip.shape[2:]))
    x = tf.zeros((1, chunk, *clip.shape[2:]), tf.float32)
    graph = run.get_concrete_function(x, states, tf.constant([-1], tf.int32)).graph
    loops = [op for op in graph.get_operations() if op.type in ("While", "StatelessWhile")]
    assert len(loops) == (1 if chunk % pieces == 0 else 0)


def test_each_of_the_first_input_shapes_is_traced_with_its_sizes_known():
    """A tf.function that has seen two shapes traces again with their sizes unknown,
    and a chunk of unknown length cannot run in pieces: a second chunk length or video
    size in one process made every later call slower (1.5x for a render). Each of the
    first EXACT_SHAPES shapes gets a trace of its own; only later ones share a relaxed one."""
    tf = hooks.tf
    seen: list[tuple] = []

    def double(image, states, classes):
        seen.append(tuple(image.shape))  # runs while tracing
        return image * 2.0

    run = hooks._Traced(double, exact=True)
    shapes = [(1, n, 2, 3, 3) for n in range(2, hooks.EXACT_SHAPES + 4)]
    for shape in shapes + shapes:  # the second round traces nothing more
        x = tf.ones(shape)
        np.testing.assert_array_equal(run(x, {}, tf.constant([-1])), np.full(shape, 2.0))
    first = shapes[: hooks.EXACT_SHAPES]
    assert seen[: len(first)] == first
    # The rest share one function: traced for the first of them, then relaxed.
    rest = seen[len(first) :]
    assert rest[0] == shapes[len(first)] and None in rest[1] and len(rest) == 2
    assert run.experimental_get_tracing_count() == len(seen)
    concrete = run.get_concrete_function(tf.ones(first[1]), {}, tf.constant([-1]))
    assert tuple(concrete.inputs[0].shape) == first[1]

    # Where chunks cannot run in pieces, one relaxed function serves every shape.
    seen.clear()
    relaxed = hooks._Traced(double, exact=False)
    for shape in shapes[:3]:
        relaxed(tf.ones(shape), {}, tf.constant([-1]))
    assert seen[0] == shapes[0] and None in seen[1] and len(seen) == 2


@pytest.mark.parametrize("frames", [16, 7, 1])
def test_the_first_chunk_resized_in_two_halves_equals_one_call(frames):
    rng = np.random.default_rng(frames)
    batch = list(rng.integers(0, 256, (frames, 36, 64, 3), dtype=np.uint8))
    whole = hooks.as_clip(np.stack(batch), size=(18, 30))
    np.testing.assert_array_equal(hooks._first_chunk(batch, (18, 30)), whole)
    np.testing.assert_array_equal(hooks._first_chunk(batch, None), hooks.as_clip(np.stack(batch)))


def test_pieces_follow_the_threads_per_kernel(monkeypatch):
    import os
    import subprocess
    import sys

    from vizattn import _tf

    # Before TensorFlow starts, one thread per kernel can be asked for (as the CLI's
    # render does); after, TensorFlow's threads stay, and the answer says so.
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    code = "from vizattn import _tf; print(_tf.one_thread_per_kernel(), _tf.intra_op_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "1"], out.stderr[-2000:]
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    hooks.tf.constant(0)  # TensorFlow has started here
    assert _tf.one_thread_per_kernel() is False
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ

    monkeypatch.setattr(hooks.tf.config.threading, "get_intra_op_parallelism_threads", lambda: 0)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert _tf.intra_op_threads() == 1 and hooks._pieces() == hooks.PIECES_ONE_THREAD
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "x")
    assert _tf.intra_op_threads() == 0 and hooks._pieces() == hooks.PIECES
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert hooks._pieces() == hooks.PIECES
    monkeypatch.setattr(hooks.tf.config.threading, "get_intra_op_parallelism_threads", lambda: 1)
    assert hooks._pieces() == hooks.PIECES_ONE_THREAD


# -- no side effects -------------------------------------------------------------


def test_model_is_unchanged_after_capture(model, clip, full, streamed):
    assert not any("call" in layer.__dict__ for layer in model._flatten_layers())
    np.testing.assert_array_equal(predict(model, clip), model._test_logits_before)

    # Capture again with the same shapes: no traced function retraces.
    before = _traces(model)
    again = capture(model, clip)
    assert _traces(model) == before
    for name in full:
        np.testing.assert_array_equal(again[name], full[name])


def test_probes_are_removed_when_a_capture_fails(model, clip):
    def boom(layer, x, out):
        raise RuntimeError("probe failed")

    register_probe(movinet_layers.Stem, boom, kind="boom")
    try:
        with pytest.raises(RuntimeError, match="probe failed"):
            capture(model, clip, names="stem", kinds=["boom"])
    finally:
        _drop_probes(movinet_layers.Stem)
    assert not any("call" in layer.__dict__ for layer in model._flatten_layers())


# -- filters and reduction -------------------------------------------------------


def test_prefix_filter_kinds_and_mean(model, clip, full):
    cache = capture(model, clip, names="block3", kinds=["simam", "se"], reduce="mean")
    expected = [f"block3_layer{i}/{k}" for i in range(4) for k in ("se", "simam")]
    assert sorted(cache) == sorted(expected)
    for name in cache:
        if name.endswith("/simam"):
            assert cache[name].shape == SHAPE[:2] + (2, 2)
            _close(cache[name], full[name].mean(axis=-1), 1e-5)
        else:  # not spatial: stored as is
            _close(cache[name], full[name], 1e-6)
    assert cache.metadata["options"]["reduce"] == "mean"


def test_list_filter_and_norm(model, clip, full):
    cache = capture(
        model, clip, names=["stem", "block1_layer0"], kinds=["activation", "simam"], reduce="norm"
    )
    assert sorted(cache) == ["block1_layer0/activation", "block1_layer0/simam", "stem/activation"]
    for name in cache:
        assert cache[name].shape == full[name].shape[:-1]
        _close(cache[name], np.linalg.norm(full[name].astype(np.float64), axis=-1), 1e-5)


def test_predicate_filter_with_stream_states(model, clip, streamed):
    def block2_tada(name):
        return name.startswith("block2") and name.rsplit("/", 1)[-1] in ("tada", "state")

    cache = capture(model, clip, names=block2_tada, kinds=["tada", "state", "simam"], stream=True)
    assert sorted(cache) == [f"block2_layer{i}/tada" for i in range(3)]
    assert len(cache.states) == SHAPE[1]
    assert cache.states[0] and all(n.startswith("state_block2_") for n in cache.states[0])
    for t, states in enumerate(cache.states):
        for n, v in states.items():  # another graph: equal up to rounding
            _close(v, streamed.states[t][n], 1e-5)


def test_bad_options(model, clip):
    with pytest.raises(VizAttnError, match=r"unknown kind 'gate'; use one of simam, "):
        capture(model, clip, kinds=["gate"])
    with pytest.raises(VizAttnError, match=r"unknown reduce 'sum'"):
        capture(model, clip, reduce="sum")
    with pytest.raises(VizAttnError, match=r"names must be a name such as 'block3'"):
        capture(model, clip, names=[3])
    with pytest.raises(VizAttnError, match=r"names must be a name such as 'block3'"):
        capture(model, clip, names=3)  # not iterable: the same message, not a TypeError
    with pytest.raises(VizAttnError, match=r"chunk must be >= 1 frame, got 0"):
        capture(model, clip, stream=True, chunk=0)  # not "the whole clip"


def test_logits_are_kept_whatever_names_selects(model, clip, full):
    cache = capture(model, clip, names="block3", kinds=["simam", "logits"])
    assert cap.LOGITS_NAME in cache
    _close(cache[cap.LOGITS_NAME], full[cap.LOGITS_NAME], 1e-5)
    assert cache.probabilities().shape == (1, cache[cap.LOGITS_NAME].shape[-1])


def test_a_capture_that_records_nothing_asked_for_is_an_error(model, clip, movinet):
    # SimAM sits after the projections, not after the stem.
    with pytest.raises(VizAttnError, match=r"captured nothing of kind 'simam': no layer"):
        capture(model, clip, names="stem", kinds=["simam", "logits"])
    with pytest.raises(VizAttnError, match=r"the model has no TAdaConv"):
        capture(movinet(simam="frame"), clip, kinds=["tada"])


# -- frame maps ------------------------------------------------------------------


def test_frame_maps(full):
    maps = full.frame_maps("block3")
    assert maps.shape == (1, 8, 2, 2) and maps.dtype == np.float32
    assert maps.min() == 0.0 and np.isclose(maps.max(), 1.0)
    mean = np.mean([full[f"block3_layer{i}/simam"].mean(-1) for i in range(4)], axis=0)
    _close(maps, (mean - mean.min()) / (mean.max() - mean.min()), 1e-5)
    # A list of layers of different sizes: resized to the largest and averaged.
    mixed = full.frame_maps(["stem", "block3_layer1"], kind="activation", normalize="frame")
    assert mixed.shape == (1, 8, 16, 16)
    assert np.allclose(mixed.min(axis=(2, 3)), 0.0) and np.allclose(mixed.max(axis=(2, 3)), 1.0)
    clipwise = full.frame_maps(["stem", "block3_layer1"], kind="activation")
    assert np.isclose(clipwise.max(), 1.0) and clipwise.min() == 0.0
    assert not np.allclose(clipwise.max(axis=(2, 3)), 1.0)  # one scale for the clip
    with pytest.raises(VizAttnError, match=r"kind 'se' has no per-frame maps; map kinds are simam"):
        full.frame_maps("block3", kind="se")
    with pytest.raises(VizAttnError, match=r"unknown layer 'blok3'; did you mean"):
        full.frame_maps("blok3")


def test_frame_maps_scale_gradient_kinds_per_frame_by_default():
    """normalize="auto", the default: per frame for gradient kinds (as render, the
    figures and the widgets draw them), per clip for the others."""
    rng = np.random.default_rng(0)
    raw = rng.random((1, 4, 3, 3)).astype(np.float32) * np.array([40, 1, 1, 1])[:, None, None]
    cache = Cache({"block3_layer0/gradcam": raw, "block3_layer0/activation": raw[..., None]})
    np.testing.assert_array_equal(
        cache.frame_maps("block3", "gradcam"),
        cache.frame_maps("block3", "gradcam", normalize="frame"),
    )
    np.testing.assert_array_equal(
        cache.frame_maps("block3", "activation"),
        cache.frame_maps("block3", "activation", normalize="clip"),
    )
    assert not np.allclose(cache.frame_maps("block3", "gradcam").max(axis=(2, 3)), raw.max() / 40)


def test_concat_joins_only_the_chunks_of_one_stream_in_order(model, clip):
    chunks = list(hooks.capture_stream(model, clip, chunk=4, names="block3", kinds=["simam"]))
    joined = Cache.concat(chunks)
    assert joined.frames == SHAPE[1] and joined.metadata["start"] == 0
    with pytest.raises(VizAttnError, match=r"chunk 0 starts at frame 4, not 4|chunk 1 starts"):
        Cache.concat(chunks[::-1])
    with pytest.raises(VizAttnError, match=r"chunk 1 starts at frame 0, not 4"):
        Cache.concat([chunks[0], chunks[0]])
    later = list(hooks.capture_stream(model, clip, chunk=4, names="block2", kinds=["simam"]))
    with pytest.raises(VizAttnError, match=r"chunk 1 holds other hooks than chunk 0"):
        Cache.concat([chunks[0], later[1]])


def test_names_of_an_unknown_kind_is_an_error(full):
    with pytest.raises(VizAttnError, match=r"unknown kind 'simma'; did you mean 'simam'"):
        full.names(kind="simma")
    assert full.names(kind="gradcam") == []  # a known kind this cache does not hold


# -- the Cache object ------------------------------------------------------------


def test_cache_is_read_only_and_readable(full):
    name = "block3_layer1/simam"
    with pytest.raises(TypeError):
        full[name] = np.zeros(1)  # type: ignore[index]
    with pytest.raises(TypeError):
        del full[name]  # type: ignore[attr-defined]
    assert not full[name].flags.writeable
    with pytest.raises(ValueError):
        full[name][0, 0, 0, 0, 0] = 1.0
    with pytest.raises(KeyError, match=r"did you mean 'block3_layer1/simam'"):
        full["block3_layer1/simamm"]
    text = repr(full)
    assert text.startswith("Cache(108 arrays, stream=False)")
    assert "block3_layer1/simam" in text and "(1, 8, 2, 2, 56)" in text


def test_save_load_round_trip(streamed, tmp_path):
    path = streamed.save(tmp_path / "capture")
    assert path.endswith(".npz")
    loaded = load_cache(path)
    assert isinstance(loaded, Cache)
    assert sorted(loaded) == sorted(streamed)
    for name in streamed:
        np.testing.assert_array_equal(loaded[name], streamed[name])
        assert loaded[name].dtype == streamed[name].dtype
    assert len(loaded.states) == len(streamed.states)
    for a, b in zip(loaded.states, streamed.states, strict=True):
        assert a.keys() == b.keys()
        for n in a:
            np.testing.assert_array_equal(a[n], b[n])
    assert loaded.metadata == streamed.metadata
    assert loaded.metadata["model"]["simam"] == "cumulative"
    with pytest.raises(VizAttnError, match=r"no cache file at"):
        load_cache(tmp_path / "missing.npz")
    # Where it cannot write: one line naming the output, never the temporary file.
    with pytest.raises(VizAttnError, match=r"output folder does not exist") as e:
        streamed.save(tmp_path / "no" / "such" / "x.npz")
    assert ".tmp" not in str(e.value)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # not when the tests run as root
        with pytest.raises(VizAttnError, match=r"cannot write .*locked/x.npz") as e:
            streamed.save(locked / "x.npz")
        assert ".tmp" not in str(e.value)


# -- register_probe --------------------------------------------------------------


def _drop_probes(*classes):
    hooks._USER_PROBES[:] = [p for p in hooks._USER_PROBES if p[0] not in classes]


def test_register_probe(model, clip, full):
    """``register_probe`` on classes that live inside a ``build_movinet`` model.

    capture() only runs MoViNets from ``build_movinet``, so a user's own
    class is capturable once it lives inside their blocks; the mechanism is
    the same for any class. Here it is exercised with the two classes that
    already live there: vizattn's ``CausalSimAM`` (stored under the default
    kind, the lower-cased class name) and Model Garden's
    ``StreamSqueezeExcitation`` (an explicit ``kind``). The probes must see
    the real inputs and outputs, which is checked against built-in kinds:
    SimAM's output is ``simam_input * simam``, and the SE output is its input
    times the ``se`` gate.
    """
    import tensorflow as tf

    register_probe(CausalSimAM, lambda layer, x, out: out[0])
    register_probe(
        movinet_layers.StreamSqueezeExcitation,
        lambda layer, x, out: tf.stack([x, out[0]]),  # [2, B, T, H, W, C]: in and out
        kind="se_io",
    )
    try:
        with pytest.raises(VizAttnError, match=r"or a registered probe kind \(causalsimam, se_io"):
            capture(model, clip, kinds=["gate"])
        ep = "block1_layer1"
        kinds = ["causalsimam", "se_io", "simam", "simam_input", "se"]
        cache = capture(model, clip, names=ep, kinds=kinds)
    finally:
        _drop_probes(CausalSimAM, movinet_layers.StreamSqueezeExcitation)
    assert sorted(cache) == sorted(f"{ep}/{k}" for k in kinds)
    _close(cache[f"{ep}/causalsimam"], cache[f"{ep}/simam_input"] * cache[f"{ep}/simam"], 1e-5)
    _close(cache[f"{ep}/simam"], full[f"{ep}/simam"], 1e-5)
    se_in, se_out = cache[f"{ep}/se_io"]
    assert se_in.shape == (1, 8, 4, 4, 80)
    _close(se_out, se_in * cache[f"{ep}/se"][:, :, None, None, :], 1e-5)
    assert not any("call" in layer.__dict__ for layer in model._flatten_layers())
    with pytest.raises(VizAttnError, match=r"unknown kind 'causalsimam'"):
        capture(model, clip, kinds=["causalsimam"])  # unregistered again
    with pytest.raises(VizAttnError, match=r"register_probe needs a layer class"):
        register_probe(CausalSimAM(), lambda layer, x, out: out)


def test_register_probe_dict_kinds_and_all_kinds(model, clip):
    """A probe returning a dict of several kinds is captured under each of them,
    and ``kinds=None`` ("all") includes registered kinds."""
    register_probe(
        movinet_layers.StreamSqueezeExcitation,
        lambda layer, x, out: {"se_x": x, "se_y": out[0]},
        kind=["se_x", "se_y"],
    )
    try:
        ep = "block1_layer1"
        picked = capture(model, clip, names=ep, kinds=["se_x", "se_y", "se"])
        everything = capture(model, clip, names=ep)  # kinds=None: all, registered ones too
    finally:
        _drop_probes(movinet_layers.StreamSqueezeExcitation)
    gate = picked[f"{ep}/se"][:, :, None, None, :]
    _close(picked[f"{ep}/se_y"], picked[f"{ep}/se_x"] * gate, 1e-5)
    assert {f"{ep}/se_x", f"{ep}/se_y", f"{ep}/simam"} <= set(everything)


def test_capture_does_not_keep_the_model_alive():
    """The traced function cached per model must not keep the model alive."""
    import gc
    import weakref

    from vizattn.models import build_movinet

    m = build_movinet("a0", stream=True, num_classes=10)
    capture(m, synthetic_clip(frames=2, size=32), kinds=["logits"])
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None
