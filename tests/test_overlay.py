"""Tests for vizattn.overlay: colormaps, bilinear resizing, blending and layouts."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from vizattn.errors import VizAttnError
from vizattn.overlay import (
    LAYOUTS,
    Composer,
    Overlayer,
    add_label,
    as_frames,
    check_drawing,
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


def test_prediction_strip_shows_three_digits():
    labels = ["walk", "run"]
    a = prediction_strip(320, np.array([[0.025, 0.975]]), labels, top_k=1, height=40)
    b = prediction_strip(320, np.array([[0.024, 0.976]]), labels, top_k=1, height=40)
    assert (a != b).any()  # 0.975 and 0.976 read differently


# --------------------------------------------------------------------------- composer

BACKGROUND = (20, 20, 24)
NAMES = [f"action {i}" for i in range(12)]


def frame_of(height: int, width: int, value: int | None = None) -> np.ndarray:
    if value is not None:
        return np.full((height, width, 3), value, np.uint8)
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def probs_for(top: int, value: float) -> np.ndarray:
    p = np.full(len(NAMES), (1.0 - value) / (len(NAMES) - 1))
    p[top] = value
    return p


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("frame_size", [(36, 64), (37, 51), (171, 173)])
@pytest.mark.parametrize("names", [None, NAMES])
def test_composer_size_is_even_and_constant(layout, frame_size, names):
    panels = [("block3", "simam")] if layout == "overlay" else [("b3", "simam"), ("b4", "gradcam")]
    composer = Composer(layout=layout, panels=panels, caption="a caption", class_names=names)
    sizes = set()
    for t in range(4):
        maps = [RNG.random((int(RNG.integers(2, 9)), 5)) for _ in panels]
        probs = None if names is None or t == 0 else RNG.dirichlet(np.ones(len(NAMES)))
        out = composer.compose(frame_of(*frame_size), maps, probs)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        sizes.add(out.shape[:2])
    # A frame of another size is resized to the first one's layout.
    sizes.add(composer.compose(frame_of(20, 30), maps, None).shape[:2])
    assert sizes == {composer.size}
    height, width = composer.size
    assert height % 2 == 0 and width % 2 == 0
    assert width >= frame_size[1] and height > frame_size[0]  # the legend adds rows
    # Laying out from frame_size= gives the same size before any frame.
    early = Composer(
        layout=layout, panels=panels, caption="a caption", class_names=names, frame_size=frame_size
    )
    assert early.size == composer.size


@pytest.mark.parametrize("colormap", ["inferno", "viridis", "gray"])
def test_composer_colour_bar_is_present_and_monotone(colormap):
    composer = Composer(colormap=colormap, caption="x", scale=(0.0, 2.5), frame_size=(90, 160))
    out = composer.compose(frame_of(90, 160), [RNG.random((4, 4))])
    box = composer.regions["colorbar"]
    bar = out[box.slices].astype(int)
    assert box.size[1] >= 16 and 2 <= box.size[0] <= 12  # slim
    assert (bar == bar[:1]).all()  # every row of the bar is the same gradient
    lut = colormap_lut(colormap).astype(int)
    index = np.argmin(((bar[0][:, None, :] - lut[None]) ** 2).sum(-1), axis=1)
    assert (np.diff(index) >= 0).all()  # monotone from low to high
    assert index[0] <= 2 and index[-1] >= 253  # spans the whole scale
    # The numbers of the scale are drawn beside the bar: other numbers, other pixels.
    other = Composer(colormap=colormap, caption="x", scale=(0.0, 7.5), frame_size=(90, 160))
    beside = slice(box.top - 2, box.bottom + 2), slice(box.right, None)
    again = other.compose(frame_of(90, 160, 0), [np.zeros((4, 4))])
    first = composer.compose(frame_of(90, 160, 0), [np.zeros((4, 4))])
    assert (again[beside] != first[beside]).any()


def test_composer_caption_is_drawn_outside_the_picture():
    def make(caption):
        composer = Composer(caption=caption, frame_size=(72, 128))
        return composer, composer.compose(frame_of(72, 128, 60), [np.full((3, 3), 0.5)])

    a, image_a = make("block3 · simam · a0 stream · demo weights")
    b, image_b = make("block4 · gradcam · a0 base · random weights")
    caption = a.regions["caption"]
    picture = a.regions["picture"]
    assert caption.top >= picture.bottom
    text = image_a[caption.slices]
    assert (text.max(axis=2) > 150).sum() > 30  # light text pixels on the dark band
    assert (image_a[caption.slices] != image_b[caption.slices]).any()
    np.testing.assert_array_equal(image_a[picture.slices], image_b[picture.slices])


def test_composer_wraps_a_long_caption_on_a_narrow_frame_instead_of_cutting_it():
    caption = "block1 · simam · a0 stream · demo weights"
    one = Composer(caption="block1", frame_size=(192, 192))
    two = Composer(caption=caption, frame_size=(192, 192))
    line = one.regions["caption"].size[0]
    assert two.regions["caption"].size[0] == 2 * line  # two lines, nothing cut
    assert abs((two.size[0] - one.size[0]) - line) <= 1  # the footer grew by one line
    wide = Composer(caption=caption, frame_size=(360, 640))
    assert wide.regions["caption"].size[0] < 1.5 * line  # one line where it fits


@pytest.mark.parametrize("width, below", [(96, True), (640, False)])
def test_composer_puts_the_scale_label_below_the_bar_only_when_it_does_not_fit(width, below):
    composer = Composer(caption="x", scale="per clip", frame_size=(64, width))
    out = composer.compose(frame_of(64, width, 0), [np.zeros((3, 3))])
    bar = composer.regions["colorbar"]
    under = out[bar.bottom + 6 :]  # below the descenders of a label beside the bar
    beside = out[bar.top : bar.bottom, bar.right + 30 :]
    assert (under.max(axis=2) > 120).any() == below
    assert (beside.max(axis=2) > 120).any() != below


def test_composer_draws_the_same_frames_from_several_threads():
    """A Composer may be shared by threads: its layout is made once (under a lock), and
    the strip cache holds."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    names = [f"class {i}" for i in range(6)]
    jobs = [
        (frame_of(48, 80), rng.random((4, 4)), rng.dirichlet(np.full(6, 0.3))) for _ in range(60)
    ]

    def make():
        return Composer(layout="side-by-side", class_names=names, caption="a · b")

    serial = make()
    expected = [serial.compose(f, [m], p) for f, m, p in jobs]
    threaded = make()  # first layout happens inside the threads
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: threaded.compose(j[0], [j[1]], j[2]), jobs))
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_composer_overlay_matches_overlayer():
    frame = frame_of(45, 80)
    heat = RNG.random((6, 7))
    composer = Composer(alpha=0.4, colormap="viridis", frame_size=(45, 80))
    out = composer.compose(frame, [heat])
    picture = composer.regions["picture"]
    expected = Overlayer(alpha=0.4, colormap="viridis")(frame, heat)
    np.testing.assert_array_equal(out[picture.slices], expected)


