"""Figures of explanation quality: deletion/insertion curves, metric bars, sanity check."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from vizattn import evaluation, figures, metrics
from vizattn.errors import VizAttnError

T = 6


@pytest.fixture(scope="module")
def curves():
    rng = np.random.default_rng(0)
    steps = 4
    deletion = np.sort(rng.random((steps + 1, T)), axis=0)[::-1]
    insertion = np.sort(rng.random((steps + 1, T)), axis=0)
    after = np.arange(T) >= 2
    return metrics.DeletionInsertion(np.linspace(0, 1, steps + 1), deletion, insertion, 1, after)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(1)
    after = np.arange(T)[None] >= 2

    def scores():
        return {
            m: metrics.Score(rng.random((1, T)), after)
            for m in ("pointing_game", "energy_inside", "auroc")
        }

    rows = []
    for block in ("block1", "block3"):
        rows.append(evaluation.Row("oracle", block, "oracle", scores()))
        rows += [evaluation.Row(k, block, "model", scores()) for k in ("simam", "gradcam")]
    rows += [evaluation.Row(b, None, "baseline", scores()) for b in evaluation.BASELINES]
    return evaluation.ExplanationTable(rows)


def test_deletion_insertion_curves(curves, tmp_path):
    fig = figures.deletion_insertion_curves(curves, fps=25)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # deletion, insertion, areas, colour bar
    deletion_ax = fig.axes[0]
    assert len(deletion_ax.lines) == len(curves.fractions) + 1  # one per step + onset
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), curves.deletion_auc, rtol=1e-12)
    for ext in (".pdf", ".svg"):
        path = figures.save(fig, tmp_path / f"curves{ext}")
        assert path.stat().st_size > 1000
    with pytest.raises(VizAttnError, match="DeletionInsertion"):
        figures.deletion_insertion_curves(np.zeros((3, 4)))


@pytest.mark.parametrize("source", ["table", "dict"])
def test_metric_bars(table, source, tmp_path):
    given = table if source == "table" else table.to_dict()
    fig = figures.metric_bars(given, "auroc")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 2  # 2 kinds x 2 blocks
    heights = sorted(p.get_height() for p in ax.patches)
    expected = sorted(
        table.row(k, b).value("auroc") for k in ("simam", "gradcam") for b in ("block1", "block3")
    )
    np.testing.assert_allclose(heights, expected, rtol=1e-6)
    oracle_lines = [line for line in ax.lines if line.get_label() == "oracle"]
    assert oracle_lines and oracle_lines[0].get_ydata()[0] == pytest.approx(
        table.row("oracle", "block1").value("auroc")
    )
    assert "after onset" in ax.get_title()
    figures.save(fig, tmp_path / "bars.svg")
    with pytest.raises(VizAttnError, match="no 'deletion_auc'"):
        figures.metric_bars(given, "deletion_auc")


def test_metric_bars_shows_baselines_at_zero_and_oracles_over_baselines(table):
    """A baseline scoring 0 lies on the x axis: its marker, drawn over the frame, shows it.
    An oracle tick at a baseline's height is drawn over that baseline's line."""
    data = table.to_dict()
    for row in data["rows"]:
        if row["kind"] == "noise":
            row["metrics"]["pointing_game"] = {"all": 0.0, "after_onset": 0.0}
        if row["kind"] == "frame_difference":
            oracle = next(r for r in data["rows"] if r["source"] == "oracle")
            row["metrics"]["pointing_game"] = dict(oracle["metrics"]["pointing_game"])
    ax = figures.metric_bars(data, "pointing_game").axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    noise = lines["noise"]
    assert set(noise.get_ydata()) == {0.0}
    assert noise.get_marker() not in (None, "None", "") and not noise.get_clip_on()
    assert noise.get_zorder() > ax.spines["bottom"].get_zorder()
    low, _ = ax.get_ylim()
    assert low == 0.0  # the bars still start on the axis
    assert lines["oracle"].get_zorder() > lines["frame difference"].get_zorder()
    assert lines["oracle"].get_path_effects()  # a white edge sets it off the line behind


def test_randomization_correlations(tmp_path):
    stages = ["head", "block1", "block0", "stem"]
    drop = metrics.Randomization(
        stages, [metrics.Score(np.array([[v, v]])) for v in (0.5, 0.2, 0.0, -0.1)]
    )
    flat = metrics.Randomization(stages, [metrics.Score(np.ones((1, 2)))] * 4)
    fig = figures.randomization_correlations({"gradcam": drop, "frame difference": flat})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 + 1  # two series + the zero line
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 0.2, 0.0, -0.1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["trained", *stages]
    figures.save(fig, tmp_path / "sanity.pdf")
    with pytest.raises(VizAttnError, match="Randomization"):
        figures.randomization_correlations({"x": [1, 2]})


def test_randomization_correlations_tells_apart_more_lines_than_colours():
    """Past the palette's 8 colours, style and marker keep every line distinct."""
    stages = ["head", "block0"]
    results = {
        f"kind {i}": metrics.Randomization(
            stages, [metrics.Score(np.full((1, 2), v)) for v in (0.5, 0.1 * i)]
        )
        for i in range(12)
    }
    fig = figures.randomization_correlations(results)
    lines = [line for line in fig.axes[0].lines if line.get_label() in results]
    assert len(lines) == 12
    looks = {(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in lines}
    assert len(looks) == 12
