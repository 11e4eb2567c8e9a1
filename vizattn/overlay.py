"""Turn attention maps into pictures: colormaps, resizing, overlays and layouts.

Everything here is plain numpy on ``uint8`` RGB images ``[H, W, 3]`` (what
:mod:`vizattn.video` reads and writes), with matplotlib used only to look up a
colormap once and Pillow only to draw text and lines. It is fast enough to run
per frame: blending a map onto a 640x360 frame takes about a millisecond.

Attention maps are floats in ``[0, 1]``, usually small (8x8 or 23x23). Colour
them with a 256-entry colormap table, or blow them up to frame size with
bilinear interpolation:

>>> import numpy as np
>>> heat = np.array([[0.0, 1.0], [1.0, 0.0]])
>>> colorize(heat).shape, colorize(heat).dtype
((2, 2, 3), dtype('uint8'))
>>> resize_map(heat, size=(4, 4)).round(2)
array([[0.  , 0.25, 0.75, 1.  ],
       [0.25, 0.38, 0.62, 0.75],
       [0.75, 0.62, 0.38, 0.25],
       [1.  , 0.75, 0.25, 0.  ]], dtype=float32)

Blend a map onto a frame. :func:`overlay` keeps an :class:`Overlayer` per
(alpha, colormap) that caches the colour table and the interpolation weights
for each size, so calling it in a loop costs no set-up:

>>> frame = np.zeros((36, 64, 3), np.uint8)
>>> overlay(frame, np.random.rand(8, 8), alpha=0.5).shape
(36, 64, 3)

Lay frames out for a video or a figure:

- :func:`side_by_side` -- the frame and its heatmap next to each other;
- :func:`stack_vertical` -- one image above another (a video above a strip);
- :func:`grid` -- tiles in rows and columns, each with a text label;
- :func:`prediction_strip` -- the top-k class probabilities over time so far,
  drawn as labelled lines (like the MoViNet streaming tutorial's plot), made to
  sit under the video.

>>> strip = prediction_strip(64 * 4, np.full((10, 3), 1 / 3), ["a", "b", "c"])
>>> stack_vertical(np.zeros((36, 256, 3), np.uint8), strip).shape
(100, 256, 3)
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vizattn.errors import VizAttnError

__all__ = [
    "Overlayer",
    "add_label",
    "colorize",
    "colormap_lut",
    "grid",
    "overlay",
    "prediction_strip",
    "resize_map",
    "side_by_side",
    "stack_vertical",
]

# Colours for the prediction strip (matplotlib's tab10), by class id.
_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
_SUGGESTED = ("inferno", "viridis", "magma", "plasma", "turbo", "jet")


# --------------------------------------------------------------------------- colour


@functools.lru_cache(maxsize=32)
def colormap_lut(colormap: str = "inferno") -> np.ndarray:
    """The 256-entry ``uint8`` RGB table ``[256, 3]`` of a matplotlib colormap.

    Args:
      colormap: any name in ``matplotlib.colormaps`` (``"inferno"``, ``"jet_r"``...).

    Raises:
      VizAttnError: unknown name.

    >>> colormap_lut("gray")[[0, 255]]
    array([[  0,   0,   0],
           [255, 255, 255]], dtype=uint8)
    """
    import matplotlib  # deferred: importing matplotlib costs ~0.2 s

    try:
        cmap = matplotlib.colormaps[colormap]
    except (KeyError, TypeError):
        names = sorted(matplotlib.colormaps)
        close = difflib.get_close_matches(str(colormap), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        choices = ", ".join(repr(n) for n in _SUGGESTED)
        raise VizAttnError(
            f"unknown colormap {colormap!r}; {hint}use a matplotlib colormap such as {choices}."
        ) from None
    rgba = cmap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _to_index(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (NaN counts as 0) to table indices 0..255."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    v = np.clip(v, 0.0, 1.0) * 255.0
    v += 0.5
    return v.astype(np.uint8)


def colorize(maps: Any, colormap: str = "inferno") -> np.ndarray:
    """Colour float maps with a colormap.

    Args:
      maps: ``[H, W]`` or ``[T, H, W]`` (any shape) floats in ``[0, 1]``; values
        outside are clipped, NaN counts as 0.
      colormap: a matplotlib colormap name.

    Returns:
      ``uint8`` RGB array of shape ``maps.shape + (3,)``.

    >>> colorize([[0.0, 1.0]], "gray")
    array([[[  0,   0,   0],
            [255, 255, 255]]], dtype=uint8)
    """
    return np.take(colormap_lut(colormap), _to_index(maps), axis=0)


# --------------------------------------------------------------------------- resizing


@functools.lru_cache(maxsize=64)
def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis: (lower index, upper index, upper weight)."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    weight = (src - lo).astype(np.float32)
    for a in (lo, hi, weight):
        a.flags.writeable = False
    return lo, hi, weight


def _check_size(size: Any) -> tuple[int, int]:
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise VizAttnError(
            f"size must be (height, width), got {size!r}; pass e.g. size=(360, 640)."
        ) from None
    if height < 1 or width < 1:
        raise VizAttnError(f"size must be positive, got {size!r}; pass e.g. size=(360, 640).")
    return height, width


def _resize(maps: np.ndarray, height: int, width: int, offset: float = 0.0) -> np.ndarray:
    """Separable bilinear resize of ``[..., h, w]`` float32 maps (plus ``offset``)."""
    h, w = maps.shape[-2:]
    if (h, w) == (height, width):
        out = maps.astype(np.float32, copy=True)
        if offset:
            out += offset
        return out
    x0, x1, wx = _axis_weights(w, width)
    y0, y1, wy = _axis_weights(h, height)
    # Columns first, on the small map; the weights sum to one, so adding the
    # offset here adds it to the result.
    left = np.take(maps, x0, axis=-1)  # [..., h, W]
    right = np.take(maps, x1, axis=-1)
    right -= left
    right *= wx
    left += right
    if offset:
        left += offset
    top = np.take(left, y0, axis=-2)  # [..., H, W]
    bottom = np.take(left, y1, axis=-2)
    bottom -= top
    bottom *= wy[:, None]
    top += bottom
    return top


def resize_map(maps: Any, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of attention maps to a frame size.

    Pixel centres are aligned (``half_pixel_centers``, the convention of
    OpenCV's ``INTER_LINEAR``, Pillow and ``tf.image.resize``), and edges are
    clamped. Output pixel ``(i, j)`` samples the input at
    ``((i + 0.5) * h / H - 0.5, (j + 0.5) * w / W - 0.5)``.

    Args:
      maps: ``[h, w]`` or ``[T, h, w]`` floats.
      size: ``(H, W)`` of the result.

    Returns:
      ``float32`` array ``[H, W]`` or ``[T, H, W]``.

    >>> resize_map(np.ones((3, 3)), size=(5, 7)).shape
    (5, 7)
    """
    array = np.asarray(maps, dtype=np.float32)
    if array.ndim not in (2, 3):
        raise VizAttnError(
            f"maps must be [h, w] or [T, h, w], got shape {list(array.shape)}; "
            "select one map per frame first."
        )
    height, width = _check_size(size)
    return _resize(array, height, width)