@pytest.mark.parametrize("alpha", [0.2, 0.9])
def test_side_by_side_shows_frame_and_raw_map(alpha):
    frame = frame_of(40, 60)
    heat = RNG.random((5, 5))
    composer = Composer(layout="side-by-side", alpha=alpha, panels=[("block3", "simam")])
    out = composer.compose(frame, [heat])
    left, right = composer.regions["tiles"]
    label_rows = max(box.bottom for box in composer.regions["labels"])
    expected = colorize(resize_map(heat, (40, 60)))
    # The right tile is the coloured map itself, whatever alpha (not a second overlay).
    got = out[right.slices][label_rows:].astype(int)
    assert np.abs(got - expected[label_rows:]).max() <= 1
    np.testing.assert_array_equal(out[left.slices][label_rows:], frame[label_rows:])
    assert right.left > left.right - 1 and right.size == left.size == (40, 60)


@pytest.mark.parametrize("count", range(1, 9))
def test_grid_has_no_empty_cell(count):
    panels = [(f"block{i}", "simam") for i in range(count)]
    composer = Composer(layout="grid", panels=panels, caption="grid · simam · demo weights")
    frame = frame_of(30, 40, 90)
    out = composer.compose(frame, [np.full((3, 3), 0.3 + 0.05 * i) for i in range(count)])
    tiles = composer.regions["tiles"]
    rows = len({box.top for box in tiles})
    cols = len({box.left for box in tiles})
    assert len(tiles) == rows * cols >= count + 1  # the frame, then one tile per map
    assert len(tiles) - (count + 1) < cols  # at most part of one row is spare
    assert cols <= 3 * rows and rows <= cols
    for box in tiles:
        cell = out[box.slices]
        assert not (cell == 0).all() and not (cell == BACKGROUND).all()
        assert (cell != BACKGROUND).mean() > 0.01
    np.testing.assert_array_equal(out[tiles[0].slices][-5:], frame[-5:])  # the input tile
    # Every cell is covered: the tiles span the picture.
    picture = composer.regions["picture"]
    assert max(b.bottom for b in tiles) == picture.bottom
    assert max(b.right for b in tiles) == picture.right


