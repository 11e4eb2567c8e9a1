"""Paper figures: shapes of the figures, atomic and reproducible saving, no global state."""

from __future__ import annotations

import io
import sys

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure

from vizattn import figures
from vizattn.errors import VizAttnError

T = 6


@pytest.fixture(scope="module")
def cache():
    """A small Cache with every kind the figures read (no model needed)."""
    from vizattn.cache import Cache

    rng = np.random.default_rng(0)
    arrays = {}
    for name, size, channels in (
        ("block1_layer0", 8, 4),
        ("block3_layer0", 2, 6),
        ("block3_layer1", 2, 6),
    ):
        x = rng.random((1, T, size, size, channels)).astype(np.float32)
        arrays[f"{name}/simam"] = 1 / (1 + np.exp(-x))
        arrays[f"{name}/simam_energy"] = (2 * x + 1e-3).astype(np.float32)
    arrays["block3_layer1/tada"] = (1 + 0.1 * rng.standard_normal((1, T, 20))).astype(np.float32)
    arrays["block3_layer1/se"] = rng.random((1, T, 20)).astype(np.float32)
    return Cache(arrays)


@pytest.fixture(scope="module")
def video():
    return np.random.default_rng(1).integers(0, 256, (T, 24, 40, 3), dtype=np.uint8)


def _all_figures(cache, video):
    rng = np.random.default_rng(2)
    return {
        "frame_strip": figures.frame_strip(video, rng.random((T, 3, 5)), every=2, title="x"),
        "layer_grid": figures.layer_grid(cache, ["block1", "block3"], frames=[0, 5], video=video),
        "dependency_matrix": figures.dependency_matrix(rng.random((T, T)), title="clip", log=True),
        "compare_causality": figures.compare_causality(
            {"a": np.eye(T), "b": np.tril(np.ones((T, T)))}
        ),
        "energy_histogram": figures.energy_histogram(cache, ["block1", "block3"]),
        "tada_alpha": figures.tada_alpha(cache, "block3_layer1"),
        "se_gates": figures.se_gates(cache, "block3_layer1"),
        "prediction_timeline": figures.prediction_timeline(rng.standard_normal((T, 7)), top_k=3),
    }


# -- figures -----------------------------------------------------------------------


