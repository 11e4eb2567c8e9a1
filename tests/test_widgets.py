"""vizattn.widgets: every explorer builds headless, and moving a control redraws its figure.

Most tests use small synthetic caches (NumPy only, no model); one captures a real
MoViNet and pastes it into ``overlay_explorer`` the way a researcher would.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from vizattn import widgets  # noqa: E402
from vizattn.cache import Cache  # noqa: E402
from vizattn.errors import VizAttnError  # noqa: E402

T = 6


@pytest.fixture(scope="module")
def cache() -> Cache:
    rng = np.random.default_rng(0)
    arrays = {
        f"block{b}_layer{j}/{kind}": rng.random((1, T, 8, 8, 4)).astype(np.float32)
        for b in (1, 2)
        for j in (0, 1)
        for kind in ("simam", "simam_input")
    }
    arrays["block2_layer1/gradcam"] = rng.random((1, T, 8, 8)).astype(np.float32)
    arrays["block2_layer0/tada"] = 1 + 0.1 * rng.normal(size=(1, T, 16))
    arrays["block2_layer1/tada"] = 1 + 0.2 * rng.normal(size=(1, T, 16))
    att = np.tril(rng.random((1, 2, T, T)))
    att /= att.sum(-1, keepdims=True)
    att[:, 1] *= 0.1  # a second head with much smaller weights: needs its own scale
    arrays["block2_layer0/tada_attention"] = att
    arrays["classifier_head/logits"] = rng.normal(size=(1, T, 4)) * 3
    states = [
        {
            "state_block1_layer0_stream_buffer": rng.normal(size=(1, 2, 8, 8, 4)),
            "state_block1_layer0_pool_buffer": rng.normal(size=(1, 1, 1, 1, 4)),
            "state_block2_layer0_pool_buffer": rng.normal(size=(1, 1, 1, 1, 4)),
            "state_head_pool_buffer": rng.normal(size=(1, 1, 1, 1, 4)),
        }
        for _ in range(T)
    ]
    return Cache(arrays, states=states, metadata={"model": {"class_names": list("abcd")}})


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (T, 24, 32, 3), dtype=np.uint8)


def _moves(explorer, name, value) -> bool:
    """Sets control ``name`` to ``value``; True when the figure's PNG changed."""
    before = bytes(explorer.image.value)
    assert before.startswith(b"\x89PNG"), "no figure drawn"
    explorer.controls[name].value = value
    assert explorer.message.value.find("Error") < 0, explorer.message.value
    return bytes(explorer.image.value) != before


def test_import_is_light():
    code = "import sys, vizattn.widgets; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_overlay_explorer(cache, frames):
    masks = np.zeros((T, 24, 32), np.uint8)
    masks[:, 4:10, 4:12] = 1
    ex = widgets.overlay_explorer(cache, frames, {"masks": masks, "names": np.array(["box"])})
    assert set(ex.controls) == {"frame", "layer", "kind", "alpha", "normalize"}
    assert "inside the objects" in ex.message.value
    for name, value in [("frame", T - 1), ("alpha", 0.9), ("layer", "block2_layer1")]:
        assert _moves(ex, name, value), name
    # A kind held by fewer layers narrows the layer menu (one redraw, valid layer).
    assert _moves(ex, "kind", "gradcam")
    assert list(ex.controls["layer"].options) == ["block2_layer1"]
    assert _moves(ex, "normalize", None)


def test_overlay_explorer_scales_gradients_per_frame_by_default(cache, frames):
    """``auto`` (the default) draws Grad-CAM per frame and SimAM per clip: switching to
    that mode changes nothing, switching to the other does."""
    ex = widgets.overlay_explorer(cache, frames, kind="gradcam")
    assert ex.controls["normalize"].value == "auto"
    assert not _moves(ex, "normalize", "frame")
    assert _moves(ex, "normalize", "clip")
    ex = widgets.overlay_explorer(cache, frames, kind="simam")
    assert not _moves(ex, "normalize", "clip")
    assert _moves(ex, "normalize", "frame")
    with pytest.raises(VizAttnError, match="normalize"):
        widgets.overlay_explorer(cache, frames, normalize="per clip")


