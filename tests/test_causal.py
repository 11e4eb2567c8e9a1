"""check_causal: it must flag what reads the future and pass what does not.

The discriminating cases: ``CausalSimAM(mode="clip")``, a user-style
"EnhancedCausalSimAM" whose channel attention pools over the whole clip, and
the base (3D, non-causal) MoViNet must be flagged; every causal SimAM mode,
TAdaConv v1/v2 with a non-zero routing, a MoViNet block and the whole stream
MoViNet must pass. Modules whose causal structure only shows with non-zero
weights (TAda's zero-initialized ``conv_b``, rezero scales) are randomized.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tf_keras

from vizattn._tf import import_tf
from vizattn.causal import CausalReport, check_causal
from vizattn.cli import main
from vizattn.errors import VizAttnError
from vizattn.layers import CausalSimAM, TAdaConv2D, TAdaRouting
from vizattn.models import VizMovinetBlock, build_movinet
from vizattn.testing import randomize

tf = import_tf()

SHAPE = (1, 8, 6, 6, 4)
MODEL_SHAPE = (1, 8, 32, 32, 3)
METHODS = ("perturb", "grad")


# -- layers ----------------------------------------------------------------------


class EnhancedCausalSimAM(tf_keras.layers.Layer):
    """Like the user's layer: per-frame SimAM plus channel attention from a global pool.

    The per-frame part is causal; the channel attention pools over
    ``T x H x W``, so every output frame reads every input frame.
    """

    def __init__(self, gate: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.gate = gate

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.fc = tf_keras.layers.Dense(channels, kernel_initializer="glorot_normal")
        super().build(input_shape)

    def call(self, x):
        mean = tf.reduce_mean(x, axis=[2, 3], keepdims=True)
        d = (x - mean) ** 2
        n = tf.cast(tf.shape(x)[2] * tf.shape(x)[3], x.dtype)
        var = tf.reduce_sum(d, axis=[2, 3], keepdims=True) / (n - 1.0)
        y = x * tf.sigmoid(d / (4.0 * (var + 1e-4)) + 0.5)
        pooled = tf.reduce_mean(x, axis=[1, 2, 3])  # over T x H x W: reads the future
        gate = tf.sigmoid(self.fc(pooled))
        return y * gate[:, None, None, None, :] if self.gate else y


def _routing(version: str, seed: int = 0) -> TAdaRouting:
    layer = TAdaRouting(version, window=4)
    layer(np.zeros(SHAPE, np.float32))  # build
    k = layer.conv_b.kernel  # zero at init: alpha == 1 would hide the routing
    k.assign(np.random.default_rng(seed).normal(0, 0.3, k.shape).astype(np.float32))
    return layer


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", ["frame", "cumulative", "window"])
def test_causal_simam_modes_pass(mode, method):
    report = check_causal(CausalSimAM(mode=mode, window=3), SHAPE, method=method)
    assert report.causal, report
    assert report.leaks == [] and report.worst is None
    assert np.all(np.diag(report.matrix) > 1e-3)  # each frame depends on itself
    if mode == "frame":  # ... and on nothing else
        assert np.count_nonzero(report.matrix > report.tol) == SHAPE[1]
    if mode == "window":  # a band of 3 frames
        rows, cols = np.nonzero(report.matrix > report.tol)
        assert set(rows - cols) == {0, 1, 2}


@pytest.mark.parametrize("method", METHODS)
def test_clip_simam_is_flagged(method):
    report = check_causal(CausalSimAM(mode="clip"), SHAPE, method=method)
    assert not report.causal
    t = SHAPE[1]
    assert len(report.leaks) == t * (t - 1) // 2  # every future pair
    t_out, t_in, value = report.worst
    assert t_in > t_out and value == max(v for _, _, v in report.leaks) > report.tol


@pytest.mark.parametrize("method", METHODS)
def test_enhanced_simam_leaks_through_global_pool(method):
    layer = EnhancedCausalSimAM()
    report = check_causal(layer, SHAPE, method=method)
    assert not report.causal
    assert report.matrix[0, -1] > report.tol  # frame 0 reads the last frame
    # Without the global gate it is per-frame SimAM: causal, frame t reads frame t only.
    plain = check_causal(EnhancedCausalSimAM(gate=False), SHAPE, method=method)
    assert plain.causal
    np.testing.assert_array_equal(plain.matrix > plain.tol, np.eye(SHAPE[1], dtype=bool))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tada_routing_and_conv_pass(version, method):
    routing = _routing(version)
    report = check_causal(routing, SHAPE, method=method)
    assert report.causal, report
    # A randomized routing really mixes frames: alpha_t depends on earlier frames.
    assert report.matrix[-1, 0] > report.tol
    conv = TAdaConv2D(8, routing={"version": version, "window": 4})
    conv(np.zeros(SHAPE, np.float32))
    randomize(conv)  # reaches the routing's conv_b (a sublayer)
    assert np.abs(conv.routing.conv_b.kernel.numpy()).max() > 0
    report = check_causal(conv, SHAPE, method=method)
    assert report.causal, report
    assert report.matrix[-1, 0] > report.tol


def test_a_leaky_routing_is_flagged():
    """Sanity check of the TAda test: the same routing fed the reversed clip leaks."""
    routing = _routing("v1")
    report = check_causal(lambda x: routing(tf.reverse(x, axis=[1]))[0], SHAPE)
    assert not report.causal


# -- callables, time mapping, report ---------------------------------------------


def test_callables_and_strided_time():
    shift_back = check_causal(lambda x: tf.roll(x, 1, axis=1), SHAPE)  # reads t - 1 (and wraps)
    assert not shift_back.causal  # the wrap-around makes frame 0 read frame T-1
    assert shift_back.leaks == [(0, SHAPE[1] - 1, shift_back.matrix[0, -1])]
    ahead = check_causal(lambda x: tf.roll(x, -1, axis=1), SHAPE)  # reads t + 1
    assert {(o, i) for o, i, _ in ahead.leaks} == {(t, t + 1) for t in range(SHAPE[1] - 1)}
    # T_out = T_in / 2: output frame t may read input frames up to 2t + 1.
    strided = check_causal(lambda x: x[:, 1::2], SHAPE)
    assert strided.matrix.shape == (SHAPE[1] // 2, SHAPE[1])
    assert strided.causal
    pooled = check_causal(lambda x: (x[:, 0::2] + x[:, 1::2], {}), SHAPE)  # tuple output
    assert pooled.causal
    early = check_causal(lambda x: x[:, 0::2] + tf.roll(x, -2, axis=1)[:, 0::2], SHAPE)
    assert {(o, i) for o, i, _ in early.leaks} == {(0, 2), (1, 4), (2, 6)}


def test_report_text_and_fields():
    report = check_causal(CausalSimAM(mode="clip"), (1, 4, 4, 4, 2))
    assert isinstance(report, CausalReport)
    assert report.matrix.shape == (4, 4) and report.matrix.dtype == np.float64
    assert report.tol == 1e-6 and report.method == "perturb"
    text = repr(report)
    assert text == report.to_text()
    assert "LEAKS" in text and "CausalSimAM" in text
    rows = [line.split()[1:] for line in text.splitlines()[-4:]]
    assert rows == [["#", "!", "!", "!"], ["#", "#", "!", "!"], ["#", "#", "#", "!"], ["#"] * 4]
    assert "e-" in report.to_text(values=True).splitlines()[-1]
    ok = CausalReport(np.tril(np.ones((3, 3))), tol=1e-6, method="grad")
    assert ok.causal and ok.worst is None and "CAUSAL" in repr(ok)
    idle = CausalReport(np.zeros((3, 3)), tol=1e-6, method="perturb")
    assert idle.causal and "inactive" in repr(idle)
    leak = CausalReport(np.array([[1.0, 2e-6], [1.0, 1.0]]), tol=1e-6, method="perturb")
    assert leak.leaks == [(0, 1, 2e-6)] and not leak.causal
    assert CausalReport(leak.matrix, tol=1e-5, method="perturb").causal


def test_perturb_is_deterministic():
    a = check_causal(CausalSimAM(mode="cumulative"), SHAPE, seed=3)
    b = check_causal(CausalSimAM(mode="cumulative"), SHAPE, seed=3)
    c = check_causal(CausalSimAM(mode="cumulative"), SHAPE, seed=4)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert not np.array_equal(a.matrix, c.matrix)


def test_bad_input():
    layer = CausalSimAM()
    with pytest.raises(VizAttnError, match=r"unknown method 'jacobian'.*'perturb' or 'grad'\.$"):
        check_causal(layer, SHAPE, method="jacobian")
    with pytest.raises(VizAttnError, match=r"clip_shape .*\(1, 8, 32, 32, 3\)"):
        check_causal(layer, (8,))
    with pytest.raises(VizAttnError, match=r"tol must be a number >= 0, got -1"):
        check_causal(layer, SHAPE, tol=-1)
    with pytest.raises(VizAttnError, match=r"endpoint='block3' only applies to MoViNet"):
        check_causal(layer, SHAPE, endpoint="block3")
    with pytest.raises(VizAttnError, match=r"needs a layer, a callable or a MoViNet"):
        check_causal(42, SHAPE)


# -- MoViNet blocks and whole models ---------------------------------------------


@pytest.fixture(scope="module")
def stream_model(movinet):
    return movinet(simam="cumulative", tada="v2")  # randomized; shared with other test files


@pytest.fixture(scope="module")
def base_model(movinet):
    return movinet(stream=False)


def _block(model, name="block1_layer1"):
    from vizattn.hooks import endpoints

    return endpoints(model)[name]


def test_movinet_block_passes_and_clip_block_leaks(stream_model):
    block = _block(stream_model)
    assert isinstance(block, VizMovinetBlock)
    shape = (1, 8, 8, 8, 32)  # block1 input at 32 x 32
    report = check_causal(block, shape)
    assert report.causal, report
    assert report.matrix[-1, 0] > report.tol  # the causal convolutions reach back
    # The same block with SimAM "clip" reads the future.
    leaky = VizMovinetBlock.from_config({**block.get_config(), "simam": {"mode": "clip"}})
    leaky(np.zeros(shape, np.float32))
    randomize(leaky)  # rezero = 0 would hide the SimAM branch entirely
    assert not check_causal(leaky, shape).causal
    leaky_grad = check_causal(leaky, shape, method="grad")
    assert not leaky_grad.causal and leaky_grad.matrix[0, -1] > 0


@pytest.mark.parametrize("method", METHODS)
def test_stream_movinet_passes(stream_model, method):
    report = check_causal(stream_model, MODEL_SHAPE, method=method)
    assert report.causal, report
    assert "stream MoViNet, endpoint block4_layer3" in report.target
    past, future = np.tril_indices(MODEL_SHAPE[1]), np.triu_indices(MODEL_SHAPE[1], 1)
    assert np.all(report.matrix[past] > report.tol)  # the past does reach the last block
    assert np.all(report.matrix[future] == 0.0)  # and the future exactly not


def test_stream_movinet_endpoint_choice(stream_model):
    report = check_causal(stream_model, MODEL_SHAPE, endpoint="block1")
    assert report.target.endswith("block1_layer2") and report.causal
    stem = check_causal(stream_model, MODEL_SHAPE, endpoint="stem")
    assert stem.causal and stem.target.endswith("stem")
    with pytest.raises(VizAttnError, match=r"unknown layer 'blok2'; did you mean 'block2'"):
        check_causal(stream_model, MODEL_SHAPE, endpoint="blok2")
    with pytest.raises(VizAttnError, match=r"layer 'head' is pooled"):
        check_causal(stream_model, MODEL_SHAPE, endpoint="head")
    with pytest.raises(VizAttnError, match=r"does not fit a MoViNet"):
        check_causal(stream_model, (1, 8, 32, 32))


@pytest.mark.parametrize("method", METHODS)
def test_base_movinet_leaks(base_model, method):
    """The base model's 3D convolutions are symmetric in time: every frame reads ahead."""
    report = check_causal(base_model, MODEL_SHAPE, method=method)
    assert not report.causal
    t = MODEL_SHAPE[1]
    assert len(report.leaks) == t * (t - 1) // 2
    assert report.target.startswith("base MoViNet")