def test_frame_strip(video):
    maps = np.random.default_rng(0).random((T, 3, 5))
    fig = figures.frame_strip(video, maps, every=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 + 1  # frames 0, 2, 4 and the colour bar
    assert [ax.get_title() for ax in fig.axes[:3]] == ["t = 0", "t = 2", "t = 4"]
    assert len(figures.frame_strip(video, None).axes) == T
    assert len(figures.frame_strip(video, maps, colorbar=False).axes) == T
    timed = figures.frame_strip(video, maps, times=np.arange(T) / 4, every=3)
    assert [ax.get_title() for ax in timed.axes[:2]] == ["0.00 s", "0.75 s"]
    assert timed.get_size_inches()[0] == pytest.approx(figures.TWO_COLUMN)
    one = figures.frame_strip(video, maps, every=3, width="one")
    assert one.get_size_inches()[0] == pytest.approx(figures.ONE_COLUMN)


def test_frame_strip_rejects_bad_inputs(video):
    with pytest.raises(VizAttnError, match="uint8"):
        figures.frame_strip(video.astype(np.float32), None)
    with pytest.raises(VizAttnError, match="one per frame"):
        figures.frame_strip(video, np.zeros((T + 1, 3, 3)))
    with pytest.raises(VizAttnError, match="every"):
        figures.frame_strip(video, None, every=0)
    with pytest.raises(VizAttnError, match="width"):
        figures.frame_strip(video, None, width="three")


def test_layer_grid(cache, video):
    fig = figures.layer_grid(cache, ["block1", "block3_layer1"], frames=[0, 2, 5])
    assert len(fig.axes) == 2 * 3 + 1
    assert fig.axes[0].get_ylabel() == "block1" and fig.axes[3].get_ylabel() == "block3_layer1"
    assert len(figures.layer_grid(cache, "block3", video=video).axes) == T + 1
    with pytest.raises(VizAttnError, match="out of range"):
        figures.layer_grid(cache, ["block1"], frames=[T])
    with pytest.raises(VizAttnError):
        figures.layer_grid(cache, ["block9"])


def test_dependency_matrix_marks_the_future():
    causal = figures.dependency_matrix(np.tril(np.ones((T, T))), title="cumulative")
    assert len(causal.axes) == 2
    assert causal.axes[0].get_title() == "cumulative: causal"
    assert len(causal.axes[0].patches) == 1  # the hatched future triangle
    leaky = figures.dependency_matrix(np.ones((T, T)), title="clip", log=True)
    assert leaky.axes[0].get_title() == f"clip: leaks ({T * (T - 1) // 2})"
    assert len(leaky.axes[0].lines) == T * (T - 1) // 2  # one cross per leak
    with pytest.raises(VizAttnError, match="T_out, T_in"):
        figures.dependency_matrix(np.ones(3))


def test_dependency_matrix_strided_time():
    """T_out < T_in (temporal stride): the allowed region follows check_causal's rule."""
    m = np.zeros((2, 4))
    m[0, :2] = m[1, :] = 1
    fig = figures.dependency_matrix(m)
    assert fig.axes[0].get_title() == "causal"
    m[0, 2] = 1
    assert figures.dependency_matrix(m).axes[0].get_title() == "leaks (1)"


def test_compare_causality_accepts_reports():
    from vizattn.causal import CausalReport

    reports = {
        "frame": CausalReport(matrix=np.eye(T), tol=1e-6, method="perturb"),
        "clip": np.ones((T, T)),
        "zero": np.zeros((T, T)),
    }
    fig = figures.compare_causality(reports)
    assert len(fig.axes) == 3 + 1
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "frame: causal",
        f"clip: leaks ({T * (T - 1) // 2})",
        "zero: causal",
    ]
    assert len(figures.compare_causality(reports, log=False).axes) == 4
    # A report's own tol is the default threshold.
    small = CausalReport(matrix=np.full((T, T), 1e-3), tol=1e-2, method="perturb")
    assert figures.dependency_matrix(small).axes[0].get_title() == "causal"
    assert figures.dependency_matrix(small, tol=0).axes[0].get_title().startswith("leaks")
    with pytest.raises(VizAttnError, match="tol"):
        figures.dependency_matrix(np.eye(3), tol=-1)
    with pytest.raises(VizAttnError):
        figures.compare_causality({})


def test_energy_histogram(cache):
    fig = figures.energy_histogram(cache, ["block1", "block3"])
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert len(ax.patches) == 2  # one step line per layer
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["block1", "block3"]
    with pytest.raises(VizAttnError, match="unknown layer 'block7'; did you mean 'block3'"):
        figures.energy_histogram(cache, ["block7"])
    # The e* = 2 label sits above the axes, ending at its line, clear of the bars.
    (label,) = [t for t in ax.texts if "at the mean" in t.get_text()]
    assert label.xy == (2.0, 1.0) and label.get_va() == "bottom" and label.get_ha() == "right"
    assert label.get_rotation() == 0
    fig.draw_without_rendering()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(float(t) > 0 for t in ticks)  # plain numbers, few enough to read


def test_tada_alpha_and_se_gates(cache):
    fig = figures.tada_alpha(cache, "block3_layer1", channels=4)
    assert len(fig.axes) == 3  # lines, heatmap, colour bar
    assert len(fig.axes[0].lines) == 4 + 1  # four channels and the alpha = 1 line
    assert len(figures.tada_alpha(cache, "block3_layer1/tada", channels=100).axes[0].lines) == 21
    assert len(figures.se_gates(cache, "block3").axes) == 2  # one se hook under block3
    with pytest.raises(VizAttnError, match="tada"):
        figures.tada_alpha(cache, "block1_layer0")