# --------------------------------------------------------------------------- overlay


def _check_frame(frame: Any, what: str = "frame") -> np.ndarray:
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise VizAttnError(
            f"{what} must be a uint8 RGB image [H, W, 3], got {array.dtype} "
            f"{list(array.shape)}; convert with (x * 255).round().astype(np.uint8)."
        )
    return array


def _check_alpha(alpha: float) -> float:
    if not (0.0 <= float(alpha) <= 1.0):
        raise VizAttnError(f"alpha must be between 0 and 1, got {alpha!r}; pass e.g. alpha=0.5.")
    return float(alpha)


class Overlayer:
    """Blend heatmaps onto frames, reusing colour tables and interpolation weights.

    Computes ``(1 - alpha) * frame + alpha * colormap(resize(heat))`` in 8-bit
    fixed point (alpha is rounded to a multiple of 1/256; ``alpha=0`` returns
    the frame exactly, ``alpha=1`` the colours exactly). Consecutive calls with
    the same map reuse its resized colour indices.

    Args:
      alpha: opacity of the heatmap, 0 to 1.
      colormap: a matplotlib colormap name.

    >>> blend = Overlayer(alpha=0.0)
    >>> frame = np.full((4, 6, 3), 7, np.uint8)
    >>> bool((blend(frame, np.ones((2, 2))) == frame).all())
    True
    """

    def __init__(self, *, alpha: float = 0.5, colormap: str = "inferno") -> None:
        self.alpha = _check_alpha(alpha)
        self.colormap = colormap
        self.lut = colormap_lut(colormap)
        self._a = int(round(self.alpha * 256))
        # alpha * colour in 1/256 units, plus 128 to round: blending is then one
        # multiply-add and a shift per value, all in uint16 (max 255 * 256 + 128).
        self._lut_scaled = self.lut.astype(np.uint16) * np.uint16(self._a) + np.uint16(128)
        self._last: tuple[np.ndarray, tuple[int, int], np.ndarray] | None = None

    def indices(self, heat: Any, size: tuple[int, int]) -> np.ndarray:
        """Colour-table indices ``uint8 [H, W]`` of ``heat`` resized to ``size``."""
        small = np.asarray(heat, dtype=np.float32)
        if small.ndim != 2:
            raise VizAttnError(
                f"heat must be one map [h, w], got shape {list(small.shape)}; "
                "pass the map of a single frame."
            )
        size = (int(size[0]), int(size[1]))
        last = self._last
        if last is not None and last[1] == size and np.array_equal(last[0], small):
            return last[2]  # the same map again (maps often change slower than frames)
        # Clip the small map: bilinear weights are convex, so the result stays in [0, 1].
        clipped = np.clip(np.nan_to_num(small, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        values = _resize(clipped * 255.0, size[0], size[1], offset=0.5)
        index = values.astype(np.uint8)
        index.flags.writeable = False
        self._last = (small.copy(), size, index)
        return index

    def __call__(self, frame: Any, heat: Any) -> np.ndarray:
        """Return the blended ``uint8 [H, W, 3]`` image (``frame`` is not modified)."""
        image = _check_frame(frame)
        index = self.indices(heat, image.shape[:2])
        mixed = np.take(self._lut_scaled, index, axis=0)  # [H, W, 3] uint16
        if self._a < 256:
            mixed += np.multiply(image, np.uint16(256 - self._a), dtype=np.uint16)
        out = np.empty(image.shape, np.uint8)
        np.right_shift(mixed, 8, out=out, casting="unsafe")
        return out


@functools.lru_cache(maxsize=16)
def _overlayer(alpha: float, colormap: str) -> Overlayer:
    return Overlayer(alpha=alpha, colormap=colormap)


def overlay(frame: Any, heat: Any, *, alpha: float = 0.5, colormap: str = "inferno") -> np.ndarray:
    """Blend one attention map onto one frame.

    Args:
      frame: ``uint8`` RGB ``[H, W, 3]``.
      heat: ``[h, w]`` floats in ``[0, 1]``, any size (bilinearly resized).
      alpha: heatmap opacity; 0 leaves the frame unchanged.
      colormap: a matplotlib colormap name.

    Returns:
      ``uint8`` RGB ``[H, W, 3]``.

    >>> frame = np.zeros((2, 2, 3), np.uint8)
    >>> overlay(frame, np.ones((1, 1)), alpha=1.0, colormap="gray")[0, 0]
    array([255, 255, 255], dtype=uint8)
    """
    return _overlayer(_check_alpha(alpha), colormap)(frame, heat)


# --------------------------------------------------------------------------- layouts


def _resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    from PIL import Image

    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def side_by_side(frame: Any, heat_rgb: Any, *, gap: int = 0) -> np.ndarray:
    """Put a frame and its heatmap next to each other.

    Args:
      frame: ``uint8`` RGB ``[H, W, 3]``.
      heat_rgb: ``uint8`` RGB image (scaled to height ``H`` keeping its aspect
        ratio), or a float map ``[h, w]`` (coloured with inferno at frame size).
      gap: black pixels between the two.

    Returns:
      ``uint8`` RGB ``[H, W + gap + W2, 3]``.

    >>> side_by_side(np.zeros((4, 6, 3), np.uint8), np.zeros((2, 2))).shape
    (4, 12, 3)
    """
    left = _check_frame(frame)
    height = left.shape[0]
    right = np.asarray(heat_rgb)
    if right.ndim == 2:
        right = colorize(resize_map(right, left.shape[:2]))
    right = _check_frame(right, "heat_rgb")
    if right.shape[0] != height:
        width = max(1, round(right.shape[1] * height / right.shape[0]))
        right = _resize_image(right, height, width)
    parts = [left]
    if gap > 0:
        parts.append(np.zeros((height, gap, 3), np.uint8))
    parts.append(right)
    return np.concatenate(parts, axis=1)


def stack_vertical(a: Any, b: Any, *, gap: int = 0) -> np.ndarray:
    """Put image ``a`` above image ``b``; the narrower one is centred on black.

    >>> stack_vertical(np.zeros((4, 6, 3), np.uint8), np.zeros((2, 4, 3), np.uint8)).shape
    (6, 6, 3)
    """
    top = _check_frame(a, "a")
    bottom = _check_frame(b, "b")
    width = max(top.shape[1], bottom.shape[1])
    parts = [_pad_width(top, width)]
    if gap > 0:
        parts.append(np.zeros((gap, width, 3), np.uint8))
    parts.append(_pad_width(bottom, width))
    return np.concatenate(parts, axis=0)


def _pad_width(image: np.ndarray, width: int) -> np.ndarray:
    extra = width - image.shape[1]
    if extra <= 0:
        return image
    left = extra // 2
    return np.pad(image, ((0, 0), (left, extra - left), (0, 0)))


@functools.lru_cache(maxsize=8)
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError, ImportError):  # pragma: no cover - no FreeType
        return ImageFont.load_default()


def _fit_text(draw: Any, text: str, font: Any, max_width: int) -> str:
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "…", font=font) > max_width:
        text = text[:-1]
    return text + "…" if text else ""


