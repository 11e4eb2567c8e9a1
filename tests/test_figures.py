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


def test_tada_alpha_and_se_gates(cache):
    fig = figures.tada_alpha(cache, "block3_layer1", channels=4)
    assert len(fig.axes) == 3  # lines, heatmap, colour bar
    assert len(fig.axes[0].lines) == 4 + 1  # four channels and the alpha = 1 line
    assert len(figures.tada_alpha(cache, "block3_layer1/tada", channels=100).axes[0].lines) == 21
    assert len(figures.se_gates(cache, "block3").axes) == 2  # one se hook under block3
    with pytest.raises(VizAttnError, match="tada"):
        figures.tada_alpha(cache, "block1_layer0")


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