def test_overlay_explorer_float_frames_and_errors(cache, frames):
    ex = widgets.overlay_explorer(cache, frames.astype(np.float32) / 255)
    assert _moves(ex, "frame", 2)
    with pytest.raises(VizAttnError, match="frames"):
        widgets.overlay_explorer(cache, frames[:3])
    with pytest.raises(VizAttnError, match="no maps"):
        widgets.overlay_explorer(Cache({"x/tada": np.ones((1, T, 3))}), frames)


def test_energy_explorer_array_and_cache(cache):
    x = np.random.default_rng(2).normal(size=(1, 3, 6, 6, 2))
    ex = widgets.energy_explorer(x)
    lam = ex.controls["lam"]
    # The lambda slider spans the data's variance, where lambda changes the energies.
    assert 10**lam.min < np.median(x.var(axis=(2, 3))) < 10**lam.max
    assert _moves(ex, "lam", 10**lam.max)
    assert _moves(ex, "pixel", 0)
    ex = widgets.energy_explorer(cache)
    assert _moves(ex, "layer", "block2_layer1")


def test_tada_explorer_heads_on_their_own_scale(cache):
    ex = widgets.tada_explorer(cache)
    assert {"layer", "head", "channels"} <= set(ex.controls)
    top0 = float(ex.message.value.split("scale up to ")[1].split(" ")[0])
    assert _moves(ex, "head", 1)
    top1 = float(ex.message.value.split("scale up to ")[1].split(" ")[0])
    assert top1 < top0 / 5  # head 1 (weights x 0.1) gets its own, smaller scale
    assert _moves(ex, "channels", 12)
    assert _moves(ex, "layer", "block2_layer1")  # v1-like layer: no attention panel
    with pytest.raises(VizAttnError, match="tada"):
        widgets.tada_explorer(Cache({"a/simam": np.ones((1, 2, 2, 2, 1))}))


def test_names_choose_what_the_layer_menus_offer(cache, frames):
    """``names`` (a name, a list or a predicate on hook names) filters each explorer's
    layer menu; the first offered is shown first."""
    in_block2 = lambda n: n.startswith("block2")  # noqa: E731
    ex = widgets.overlay_explorer(cache, frames, names=in_block2)
    assert list(ex.controls["layer"].options) == ["block2", "block2_layer0", "block2_layer1"]
    assert ex.controls["layer"].value == "block2"
    ex = widgets.overlay_explorer(cache, frames, names=["block2_layer1", "block1_layer0"])
    assert list(ex.controls["layer"].options) == ["block1_layer0", "block2_layer1"]
    assert _moves(ex, "kind", "gradcam")  # the filter holds for every kind
    assert list(ex.controls["layer"].options) == ["block2_layer1"]
    ex = widgets.overlay_explorer(cache, frames, names="block1")  # no gradcam there
    assert list(ex.controls["kind"].options) == ["simam", "simam_input"]
    with pytest.raises(VizAttnError, match="no 'gradcam' maps in the layers names selects"):
        widgets.overlay_explorer(cache, frames, names="block1", kind="gradcam")

    ex = widgets.energy_explorer(cache, names=lambda n: n.endswith("layer1/simam_input"))
    assert list(ex.controls["layer"].options) == ["block1_layer1", "block2_layer1"]
    assert _moves(ex, "layer", "block2_layer1")
    ex = widgets.energy_explorer(cache, names=["block2_layer1"])
    assert "layer" not in ex.controls  # one endpoint: nothing to choose
    ex = widgets.tada_explorer(cache, names=["block2_layer1"])
    assert list(ex.controls["layer"].options) == ["block2_layer1"]
    assert "head" not in ex.controls  # that layer has no v2 attention
    ex = widgets.tada_explorer(cache, names=lambda n: n.endswith("layer0/tada"))
    assert ex.controls["layer"].value == "block2_layer0" and "head" in ex.controls


def test_names_errors_are_the_resolvers(cache, frames):
    """A wrong name gets the resolver's one-line "did you mean"; so does every explorer."""
    calls = (
        lambda names: widgets.overlay_explorer(cache, frames, names=names),
        lambda names: widgets.energy_explorer(cache, names=names),
        lambda names: widgets.tada_explorer(cache, names=names),
    )
    for call in calls:
        for names, words in (
            ("blok2", "unknown layer 'blok2'; did you mean 'block2'"),
            (["block2", "blok2"], "unknown layer 'blok2'; did you mean"),
            (lambda n: False, "the predicate selects none"),
        ):
            with pytest.raises(VizAttnError) as err:
                call(names)
            assert str(err.value).startswith(words) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(VizAttnError, match="drop names="):
        widgets.energy_explorer(np.ones((1, 2, 4, 4, 2)), names="block1")