def add_label(image: Any, text: str, *, font_size: int | None = None) -> np.ndarray:
    """Return a copy of ``image`` with ``text`` in its top-left corner (white on a dark box).

    >>> add_label(np.zeros((20, 40, 3), np.uint8), "SimAM").shape
    (20, 40, 3)
    """
    from PIL import Image, ImageDraw

    array = _check_frame(image, "image")
    size = font_size or max(8, min(16, array.shape[0] // 8))
    font = _font(size)
    canvas = Image.fromarray(array)
    draw = ImageDraw.Draw(canvas)
    text = _fit_text(draw, str(text), font, array.shape[1] - 6)
    if text:
        x0, y0, x1, y1 = draw.textbbox((3, 2), text, font=font)
        draw.rectangle((0, 0, x1 + 2, y1 + 2), fill=(0, 0, 0))
        draw.text((3, 2), text, fill=(255, 255, 255), font=font)
    return np.asarray(canvas)


def grid(
    tiles: Sequence[Any],
    labels: Sequence[str] | None = None,
    *,
    cols: int | None = None,
    gap: int = 2,
) -> np.ndarray:
    """Arrange images in a grid, each with a text label.

    Args:
      tiles: ``uint8`` RGB images; all are scaled to the size of the first.
      labels: one string per tile (``None`` for no labels).
      cols: number of columns; default ``ceil(sqrt(len(tiles)))``.
      gap: black pixels between tiles.

    Returns:
      ``uint8`` RGB ``[rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3]``.

    >>> tiles = [np.zeros((10, 20, 3), np.uint8)] * 3
    >>> grid(tiles, ["a", "b", "c"], cols=2, gap=2).shape
    (22, 42, 3)
    """
    if len(tiles) == 0:
        raise VizAttnError("grid() got no tiles; pass at least one image.")
    if labels is not None and len(labels) != len(tiles):
        raise VizAttnError(
            f"grid() got {len(labels)} labels for {len(tiles)} tiles; pass one label per tile."
        )
    count = len(tiles)
    cols = int(cols) if cols is not None else math.ceil(math.sqrt(count))
    if cols < 1:
        raise VizAttnError(f"cols must be >= 1, got {cols!r}; pass cols=1 or more.")
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    first = _check_frame(tiles[0], "tile 0")
    h, w = first.shape[:2]
    out = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), np.uint8)
    for i, tile in enumerate(tiles):
        image = _resize_image(_check_frame(tile, f"tile {i}"), h, w)
        if labels is not None and labels[i]:
            image = add_label(image, labels[i])
        r, c = divmod(i, cols)
        y, x = r * (h + gap), c * (w + gap)
        out[y : y + h, x : x + w] = image
    return out


