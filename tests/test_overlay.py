"""Tests for vizattn.overlay: colormaps, bilinear resizing, blending and layouts."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from vizattn.errors import VizAttnError
from vizattn.overlay import (
    Overlayer,
    add_label,
    colorize,
    colormap_lut,
    grid,
    overlay,
    prediction_strip,
    resize_map,
    side_by_side,
    stack_vertical,
)

RNG = np.random.default_rng(0)


def bilinear_at(m: np.ndarray, size: tuple[int, int], i: int, j: int) -> float:
    """Direct half-pixel-centre bilinear formula for one output pixel."""
    h, w = m.shape
    y = min(max((i + 0.5) * h / size[0] - 0.5, 0.0), h - 1)
    x = min(max((j + 0.5) * w / size[1] - 0.5, 0.0), w - 1)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    dy, dx = y - y0, x - x0
    top = m[y0, x0] * (1 - dx) + m[y0, x1] * dx
    bottom = m[y1, x0] * (1 - dx) + m[y1, x1] * dx
    return top * (1 - dy) + bottom * dy


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize("name", ["inferno", "viridis", "jet"])
def test_colorize_extremes_are_colormap_ends(name):
    cmap = matplotlib.colormaps[name]
    ends = np.round(np.array([cmap(0.0)[:3], cmap(1.0)[:3]]) * 255).astype(np.uint8)
    out = colorize(np.array([[0.0, 1.0]]), name)
    assert out.shape == (1, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], ends)
    # Out of range values clip to the ends; NaN counts as 0.
    np.testing.assert_array_equal(colorize([-3.0, 7.0, np.nan], name), ends[[0, 1, 0]])


def test_colorize_keeps_batch_shape_and_is_monotone_for_gray():
    maps = RNG.random((4, 5, 6))
    assert colorize(maps).shape == (4, 5, 6, 3)
    ramp = colorize(np.linspace(0, 1, 256), "gray")[:, 0]
    np.testing.assert_array_equal(ramp, np.arange(256))


def test_unknown_colormap():
    with pytest.raises(VizAttnError) as e:
        colorize(np.zeros((2, 2)), "infernoo")
    message = str(e.value)
    assert "\n" not in message and message.endswith(".")
    assert "'infernoo'" in message and "'inferno'" in message
    assert colormap_lut("inferno").shape == (256, 3)


# --------------------------------------------------------------------------- resize


def test_resize_constant_map_is_constant():
    out = resize_map(np.full((8, 8), 0.37), size=(360, 640))
    assert out.shape == (360, 640) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.37, atol=1e-6)


@pytest.mark.parametrize("size", [(36, 64), (23, 17), (5, 40)])
def test_resize_matches_direct_bilinear_formula(size):
    m = RNG.random((4, 6))
    out = resize_map(m, size=size)
    for i, j in [(0, 0), (size[0] - 1, size[1] - 1), (size[0] // 2, size[1] // 3), (1, 2)]:
        assert out[i, j] == pytest.approx(bilinear_at(m, size, i, j), abs=1e-5)


def test_resize_agrees_with_pillow_when_upsampling_and_batches():
    maps = RNG.random((3, 8, 8)).astype(np.float32)
    out = resize_map(maps, size=(36, 64))
    assert out.shape == (3, 36, 64)
    for t in range(3):
        ref = Image.fromarray(maps[t], mode="F").resize((64, 36), Image.Resampling.BILINEAR)
        np.testing.assert_allclose(out[t], np.asarray(ref), atol=1e-5)
    np.testing.assert_array_equal(resize_map(maps[0], size=(8, 8)), maps[0])


def test_resize_rejects_bad_input():
    with pytest.raises(VizAttnError):
        resize_map(np.zeros((1, 2, 3, 4)), size=(4, 4))
    with pytest.raises(VizAttnError):
        resize_map(np.zeros((2, 2)), size=(0, 4))


# --------------------------------------------------------------------------- overlay


def test_overlay_alpha_zero_returns_frame():
    frame = RNG.integers(0, 256, (36, 64, 3), dtype=np.uint8)
    copy = frame.copy()
    out = overlay(frame, RNG.random((8, 8)), alpha=0.0)
    np.testing.assert_array_equal(out, frame)
    assert out is not frame
    np.testing.assert_array_equal(frame, copy)


def test_overlay_alpha_one_is_the_coloured_map():
    frame = RNG.integers(0, 256, (36, 64, 3), dtype=np.uint8)
    heat = RNG.random((8, 8))
    out = overlay(frame, heat, alpha=1.0, colormap="viridis")
    expected = colorize(resize_map(heat, (36, 64)), "viridis")
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_overlay_half_alpha_is_the_average():
    frame = np.full((10, 10, 3), 200, np.uint8)
    out = overlay(frame, np.zeros((2, 2)), alpha=0.5, colormap="gray")  # black map
    np.testing.assert_array_equal(out, 100)
    out = Overlayer(alpha=0.25, colormap="gray")(frame, np.ones((3, 3)))  # white map
    assert np.abs(out.astype(int) - round(0.75 * 200 + 0.25 * 255)).max() <= 1


def test_overlay_checks_input():
    with pytest.raises(VizAttnError):
        overlay(np.zeros((4, 4, 3), np.float32), np.zeros((2, 2)))
    with pytest.raises(VizAttnError):
        overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2)), alpha=1.5)
    with pytest.raises(VizAttnError):
        overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((3, 2, 2)))


# --------------------------------------------------------------------------- layouts


def test_side_by_side_and_stack_vertical_shapes():
    frame = np.zeros((36, 64, 3), np.uint8)
    heat = np.full((18, 18, 3), 255, np.uint8)
    both = side_by_side(frame, heat, gap=2)
    assert both.shape == (36, 64 + 2 + 36, 3)
    assert both[:, 66:].min() == 255 and both[:, :66].max() == 0
    assert side_by_side(frame, RNG.random((4, 4))).shape == (36, 128, 3)
    tall = stack_vertical(frame, np.full((10, 32, 3), 9, np.uint8))
    assert tall.shape == (46, 64, 3)
    assert (tall[36:, 16:48] == 9).all() and (tall[36:, :16] == 0).all()


def test_grid_shape_and_labels():
    tiles = [np.full((20, 40, 3), 80 * i, np.uint8) for i in range(3)]
    out = grid(tiles, ["a", "bb", "ccc"], gap=3)  # 3 tiles -> 2 columns, 2 rows
    assert out.shape == (2 * 20 + 3, 2 * 40 + 3, 3)
    bare = grid(tiles, None, gap=3)
    # A label is drawn in each tile's top-left corner and nowhere else.
    assert (out[:10, :20] != bare[:10, :20]).any()
    np.testing.assert_array_equal(out[23:, 43:], bare[23:, 43:])  # no fourth tile, no label
    np.testing.assert_array_equal(out[15:, 20:40], bare[15:, 20:40])
    assert grid(tiles, cols=3, gap=0).shape == (20, 120, 3)
    with pytest.raises(VizAttnError):
        grid(tiles, ["only one"])
    labelled = add_label(tiles[0], "SimAM")
    assert labelled.shape == tiles[0].shape and (labelled != tiles[0]).any()


def test_prediction_strip_draws_top_classes():
    labels = ["walk", "run", "jump", "swim"]
    history = np.tile([0.05, 0.7, 0.05, 0.2], (30, 1))
    strip = prediction_strip(320, history, labels, top_k=2, height=60, length=100)
    assert strip.shape == (60, 320, 3) and strip.dtype == np.uint8
    colours = {tuple(c) for c in strip.reshape(-1, 3)}
    assert (255, 127, 14) in colours  # class 1 ("run"), tab10 orange
    assert (214, 39, 40) in colours  # class 3 ("swim"), tab10 red
    assert (31, 119, 180) not in colours  # class 0 is not in the top 2
    # With length=100 only the first ~30% of the plot width holds the lines.
    # The plot spans x < 195 (the legend is on the right); 30 of 100 steps reach x ~ 60.
    orange = np.all(strip == (255, 127, 14), axis=2)
    assert orange[:, :62].any() and not orange[:, 66:190].any()
    assert orange[:, 195:].any()  # the legend entry
    empty = prediction_strip(320, np.zeros((0, 4)), labels)
    assert empty.shape == (64, 320, 3)


def test_prediction_strip_checks_shapes():
    with pytest.raises(VizAttnError) as e:
        prediction_strip(200, np.zeros((5, 3)), ["a", "b"])
    assert "\n" not in str(e.value)
    with pytest.raises(VizAttnError):
        prediction_strip(200, np.zeros((5, 2)), ["a", "b"], top_k=0)