# -- command line ----------------------------------------------------------------


def test_switched_off_modules_are_reported_and_randomize_checks_a_copy(capsys):
    """A fresh model (rezero = 0) says CAUSAL but PROVES LITTLE; randomize=True checks a
    randomized copy, finds the clip-SimAM leak, and leaves the model's weights alone."""
    tf_keras.utils.set_random_seed(0)
    fresh = build_movinet("a0", stream=True, simam="clip", num_classes=10)
    report = check_causal(fresh, (1, 4, 32, 32, 3), endpoint="block2")
    assert report.causal and report.disabled
    assert "PROVES LITTLE" in report.verdict and "rezero = 0" in report.verdict
    before = [w.copy() for w in fresh.get_weights()]
    leaky = check_causal(fresh, (1, 4, 32, 32, 3), endpoint="block2", randomize=True)
    assert not leaky.causal and not leaky.disabled and "randomized copy" in leaky.target
    for a, b in zip(before, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(VizAttnError, match=r"randomize=True only applies to MoViNet models"):
        check_causal(_block(fresh), (1, 4, 8, 8, 32), randomize=True)


def test_cli_flags_clip_simam(capsys):
    code = main(["check-causal", "--simam", "clip", "--frames", "4", "--size", "32", "--layer",
                 "block2", "-q"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "LEAKS" in out and "randomized copy" in out and "block2_layer2" in out


def test_cli_bad_input(capsys):
    assert main(["check-causal", "--frames", "1", "--checkpoint", "random"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--frames 1 is too few" in err and "Traceback" not in err
    assert main(["check-causal", "--layer", "blok3", "--checkpoint", "random"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'block3'" in err and err.strip().endswith(".")
    assert main(["check-causal", "--method", "jacobian"]) == 2  # argparse usage error
    assert "invalid choice" in capsys.readouterr().err


def test_cli_help_is_fast_and_mentions_randomize():
    code = (
        "import sys\n"
        "from vizattn.cli import main\n"
        "rc = main(['check-causal', '--help'])\n"
        "print('RC', rc, 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    ).stdout
    assert "RC 0 False" in out
    assert "randomize" in out