def prediction_strip(
    width: int,
    history: Any,
    labels: Sequence[str],
    *,
    top_k: int = 3,
    height: int = 64,
    length: int | None = None,
) -> np.ndarray:
    """Draw the top-k class probabilities over time, as a strip to put under a video.

    The classes are the ``top_k`` most probable at the latest step; each keeps
    its colour (by class id) and is listed on the right with its current
    probability. Drawn with Pillow (no matplotlib figure), so it is cheap per frame.

    Args:
      width: strip width in pixels (the video's width).
      history: ``[t, num_classes]`` probabilities of the steps so far (``t`` may be 0).
      labels: ``num_classes`` class names.
      top_k: number of classes drawn.
      height: strip height in pixels.
      length: total number of steps of the video; the x axis then spans the
        whole video and the lines grow as it plays. Default: the steps so far.

    Returns:
      ``uint8`` RGB ``[height, width, 3]``.

    >>> probs = np.array([[0.1, 0.9], [0.6, 0.4]])
    >>> prediction_strip(200, probs, ["walk", "run"], top_k=1, height=40).shape
    (40, 200, 3)
    """
    from PIL import Image, ImageDraw

    width, height = int(width), int(height)
    if width < 16 or height < 16:
        raise VizAttnError(
            f"strip size {width}x{height} is too small; pass width and height of 16 pixels or more."
        )
    probs = np.asarray(history, dtype=np.float32)
    if probs.ndim == 1 and probs.size == 0:
        probs = probs.reshape(0, len(labels))
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise VizAttnError(
            f"history must be [t, num_classes] with num_classes={len(labels)} (one per label), "
            f"got shape {list(probs.shape)}; pass one probability row per step."
        )
    if top_k < 1:
        raise VizAttnError(f"top_k must be >= 1, got {top_k!r}; pass top_k=1 or more.")
    steps = probs.shape[0]
    span = max(int(length) if length else steps, steps, 2)

    canvas = Image.new("RGB", (width, height), (20, 20, 24))
    draw = ImageDraw.Draw(canvas)
    font = _font(max(8, min(14, height // 5)))
    legend_w = int(width * 0.38)
    left, right = 2, width - legend_w - 4
    top, bottom = 3, height - 4
    for p in (0.0, 0.5, 1.0):  # faint gridlines
        y = round(bottom - p * (bottom - top))
        draw.line([(left, y), (right, y)], fill=(60, 60, 66) if p else (90, 90, 96), width=1)
    if steps == 0:
        return np.asarray(canvas)

    k = min(int(top_k), probs.shape[1])
    latest = np.nan_to_num(probs[-1], nan=-1.0)
    classes = np.argsort(-latest, kind="stable")[:k]
    xs = left + np.arange(steps) * ((right - left) / (span - 1))
    # At most one point per pixel column keeps drawing cheap for long videos.
    keep = np.unique(np.round(np.linspace(0, steps - 1, min(steps, right - left + 1))).astype(int))
    line_h = (height - 4) / max(k, 1)
    for rank, cls in enumerate(classes):
        colour = _PALETTE[int(cls) % len(_PALETTE)]
        values = np.clip(np.nan_to_num(probs[:, cls], nan=0.0), 0.0, 1.0)
        ys = bottom - values * (bottom - top)
        points = list(zip(xs[keep].tolist(), ys[keep].tolist(), strict=True))
        if len(points) == 1:
            x, y = points[0]
            draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
        else:
            draw.line(points, fill=colour, width=2)
        text = f"{float(latest[cls]):.2f} {labels[int(cls)]}"
        text = _fit_text(draw, text, font, legend_w - 4)
        ty = 2 + rank * line_h
        draw.text((width - legend_w, ty), text, fill=colour, font=font)
    return np.asarray(canvas)