def test_prediction_strip_text_follows_probabilities():
    composer = Composer(class_names=NAMES, top_k=3, frame_size=(60, 200))
    frame = frame_of(60, 200, 50)
    heat = [np.zeros((2, 2))]
    strip = composer.regions["predictions"]

    def draw(probs):
        return composer.compose(frame, heat, probs)[strip.slices]

    first = draw(probs_for(4, 0.975))
    np.testing.assert_array_equal(draw(probs_for(4, 0.975)), first)  # same input, same strip
    assert (draw(probs_for(4, 0.976)) != first).any()  # the third digit shows
    assert (draw(probs_for(5, 0.975)) != first).any()  # another class name
    empty = draw(None)
    assert (empty != first).any()
    # Bars: the top class's bar is as long as its probability.
    bar_row = first[3 + composer._strip_line // 2 - 1]
    coloured = np.abs(bar_row.astype(int) - (46, 46, 54)).sum(axis=1) > 30
    filled = coloured & (bar_row.max(axis=1) < 200)  # not the white text
    assert abs(filled.sum() / (strip.size[1] - 4) - 0.975) < 0.1
    # Names of another length give the same size.
    other = Composer(class_names=[n * 5 for n in NAMES], top_k=3, frame_size=(60, 200))
    assert other.size == composer.size


def test_composer_checks_its_arguments():
    def one_line(error):
        assert "\n" not in str(error.value) and str(error.value).endswith(".")

    for kwargs in (
        {"layout": "grd"},
        {"layout": "overlay", "panels": ["a", "b"]},
        {"panels": []},
        {"alpha": 2.0},
        {"colormap": "nope"},
        {"top_k": 0},
        {"scale": [(0, 1), (0, 2), (0, 3)]},
    ):
        with pytest.raises(VizAttnError) as e:
            Composer(**kwargs)
        one_line(e)
        if set(kwargs) <= {"layout", "alpha", "colormap"}:
            # the check that runs before any model work says the same
            with pytest.raises(VizAttnError) as early:
                check_drawing(**kwargs)
            assert str(early.value) == str(e.value)
    composer = Composer(panels=["a"], frame_size=(20, 20))
    with pytest.raises(VizAttnError) as e:
        composer.compose(frame_of(20, 20), [np.zeros((2, 2))] * 2)
    one_line(e)
    with pytest.raises(VizAttnError) as e:
        composer.compose(frame_of(20, 20), [np.zeros((2, 2))], probs=np.ones(3) / 3)
    one_line(e)
    with_names = Composer(class_names=NAMES, frame_size=(20, 20))
    with pytest.raises(VizAttnError) as e:
        with_names.compose(frame_of(20, 20), [np.zeros((2, 2))], probs=np.ones(3) / 3)
    one_line(e)


def _yuv_writer(tmp_path):
    from vizattn.video import VideoWriter

    return VideoWriter(tmp_path / "x.mp4", fps=25)


@pytest.mark.parametrize(
    "layout, panels, frame_size",
    [("overlay", 1, (72, 128)), ("side-by-side", 2, (60, 90)), ("grid", 3, (72, 128))],
)
def test_paint_yuv_equals_converting_the_composed_frame(tmp_path, layout, panels, frame_size):
    """Painting maps on base()'s YUV planes gives what converting compose()'s RGB
    frame gives: luma within rounding everywhere, chroma within rounding away from
    the map's sharpest edges (each chroma sample takes its 2x2 block's centre colour),
    labels drawn over the maps untouched."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0 : frame_size[0], 0 : frame_size[1]]
    frame = np.stack([xx * 2 % 256, yy * 3 % 256, (xx + yy) % 256], -1).astype(np.uint8)
    maps = [rng.random((6, 8)) for _ in range(panels)]
    composer = Composer(
        layout=layout,
        panels=[f"block{i} · simam" for i in range(panels)],
        caption="a caption",
        class_names=["walk", "run"],
    )
    writer = _yuv_writer(tmp_path)
    try:
        probs = np.array([0.25, 0.75])
        expected = writer.to_yuv(composer.compose(frame, maps, probs))
        assert composer.yuv_ready
        prepared = writer.prepare(composer.base(frame, probs))
        composer.paint_yuv(writer.planes(prepared), maps, to_yuv=writer.to_yuv)
        got = writer.planes(prepared)
        luma = np.abs(got[0].astype(int) - expected[0])
        assert luma.max() <= 1
        for k in (1, 2):
            chroma = np.abs(got[k].astype(int) - expected[k])
            # swscale filters chroma over several pixels; paint_yuv samples the map
            # at each block's centre: they differ where the colours change fastest.
            assert chroma.mean() < 1.0 and np.percentile(chroma, 99) <= 9
        # The maps really are painted: the tiles differ from base()'s.
        plain = writer.to_yuv(composer.base(frame, probs))
        for box in composer.regions["tiles"][1 if layout != "overlay" else 0 :]:
            assert np.abs(got[0][box.slices].astype(int) - plain[0][box.slices]).mean() > 3
        for box in composer.regions["labels"]:
            np.testing.assert_array_equal(got[0][box.slices], expected[0][box.slices])
    finally:
        writer.abort()


def test_paint_yuv_refuses_a_layout_off_the_chroma_grid(tmp_path):
    """An odd-sized overlay cannot be painted on 4:2:0 exactly: paint_yuv says so,
    and compose() still draws it."""
    composer = Composer(frame_size=(45, 81))
    assert not composer.yuv_ready
    writer = _yuv_writer(tmp_path)
    try:
        frame = np.zeros((45, 81, 3), np.uint8)
        prepared = writer.prepare(composer.base(frame))
        with pytest.raises(VizAttnError, match="yuv_ready"):
            composer.paint_yuv(writer.planes(prepared), [np.ones((2, 2))], to_yuv=writer.to_yuv)
        assert composer.compose(frame, [np.ones((2, 2))]).shape == (*composer.size, 3)
    finally:
        writer.abort()


def test_compose_is_paint_on_base_and_base_has_no_map():
    composer = Composer(layout="side-by-side", panels=["a"], frame_size=(40, 64))
    frame = np.random.default_rng(0).integers(0, 255, (40, 64, 3), dtype=np.uint8)
    heat = [np.random.default_rng(1).random((4, 4))]
    base = composer.base(frame)
    first = composer.regions["tiles"][0]
    np.testing.assert_array_equal(base[first.slices][-10:], frame[-10:])  # below the label
    np.testing.assert_array_equal(composer.paint(base.copy(), heat), composer.compose(frame, heat))


def test_frames_to_draw_are_checked_once_for_every_caller():
    """overlay.as_frames: uint8 as is, float in [0, 1] to 8 bits, a [1, T, H, W, 3] clip
    unwrapped; floats in 0-255 are an error (they were drawn white), as for the model."""
    frames = RNG.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(as_frames(frames), frames)
    np.testing.assert_array_equal(as_frames(frames[None] / 255.0), frames)
    with pytest.raises(VizAttnError, match=r"float clip has values in \[.*\]; expected \[0, 1\]"):
        as_frames(frames.astype(np.float32))
    with pytest.raises(VizAttnError, match="batch 1 is out of range"):
        as_frames(frames[None], batch=1)