def test_states_explorer(cache):
    ex = widgets.states_explorer(cache)
    assert _moves(ex, "frame", 0)
    assert ex.controls["state"].value == "state_block1_layer0_pool_buffer"
    assert _moves(ex, "state", "state_block1_layer0_stream_buffer")
    assert _moves(ex, "block", "head")
    assert list(ex.controls["state"].options) == [("pool_buffer", "state_head_pool_buffer")]
    with pytest.raises(VizAttnError, match="stream"):
        widgets.states_explorer(Cache({}))


def test_states_summary_counts_bytes():
    states = {"state_block0_layer0_a": np.zeros((1, 2, 3), np.float32), "state_head_b": np.zeros(5)}
    rows = widgets.states_summary(states)
    assert [r["bytes"] for r in rows] == [24, 40]
    assert [r["block"] for r in rows] == ["block0_layer0", "head"]
    assert "64 B" in widgets.states_table(states).value
    assert widgets.format_bytes(1536) == "1.5 KiB"


def test_dependency_explorer():
    reports = {"causal": np.tril(np.ones((4, 4))), "leaky": np.ones((4, 4))}
    ex = widgets.dependency_explorer(reports)
    assert "LEAKS" in ex.message.value and "CAUSAL" in ex.message.value
    assert _moves(ex, "show", "leaky")
    assert "CAUSAL" not in ex.message.value
    assert _moves(ex, "log", False)


def test_prediction_timeline_uses_class_names(cache, frames):
    ex = widgets.prediction_timeline(cache, frames)
    probs = cache.probabilities()[0, -1]
    assert f"<b>{'abcd'[int(probs.argmax())]}</b>" in ex.message.value
    assert _moves(ex, "frame", 0)
    assert _moves(ex, "top_k", 2)
    ex = widgets.prediction_timeline(np.zeros((3, 2)), labels=["x", "y"])
    assert "50.0%" in ex.message.value
    with pytest.raises(VizAttnError, match="labels"):
        widgets.prediction_timeline(np.zeros((3, 2)), labels=["x"])


def test_interactive_figure_shows_errors_instead_of_losing_them():
    import ipywidgets

    def draw(fig, n):
        if n == 3:
            raise ValueError("three is bad")
        fig.subplots().plot(range(n + 2))

    ex = widgets.interactive_figure(draw, {"n": ipywidgets.IntSlider(max=5)}, play="n")
    assert _moves(ex, "n", 2)
    ex.controls["n"].value = 3
    assert "three is bad" in ex.message.value
    with pytest.raises(VizAttnError, match="play"):
        widgets.interactive_figure(draw, {"n": ipywidgets.IntSlider()}, play="m")


@pytest.mark.slow
def test_paste_into_any_notebook(movinet, clip):
    """The one-liner of the README: capture a model, explore it."""
    import vizattn

    model = movinet(simam="frame")
    ex = vizattn.widgets.overlay_explorer(vizattn.capture(model, clip), clip)
    assert "block" in ex.controls["layer"].value
    assert _moves(ex, "frame", clip.shape[1] - 1)


def test_one_normalize_check_for_render_and_the_widgets(cache, frames):
    """``resolve_normalize`` is the one check: render and the explorer give its message,
    and ``None`` means raw maps only where a display can show them."""
    from vizattn import rendering
    from vizattn.cache import resolve_normalize

    assert resolve_normalize("auto", ["gradcam"]) == "frame"
    assert resolve_normalize(None, ["simam"]) == "clip"
    assert resolve_normalize(None, ["simam"], raw=True) is None
    assert resolve_normalize("frame", ["simam"]) == "frame"
    messages = []
    for call in (
        lambda: rendering.check_look(["block3"], ["simam"], normalize="minmax"),
        lambda: widgets.overlay_explorer(cache, frames, normalize="minmax"),
    ):
        with pytest.raises(VizAttnError) as err:
            call()
        messages.append(str(err.value))
    for m in messages:
        assert "\n" not in m and all(w in m for w in ("'minmax'", "'auto'", "'clip'", "'frame'"))
    assert messages[1].endswith("or None (raw maps).") and "None" not in messages[0]