def _error(call, *args, **kwargs) -> str:
    """The message of the VizAttnError ``call(*args, **kwargs)`` raises: one line."""
    with pytest.raises(VizAttnError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_names_take_a_name_a_list_or_a_predicate(cache):
    """Every figure selecting layers takes ``names`` in the one form of vizattn.names."""
    in_block3 = lambda n: n.startswith("block3")  # noqa: E731
    # layer_grid: one row per string or list item, one per endpoint a predicate selects
    rows = figures.layer_grid(cache, in_block3, frames=[0, 1])
    assert [ax.get_ylabel() for ax in rows.axes[:-1:2]] == ["block3_layer0", "block3_layer1"]
    rows = figures.layer_grid(cache, ["block3_layer1", "block1"], frames=[0])
    assert [ax.get_ylabel() for ax in rows.axes[:-1]] == ["block3_layer1", "block1"]
    assert len(figures.layer_grid(cache, names="block3", frames=[0]).axes) == 1 + 1
    # energy_histogram: one line each, the same way
    lines = figures.energy_histogram(cache, in_block3).axes[0].get_legend().get_texts()
    assert [t.get_text() for t in lines] == ["block3_layer0", "block3_layer1"]
    lines = figures.energy_histogram(cache, names=["block3"]).axes[0].get_legend().get_texts()
    assert [t.get_text() for t in lines] == ["block3"]
    # tada_alpha and se_gates: anything that selects one endpoint
    for draw, kind in ((figures.tada_alpha, "tada"), (figures.se_gates, "se")):
        for names in (lambda n: n.startswith("block3_layer1"), ["block3_layer1"], "block3"):
            fig = draw(cache, names)
            assert fig.axes[0].get_title().startswith("block3_layer1"), (kind, names)
        assert draw(cache, names="block3_layer1").axes


def test_names_errors_are_the_resolvers(cache):
    """A wrong name gets the resolver's one-line "did you mean"; a predicate selecting
    nothing, or several endpoints where one is needed, a one-line error too."""
    from vizattn.cache import Cache

    for draw in (
        figures.layer_grid,
        figures.energy_histogram,
        figures.tada_alpha,
        figures.se_gates,
    ):
        message = _error(draw, cache, "blok3")
        assert message.startswith("unknown layer 'blok3'; did you mean 'block3'"), message
        assert _error(draw, cache, ["block3", "blok3"]).startswith("unknown layer 'blok3'")
        assert "the predicate selects none" in _error(draw, cache, lambda n: False)
        assert "names must be" in _error(draw, cache, 42)
    two = Cache({f"block3_layer{j}/tada": np.ones((1, T, 4)) for j in (0, 1)})
    for names in ("block3", lambda n: True, ["block3_layer0", "block3_layer1"]):
        message = _error(figures.tada_alpha, two, names)
        assert "selects 2 'tada' hooks" in message and "one endpoint" in message, message


def test_prediction_timeline():
    logits = np.random.default_rng(0).standard_normal((1, T, 10))
    fig = figures.prediction_timeline(logits, [f"c{i}" for i in range(10)], top_k=3, fps=5)
    (ax,) = fig.axes
    assert len(ax.lines) == 3
    assert ax.get_xlabel() == "time (s)"
    for line in ax.lines:
        assert line.get_ydata().min() >= 0 and line.get_ydata().max() <= 1
    with pytest.raises(VizAttnError, match="labels"):
        figures.prediction_timeline(logits, ["a"])
    with pytest.raises(VizAttnError, match="logits"):
        figures.prediction_timeline(np.zeros(5))


def test_prediction_timeline_takes_a_cache(cache):
    """A stream cache's logits, labelled with its model's class names."""
    from vizattn.cache import LOGITS_NAME, Cache

    logits = np.random.default_rng(3).standard_normal((2, T, 4)) * 3
    stream = Cache({LOGITS_NAME: logits}, metadata={"model": {"class_names": list("abcd")}})
    (ax,) = figures.prediction_timeline(stream, top_k=2).axes
    best = np.argsort(-stream.probabilities()[0].max(axis=0), kind="stable")[:2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["abcd"[i] for i in best]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), stream.probabilities()[0][:, best[0]])
    second = figures.prediction_timeline(stream, ["w", "x", "y", "z"], batch=1).axes[0]
    np.testing.assert_allclose(
        sorted(line.get_ydata()[-1] for line in second.lines),
        sorted(stream.probabilities()[1, -1]),
    )
    no_logits = _error(figures.prediction_timeline, cache)
    assert no_logits == _error(cache.probabilities)  # the Cache's own message
    clip = Cache({LOGITS_NAME: logits[:, 0]})  # one prediction per clip
    assert "stream=True" in _error(figures.prediction_timeline, clip)
    assert "batch 2" in _error(figures.prediction_timeline, stream, batch=2)


def test_no_global_state_leaks(cache, video):
    before = dict(mpl.rcParams)
    _all_figures(cache, video)
    assert dict(mpl.rcParams) == before
    if "matplotlib.pyplot" in sys.modules:  # figures never go through pyplot
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


# -- saving ------------------------------------------------------------------------


def test_save_every_figure(cache, video, tmp_path):
    for name, fig in _all_figures(cache, video).items():
        for ext, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml")):
            path = tmp_path / f"{name}{ext}"
            assert figures.save(fig, path) == path
            assert path.read_bytes().startswith(magic), (name, ext)
    png = figures.save(figures.prediction_timeline(np.eye(3)), tmp_path / "p.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 8 * 2 + 1 and not [n for n in names if n.startswith(".")]  # no temps


@pytest.mark.parametrize("name", ["frame_strip", "compare_causality", "tada_alpha"])
def test_save_twice_byte_identical(cache, video, tmp_path, name):
    """Images, hatches and colour bars: the same figure saves to the same bytes."""
    fig = _all_figures(cache, video)[name]
    for ext in (".pdf", ".svg"):
        path = tmp_path / f"{name}{ext}"
        first = figures.save(fig, path).read_bytes()
        fig.savefig(io.BytesIO(), format="png")  # a notebook display in between
        assert figures.save(fig, path).read_bytes() == first, ext
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.pdf", f"{name}.svg"]


def test_save_without_timestamps(tmp_path):
    fig = figures.dependency_matrix(np.eye(3))
    pdf = figures.save(fig, tmp_path / "m.pdf").read_bytes()
    svg = figures.save(fig, tmp_path / "m.svg").read_text()
    assert b"/CreationDate" not in pdf
    assert "<svg" in svg and "<dc:date>" not in svg


def test_save_same_bytes_in_a_new_figure(tmp_path):
    """Reproducible across runs: building the figure again gives the same file."""
    a = figures.save(figures.compare_causality({"x": np.eye(4)}), tmp_path / "a.svg").read_bytes()
    b = figures.save(figures.compare_causality({"x": np.eye(4)}), tmp_path / "b.svg").read_bytes()
    assert a == b


def test_save_unknown_extension(tmp_path):
    fig = figures.dependency_matrix(np.eye(3))
    for name in ("figure.jpg", "figure"):
        with pytest.raises(VizAttnError, match=r"\.pdf, \.svg or \.png"):
            figures.save(fig, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VizAttnError, match="Figure"):
        figures.save("not a figure", tmp_path / "x.pdf")


def test_save_failure_leaves_nothing(tmp_path, monkeypatch):
    fig = figures.dependency_matrix(np.eye(3))
    path = figures.save(fig, tmp_path / "keep.pdf")
    old = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        figures.save(fig, path)
    assert path.read_bytes() == old  # the previous file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pdf"]
    assert fig.get_layout_engine() is not None  # layout restored after the failure


def test_save_creates_folders(tmp_path):
    path = figures.save(figures.dependency_matrix(np.eye(3)), tmp_path / "paper" / "fig1.pdf")
    assert path.read_bytes().startswith(b"%PDF")


def test_layer_grid_draws_gradient_kinds_per_frame_by_default():
    """Grad-CAM's first stream steps are far larger: "auto" scales each frame alone
    (as render does), so a later frame's map still spans the colour map."""
    from vizattn.cache import Cache

    rng = np.random.default_rng(1)
    cam = rng.random((1, T, 4, 4)).astype(np.float32)
    cam[:, 0] *= 40.0  # the first step's gradients
    cache = Cache({"block3_layer1/gradcam": cam})
    auto = figures.layer_grid(cache, "block3", "gradcam", frames=[0, 3])
    assert auto.axes[-1].get_ylabel() == "gradcam (normalized per frame)"
    late = auto.axes[1].images[0].get_array()
    assert float(np.max(late)) == pytest.approx(1.0)
    clip = figures.layer_grid(cache, "block3", "gradcam", frames=[0, 3], normalize="clip")
    assert float(np.max(clip.axes[1].images[0].get_array())) < 0.1
    with pytest.raises(VizAttnError, match="unknown normalize"):
        figures.layer_grid(cache, "block3", "gradcam", normalize="per clip")
