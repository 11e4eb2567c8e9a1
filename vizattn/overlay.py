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

For a video, a :class:`Composer` draws whole output frames: the maps in a
layout (``"overlay"``, ``"side-by-side"`` frame | raw map, or ``"grid"``),
the top-k predictions as bars with names and probabilities, a caption naming
layer, kind, model and weights, and a slim colour bar with the map's scale.
It lays everything out once, so each frame costs little more than the blend,
and every frame has the same even size (as H.264 needs). ``compose`` is
``paint(base(frame, probs), maps)``: :meth:`Composer.base` draws all that needs no
map, and :meth:`Composer.paint` (RGB) or :meth:`Composer.paint_yuv` (the planes a
video encoder takes) draws the maps later, which lets a renderer draw the base
while the model still runs:

>>> composer = Composer(layout="overlay", panels=[("block3", "simam")],
...                     caption="block3 · simam · a0 stream · demo weights",
...                     scale="per clip", class_names=["walk", "run"], top_k=2)
>>> out = composer.compose(frame, [np.random.rand(8, 8)], probs=np.array([0.1, 0.9]))
>>> out.shape == (*composer.size, 3), sorted(composer.regions)
(True, ['caption', 'colorbar', 'labels', 'picture', 'predictions', 'tiles'])
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from vizattn.errors import VizAttnError
from vizattn.names import did_you_mean

__all__ = [
    "LAYOUTS",
    "Box",
    "Composer",
    "check_drawing",
    "Overlayer",
    "add_label",
    "as_frames",
    "checked_clip",
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


# --------------------------------------------------------------------------- frames


def checked_clip(clip: Any) -> np.ndarray:
    """A clip checked, as ``[batch, time, height, width, 3]``: uint8 as it is, float as
    float32 in [0, 1]. The one check of frames given to vizattn (the model's input,
    the widgets' and the figures' frames).

    Raises:
      VizAttnError: another shape, no frame, another dtype, or floats outside [0, 1]
        (uint8 values stored as float, say).
    """
    if hasattr(clip, "numpy"):
        clip = clip.numpy()
    arr = np.asarray(clip)
    if arr.ndim == 4:
        arr = arr[None]
    if arr.ndim != 5 or arr.shape[-1] != 3 or min(arr.shape) == 0:
        raise VizAttnError(
            f"clip has shape {tuple(np.shape(clip))}; expected [T, H, W, 3] or [B, T, H, W, 3] "
            "with at least one frame."
        )
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise VizAttnError(
            f"clip has dtype {arr.dtype}; expected uint8 in [0, 255] or float in [0, 1]."
        )
    arr = arr.astype(np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    if not (lo >= -1e-3 and hi <= 1.0 + 1e-3):
        raise VizAttnError(
            f"float clip has values in [{lo:.3g}, {hi:.3g}]; expected [0, 1] (divide uint8 "
            "frames by 255)."
        )
    return np.clip(arr, 0.0, 1.0)


def as_frames(frames: Any, *, batch: int = 0) -> np.ndarray:
    """``uint8 [time, height, width, 3]`` frames to draw, from what :func:`checked_clip`
    accepts (``batch`` picks the item of a ``[B, T, H, W, 3]`` clip).

    >>> as_frames(np.full((2, 4, 4, 3), 0.5, np.float32))[0, 0, 0]
    array([128, 128, 128], dtype=uint8)
    """
    arr = checked_clip(frames)
    if not 0 <= batch < arr.shape[0]:
        raise VizAttnError(f"batch {batch} is out of range; frames hold {arr.shape[0]} item(s).")
    arr = arr[batch]
    if arr.dtype == np.uint8:
        return arr
    return (arr * 255.0 + 0.5).astype(np.uint8)


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
        hint = did_you_mean(colormap, names, cutoff=0.6)
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
        # multiply-add and a shift per value, all in uint16.
        self._lut_scaled = self.scaled(self.lut)
        # Per output size, the last map and its indices (a YUV frame needs two sizes).
        self._last: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def indices(self, heat: Any, size: tuple[int, int]) -> np.ndarray:
        """Colour-table indices ``uint8 [H, W]`` of ``heat`` resized to ``size``."""
        small = np.asarray(heat, dtype=np.float32)
        if small.ndim != 2:
            raise VizAttnError(
                f"heat must be one map [h, w], got shape {list(small.shape)}; "
                "pass the map of a single frame."
            )
        size = (int(size[0]), int(size[1]))
        last = self._last.get(size)
        if last is not None and np.array_equal(last[0], small):
            return last[1]  # the same map again (maps often change slower than frames)
        # Clip the small map: bilinear weights are convex, so the result stays in [0, 1].
        clipped = np.clip(np.nan_to_num(small, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        values = _resize(clipped * 255.0, size[0], size[1], offset=0.5)
        index = values.astype(np.uint8)
        index.flags.writeable = False
        if len(self._last) >= 4:  # a few sizes at a time; don't keep one per size ever seen
            self._last.clear()
        self._last[size] = (small.copy(), index)
        return index

    def __call__(self, frame: Any, heat: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Return the blended ``uint8 [H, W, 3]`` image (``frame`` is not modified).

        Args:
          frame: ``uint8`` RGB ``[H, W, 3]``.
          heat: one map ``[h, w]`` in ``[0, 1]``, any size.
          out: optional ``uint8 [H, W, 3]`` array (a view into a bigger canvas,
            say) to write the result into; it is returned.
        """
        image = _check_frame(frame)
        index = self.indices(heat, image.shape[:2])
        if out is None:
            out = np.empty(image.shape, np.uint8)
        return self.blend(image, index, self._lut_scaled, out=out)

    def blend(
        self, image: np.ndarray, index: np.ndarray, table: np.ndarray, *, out: np.ndarray
    ) -> np.ndarray:
        """``out = (1 - alpha) * image + alpha * colour``, the colours ``table[index]``.

        The one blend of :meth:`__call__` (RGB) and :meth:`Composer.paint_yuv`
        (one plane of a YUV frame); ``out`` may be ``image`` itself.

        Args:
          image: ``uint8 [H, W, C]`` or ``[H, W]``.
          index: ``uint8 [H, W]`` colour-table indices (:meth:`indices`).
          table: ``uint16 [256, C]`` or ``[256]``: ``alpha`` times the colours in
            1/256 units, plus 128 to round (:meth:`scaled`).
          out: ``uint8``, shaped like ``image``.
        """
        mixed = np.take(table, index, axis=0)  # uint16
        if self._a < 256:
            mixed += np.multiply(image, np.uint16(256 - self._a), dtype=np.uint16)
        np.right_shift(mixed, 8, out=out, casting="unsafe")
        return out

    def scaled(self, colours: np.ndarray) -> np.ndarray:
        """``uint16``: ``alpha * colours`` in 1/256 units plus 128, for :meth:`blend`."""
        # uint16 holds the sum: max 255 * 256 + 128.
        return np.asarray(colours).astype(np.uint16) * np.uint16(self._a) + np.uint16(128)

    def colours(self, heat: Any, size: tuple[int, int], *, out: np.ndarray | None = None):
        """The coloured map alone, ``uint8 [H, W, 3]`` at ``size`` (no frame blended in)."""
        index = self.indices(heat, size)
        if out is None:
            return np.take(self.lut, index, axis=0)
        out[...] = np.take(self.lut, index, axis=0)
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
        text = f"{labels[int(cls)]} {_format_probability(float(latest[cls]))}"
        text = _fit_text(draw, text, font, legend_w - 4)
        ty = 2 + rank * line_h
        draw.text((width - legend_w, ty), text, fill=colour, font=font)
    return np.asarray(canvas)


@functools.lru_cache(maxsize=4096)
def _text_mask(text: str, size: int, max_width: int) -> np.ndarray:
    """Coverage ``uint8 [h, w]`` of ``text`` (cut with "…" to fit ``max_width``), memoized.

    Rendering text with FreeType costs about a millisecond; per-frame labels
    (class names, probabilities) repeat, so each is rendered once.
    """
    from PIL import Image, ImageDraw

    font = _font(size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    text = _fit_text(probe, text, font, max(1, max_width))
    ascent, descent = font.getmetrics()
    width = max(1, int(math.ceil(probe.textlength(text, font=font))))
    canvas = Image.new("L", (width, ascent + descent), 0)
    ImageDraw.Draw(canvas).text((0, 0), text, fill=255, font=font)
    mask = np.asarray(canvas)
    mask.flags.writeable = False
    return mask


def _blend_text(
    canvas: np.ndarray, mask: np.ndarray, top: int, left: int, colour: Any = (235, 235, 235)
) -> int:
    """Draws a text coverage ``mask`` onto ``canvas`` in ``colour``; returns its right edge."""
    h = min(mask.shape[0], canvas.shape[0] - top)
    w = min(mask.shape[1], canvas.shape[1] - left)
    if h <= 0 or w <= 0:
        return left
    region = canvas[top : top + h, left : left + w].astype(np.uint16)
    cover = mask[:h, :w, None].astype(np.uint16)
    region = (region * (255 - cover) + np.asarray(colour, np.uint16) * cover + 127) // 255
    canvas[top : top + h, left : left + w] = region
    return left + w


def _format_probability(p: float) -> str:
    """Three decimals ("0.975"); tiny values keep a digit ("4e-04") instead of reading 0.000."""
    if not math.isfinite(p):
        return "n/a"
    if 0.0 < p < 0.0005:
        return f"{p:.0e}"
    return f"{p:.3f}"


# --------------------------------------------------------------------------- composer

#: Layouts a :class:`Composer` draws.
LAYOUTS = ("overlay", "side-by-side", "grid")


def check_drawing(
    *, layout: str = "overlay", alpha: float = 0.5, colormap: str = "inferno"
) -> None:
    """Checks how maps are to be drawn (what :class:`Composer` takes), drawing nothing.

    For callers that check their options before any slow work (``vizattn render``
    checks them before it builds a model).

    Raises:
      VizAttnError: an unknown layout (with a "did you mean"), an alpha outside
        [0, 1], or an unknown colormap.
    """
    if layout not in LAYOUTS:
        hint = did_you_mean(layout, LAYOUTS, cutoff=0.6)
        raise VizAttnError(
            f"unknown layout {layout!r}; {hint}use one of {', '.join(map(repr, LAYOUTS))}."
        )
    _check_alpha(alpha)
    colormap_lut(colormap)


_BACKGROUND = (20, 20, 24)
_TRACK = (46, 46, 54)
_TEXT = (235, 235, 235)
_DIM_TEXT = (170, 170, 178)
_GAP = 2
# Tiles of a grid or side-by-side picture shrink so it fits this (height, width),
# unless one frame alone is bigger: a 2x2 grid of HD frames would encode slowly.
_MAX_PICTURE = (1080, 1920)


class Box(NamedTuple):
    """A rectangle of an image: rows ``top:bottom`` and columns ``left:right``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``image[box.slices]`` is the rectangle."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.bottom - self.top, self.right - self.left


def _overlaps(a: Box, b: Box) -> bool:
    """Whether two boxes share a pixel."""
    return a.top < b.bottom and b.top < a.bottom and a.left < b.right and b.left < a.right


def _half(box: Box, plane: int) -> Box:
    """``box`` in plane ``plane`` of a YUV 4:2:0 frame (0: Y, full size; 1, 2: U, V)."""
    if plane == 0:
        return box
    return Box(box.top // 2, box.left // 2, box.bottom // 2, box.right // 2)


def _text_image(
    text: str,
    font: Any,
    *,
    max_width: int,
    fill: tuple[int, int, int] = _TEXT,
    background: tuple[int, int, int] = (0, 0, 0),
    pad: int = 2,
) -> np.ndarray:
    """``text`` (cut with "…" to fit ``max_width``) on a ``background`` box, ``uint8 [h, w, 3]``."""
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text = _fit_text(probe, text, font, max(1, max_width - 2 * pad))
    ascent, descent = font.getmetrics()
    width = max(1, min(max_width, int(math.ceil(probe.textlength(text, font=font))) + 2 * pad))
    canvas = Image.new("RGB", (width, ascent + descent + 2 * pad), background)
    ImageDraw.Draw(canvas).text((pad, pad), text, fill=fill, font=font)
    return np.asarray(canvas)


def _caption_parts(text: str) -> list[str]:
    """A caption's " · "-separated parts ("block3 · simam · ..." -> ["block3", ...])."""
    return [p.strip() for p in text.split("·") if p.strip()] or [text]


def _wrap_parts(text: str, font: Any, max_width: int) -> list[str]:
    """``text``'s " · "-separated parts packed into lines of at most ``max_width``
    pixels (a part too long for a line gets a line of its own, cut later)."""
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    parts = _caption_parts(text)
    lines = [parts[0]]
    for part in parts[1:]:
        joined = f"{lines[-1]} · {part}"
        if probe.textlength(joined, font=font) + 4 <= max_width:
            lines[-1] = joined
        else:
            lines.append(part)
    return lines


def _paste(canvas: np.ndarray, sprite: np.ndarray, top: int, left: int) -> Box:
    """Copies ``sprite`` into ``canvas`` at (top, left), clipped to the canvas; returns its box."""
    bottom = min(canvas.shape[0], top + sprite.shape[0])
    right = min(canvas.shape[1], left + sprite.shape[1])
    if bottom > top and right > left:
        canvas[top:bottom, left:right] = sprite[: bottom - top, : right - left]
    return Box(top, left, max(top, bottom), max(left, right))


def _grid_shape(count: int) -> tuple[int, int]:
    """``(rows, cols)`` for ``count`` tiles: an exact fit near square if there is one."""
    square = math.ceil(math.sqrt(count))
    for cols in range(square, count + 1):
        rows = math.ceil(count / cols)
        if rows * cols == count and cols <= 3 * rows:
            return rows, cols
    return math.ceil(count / square), square  # spare cells get the legend


class Composer:
    """Lays out one output frame of a heatmap video: maps, legend and predictions.

    Build it once per video with the options, then call :meth:`compose` for
    every frame. Everything that does not change from frame to frame (the
    layout, the colour table, the caption, the colour bar, tile labels) is
    drawn once; a frame costs the blend (about a millisecond at 640x360) and,
    with predictions, a few bars of text. The output has the same even size
    (H.264 needs even sizes) for every frame.

    The picture, top to bottom:

    - the maps, in one of three layouts:

      - ``"overlay"``: the map blended onto the frame (one panel);
      - ``"side-by-side"``: the frame, then each panel's raw map, coloured
        with the colormap (not blended), each labelled;
      - ``"grid"``: the frame and one overlay per panel in rows and columns
        chosen to fit exactly when they can; a cell left over shows the
        legend (the caption), never an empty black cell;

    - the predictions strip (with ``class_names`` or ``predictions=True``):
      the ``top_k`` classes of the current frame as bars, each with its name
      and probability (``"carving ice 0.975"``);
    - the caption (say ``"block3 · simam · a0 stream · demo weights"``) and a
      slim colour bar with the map's scale.

    Args:
      layout: ``"overlay"``, ``"side-by-side"`` or ``"grid"``.
      alpha: opacity of the map in overlays, 0 to 1.
      colormap: a matplotlib colormap name.
      panels: one label per map, as text or ``(layer, kind)``; the number of
        maps :meth:`compose` takes. ``"overlay"`` shows one panel.
      caption: the line under the picture naming layer, kind, model and
        weights; default: the panel labels.
      scale: what map values 0 and 1 mean, for the colour bar: ``(low, high)``
        in the map's raw units (the colour bar shows the numbers), one such
        pair per panel (shown in each tile's label when they differ), or a
        word such as ``"per clip"`` / ``"per frame"`` (the bar then reads
        0 to 1, "normalised per clip"). ``None``: 0 to 1.
      scale_label: text after the colour bar (default from ``scale``), e.g.
        ``"Grad-CAM, logit units"``.
      class_names: names of the classes, for the predictions strip.
      top_k: classes shown in the predictions strip.
      predictions: draw the predictions strip; default: when ``class_names``
        is given. Without names, classes are called ``"class 7"``.
      frame_size: ``(height, width)`` of the input frames, to lay out now
        (so :attr:`size` and :attr:`regions` exist before the first frame);
        default: the first frame's size. Later frames of another size are
        resized to it.
      font_size: text height in pixels; default from the picture width.

    Attributes:
      size: ``(height, width)`` of every output frame (``None`` until laid out).
      regions: where things are drawn, as :class:`Box` rectangles:
        ``"picture"``, ``"tiles"`` (a list, in order: frame/maps),
        ``"labels"`` (tile labels), ``"caption"``, ``"colorbar"`` (the
        gradient alone), ``"predictions"`` (absent without the strip).

    Raises:
      VizAttnError: unknown layout or colormap, bad alpha, no panels, or
        several panels for ``"overlay"``.

    >>> composer = Composer(layout="side-by-side", panels=[("block3", "simam")],
    ...                     caption="block3 · simam · a0 stream · demo weights",
    ...                     class_names=["walk", "run"], top_k=2)
    >>> frame = np.zeros((36, 64, 3), np.uint8)
    >>> image = composer.compose(frame, [np.random.rand(4, 4)], probs=np.array([0.2, 0.8]))
    >>> image.shape == (*composer.size, 3), composer.size[0] % 2, composer.size[1] % 2
    (True, 0, 0)
    """

    def __init__(
        self,
        *,
        layout: str = "overlay",
        alpha: float = 0.5,
        colormap: str = "inferno",
        panels: Sequence[str | tuple[str, str]] = ("map",),
        caption: str | None = None,
        scale: str | tuple[float, float] | Sequence[tuple[float, float]] | None = None,
        scale_label: str | None = None,
        class_names: Sequence[str] | None = None,
        top_k: int = 3,
        predictions: bool | None = None,
        frame_size: tuple[int, int] | None = None,
        font_size: int | None = None,
    ) -> None:
        check_drawing(layout=layout, alpha=alpha, colormap=colormap)
        labels = [" · ".join(map(str, p)) if isinstance(p, tuple) else str(p) for p in panels]
        if not labels:
            raise VizAttnError("Composer got no panels; pass panels=[('block3', 'simam')], say.")
        if layout == "overlay" and len(labels) > 1:
            raise VizAttnError(
                f"layout 'overlay' shows one map but got {len(labels)} panels; "
                "use layout='grid' or 'side-by-side' for several."
            )
        if int(top_k) < 1:
            raise VizAttnError(f"top_k must be >= 1, got {top_k!r}; pass top_k=1 or more.")
        self.layout = layout
        self.panels = labels
        self.caption = caption if caption is not None else ", ".join(labels)
        self.colormap = colormap
        self._blenders = [Overlayer(alpha=alpha, colormap=colormap) for _ in labels]
        self.alpha = self._blenders[0].alpha
        self._ranges, self.scale_label = self._scale_text(scale, scale_label, len(labels))
        self.class_names = None if class_names is None else [str(n) for n in class_names]
        self.predictions = class_names is not None if predictions is None else bool(predictions)
        self.top_k = int(top_k)
        if self.class_names is not None:
            self.top_k = min(self.top_k, max(1, len(self.class_names)))
        self.font_size = font_size
        self.size: tuple[int, int] | None = None
        self.regions: dict[str, Any] = {}
        self._frame_size: tuple[int, int] | None = None
        self._layout_lock = threading.Lock()
        self._strip_cache: tuple[bytes, np.ndarray] | None = None
        if frame_size is not None:
            self._layout(_check_size(frame_size))

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _scale_text(scale: Any, label: str | None, count: int) -> tuple[list[tuple[str, str]], str]:
        """Tick texts per panel (low, high) and the colour bar's label."""
        if scale is None or isinstance(scale, str):
            words = f"normalised {scale}" if isinstance(scale, str) and scale else "normalised"
            return [("0", "1")] * count, label if label is not None else words
        values = np.asarray(scale, dtype=np.float64)
        if values.shape == (2,):
            values = np.tile(values, (count, 1))
        if values.shape != (count, 2):
            raise VizAttnError(
                f"scale must be (low, high) or one pair per panel ({count}), got shape "
                f"{list(values.shape)}; pass scale=(0.0, 1.0), say."
            )
        ticks = [(f"{lo:.3g}", f"{hi:.3g}") for lo, hi in values]
        return ticks, label if label is not None else ""

    def _layout(self, frame_size: tuple[int, int]) -> None:
        """Computes every box and draws the parts that never change."""
        height, width = frame_size
        count = len(self.panels)
        if self.layout == "overlay":
            rows, cols, contents = 1, 1, [("overlay", 0)]
        elif self.layout == "side-by-side":
            rows, cols = 1, count + 1
            contents = [("frame", -1)] + [("colours", i) for i in range(count)]
        else:
            rows, cols = _grid_shape(count + 1)
            contents = [("frame", -1)] + [("overlay", i) for i in range(count)]
            contents += [("legend", -1)] * (rows * cols - len(contents))
        fit = min(
            1.0,
            max(_MAX_PICTURE[1], width) / (cols * width + (cols - 1) * _GAP),
            max(_MAX_PICTURE[0], height) / (rows * height + (rows - 1) * _GAP),
        )
        if fit < 1.0:  # the frames are resized anyway: to even sizes, for 4:2:0 video
            tile_h, tile_w = max(2, 2 * round(height * fit / 2)), max(2, 2 * round(width * fit / 2))
        else:
            tile_h, tile_w = height, width
        pic_h = rows * tile_h + (rows - 1) * _GAP
        pic_w = cols * tile_w + (cols - 1) * _GAP
        out_w = pic_w + pic_w % 2
        size = self.font_size or int(np.clip(round(out_w / 48), 10, 18))
        font = _font(size)
        ascent, descent = font.getmetrics()
        line_h = ascent + descent + 4
        strip_h = self.top_k * line_h + 4 if self.predictions else 0
        # The caption wraps between its " · " parts, and the scale's label goes below
        # the colour bar when the frame is too narrow for one line of each.
        captions = _wrap_parts(self.caption, font, out_w - 4)
        scratch = np.empty((2 * line_h, out_w, 3), np.uint8)
        _, label_fits = self._draw_colorbar(scratch, 0, out_w, font, line_h)
        footer_h = (len(captions) + 1 + (not label_fits)) * line_h + 6
        total_h = pic_h + strip_h + footer_h
        out_h = total_h + total_h % 2

        canvas = np.empty((out_h, out_w, 3), np.uint8)
        canvas[...] = _BACKGROUND
        tiles, label_boxes, label_images = [], [], []
        multi = len(set(self._ranges)) > 1
        for n, (what, panel) in enumerate(contents):
            r, c = divmod(n, cols)
            box = Box(r * (tile_h + _GAP), c * (tile_w + _GAP), 0, 0)
            box = Box(box.top, box.left, box.top + tile_h, box.left + tile_w)
            tiles.append((what, panel, box))
            text = None
            if what == "frame":
                text = "input"
            elif self.layout != "overlay" and what in ("overlay", "colours"):
                text = self.panels[panel]
                if multi:
                    text += f" ({self._ranges[panel][0]} to {self._ranges[panel][1]})"
            if what == "legend":
                self._draw_legend(canvas, box, font)
            if text is not None:
                sprite = _text_image(text, font, max_width=tile_w - 2)
                # Even sizes (the box's colour, one row or column more), so that a
                # label sits on whole 2x2 blocks of a 4:2:0 frame (see paint_yuv).
                odd = ((0, sprite.shape[0] % 2), (0, sprite.shape[1] % 2), (0, 0))
                sprite = np.pad(sprite, odd, mode="edge")
                label_boxes.append(Box(box.top, box.left, 0, 0))
                label_images.append(sprite)
        self._tiles = tiles
        self._labels = [
            (Box(b.top, b.left, b.top + min(s.shape[0], tile_h), b.left + s.shape[1]), s)
            for b, s in zip(label_boxes, label_images, strict=True)
        ]
        self._labels = [(b, s[: b.size[0], : b.size[1]]) for b, s in self._labels]

        regions: dict[str, Any] = {
            "picture": Box(0, 0, pic_h, pic_w),
            "tiles": [box for _, _, box in tiles],
            "labels": [box for box, _ in self._labels],
        }
        if self.predictions:
            regions["predictions"] = Box(pic_h, 0, pic_h + strip_h, out_w)
            self._strip_font, self._strip_line = font, line_h
            self._strip_base = self._draw_strip_base(strip_h, out_w, line_h)
            canvas[regions["predictions"].slices] = self._strip_base
        top = pic_h + strip_h + 3
        boxes = []
        for k, line in enumerate(captions):
            sprite = _text_image(
                line, font, max_width=out_w - 4, background=_BACKGROUND, fill=_TEXT
            )
            boxes.append(_paste(canvas, sprite, top + k * line_h, 2))
        regions["caption"] = Box(
            boxes[0].top,
            min(b.left for b in boxes),
            boxes[-1].bottom,
            max(b.right for b in boxes),
        )
        bar_top = top + len(captions) * line_h
        regions["colorbar"], _ = self._draw_colorbar(canvas, bar_top, out_w, font, line_h)
        self.regions = regions
        self._template = canvas
        self._tiles_cover = len(tiles) == 1 and pic_w == out_w
        painted = [box for what, _, box in tiles if what in ("overlay", "colours")]
        # Labels drawn over the maps (drawn again after them).
        self._painted_labels = [
            (box, sprite)
            for box, sprite in self._labels
            if any(_overlaps(box, tile) for tile in painted)
        ]
        # paint_yuv() needs every painted rectangle on whole 2x2 blocks of pixels.
        self._even = all(
            v % 2 == 0 for b in painted + [b for b, _ in self._painted_labels] for v in b
        )
        self._yuv: np.ndarray | None = None
        self._template.flags.writeable = False
        self._tile_size = (tile_h, tile_w)
        self.size = (out_h, out_w)
        self._frame_size = (height, width)  # last: compose() tests it without the lock

    def _draw_colorbar(
        self, canvas: np.ndarray, top: int, width: int, font: Any, line_h: int
    ) -> tuple[Box, bool]:
        """Draws "low [gradient] high label"; returns the gradient's box and whether
        the label fitted on that line (if not, it is drawn on the line below)."""
        lows = {lo for lo, _ in self._ranges}
        highs = {hi for _, hi in self._ranges}
        low = lows.pop() if len(lows) == 1 else "low"
        high = highs.pop() if len(highs) == 1 else "high"
        left = 4
        low_img = _text_image(low, font, max_width=width // 4, background=_BACKGROUND)
        left = _paste(canvas, low_img, top, left).right + 3
        bar_w = max(16, min(256, width // 3))
        bar_h = max(4, (line_h - 4) // 2)
        bar_top = top + (line_h - bar_h) // 2
        right = min(width - 2, left + bar_w)
        box = Box(bar_top, left, bar_top + bar_h, right)
        if right > left:
            index = np.round(np.linspace(0, 255, right - left)).astype(np.intp)
            canvas[box.slices] = colormap_lut(self.colormap)[index][None]
        left = right + 3
        high_img = _text_image(high, font, max_width=max(1, width - left), background=_BACKGROUND)
        left = _paste(canvas, high_img, top, left).right + 6
        if not self.scale_label:
            return box, True
        label = _text_image(
            self.scale_label, font, max_width=width - 6, background=_BACKGROUND, fill=_DIM_TEXT
        )
        fits = left + label.shape[1] <= width - 2
        if fits:
            _paste(canvas, label, top, left)
        else:
            _paste(canvas, label, top + line_h, 4)
        return box, fits

    def _draw_legend(self, canvas: np.ndarray, box: Box, font: Any) -> None:
        """A spare grid cell: the caption, one part per line."""
        parts = _caption_parts(self.caption)
        step = sum(font.getmetrics()) + 4
        top = box.top + 4
        for part in parts:
            if top + step > box.bottom:
                break
            sprite = _text_image(part, font, max_width=box.size[1] - 8, background=_BACKGROUND)
            _paste(canvas, sprite, top, box.left + 4)
            top += step

    def _draw_strip_base(self, height: int, width: int, line_h: int) -> np.ndarray:
        """The predictions strip without bars: empty tracks, one per rank."""
        strip = np.empty((height, width, 3), np.uint8)
        strip[...] = _BACKGROUND
        for rank in range(self.top_k):
            top = 2 + rank * line_h
            strip[top + 1 : top + line_h - 1, 2 : width - 2] = _TRACK
        strip.flags.writeable = False
        return strip

    # ------------------------------------------------------------------ per frame
    def _strip(self, probs: Any) -> np.ndarray:
        """The predictions strip for one frame's probabilities ``[num_classes]``."""
        if probs is None:
            return self._strip_base
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if self.class_names is not None and p.size != len(self.class_names):
            raise VizAttnError(
                f"probs has {p.size} classes but the Composer has {len(self.class_names)} "
                "class names; pass one probability per class."
            )
        p = np.nan_to_num(p, nan=-1.0)
        top = np.argsort(-p, kind="stable")[: self.top_k]
        texts = [_format_probability(float(p[c])) for c in top.tolist()]
        key = (top.tobytes(), tuple(texts))
        cached = self._strip_cache  # read once: another thread may replace it
        if cached is not None and cached[0] == key:
            return cached[1]
        strip = np.array(self._strip_base)
        line_h, width = self._strip_line, strip.shape[1]
        size = self._strip_font.size
        for rank, (cls, number) in enumerate(zip(top.tolist(), texts, strict=True)):
            y = 2 + rank * line_h
            fill_w = round(float(np.clip(p[cls], 0.0, 1.0)) * (width - 4))
            colour = [int(v * 0.6) for v in _PALETTE[cls % len(_PALETTE)]]
            strip[y + 1 : y + line_h - 1, 2 : 2 + fill_w] = colour
            number_mask = _text_mask(number, size, width)
            name = self.class_names[cls] if self.class_names is not None else f"class {cls}"
            room = width - 12 - number_mask.shape[1] - size // 3
            name_mask = _text_mask(name, size, room)
            left = _blend_text(strip, name_mask, y + 2, 6)
            _blend_text(strip, number_mask, y + 2, left + size // 3)
        strip.flags.writeable = False
        self._strip_cache = (key, strip)
        return strip

    def compose(self, frame: Any, maps: Sequence[Any], probs: Any = None) -> np.ndarray:
        """Draws one output frame: :meth:`paint` on :meth:`base`.

        Args:
          frame: ``uint8`` RGB ``[H, W, 3]``, the video frame.
          maps: one map ``[h, w]`` per panel, floats in ``[0, 1]`` (clipped;
            NaN counts as 0), any resolution (bilinearly resized with
            :func:`resize_map`'s interpolation).
          probs: ``[num_classes]`` class probabilities of this frame for the
            predictions strip, or ``None`` (the strip then shows empty bars).

        Returns:
          ``uint8`` RGB ``[*self.size, 3]``, a new array.
        """
        self._check_maps(maps)
        return self.paint(self.base(frame, probs), maps)

    def base(self, frame: Any, probs: Any = None) -> np.ndarray:
        """The output frame without its maps: everything that needs no map.

        The frame in its tiles (not yet blended), labels, the predictions
        strip, caption and colour bar. A two-pass render draws it while the
        model runs, before the maps' scale is known, and paints the maps on
        later (:meth:`paint`, or :meth:`paint_yuv` on the encoder's YUV frame).

        Args:
          frame: ``uint8`` RGB ``[H, W, 3]``, the video frame.
          probs: as in :meth:`compose`.

        Returns:
          ``uint8`` RGB ``[*self.size, 3]``, a new array.
        """
        image = _check_frame(frame)
        if probs is not None and not self.predictions:
            raise VizAttnError(
                "compose() got probs but the Composer draws no predictions strip; "
                "pass class_names=... (or predictions=True) when building it."
            )
        if self._frame_size is None:
            with self._layout_lock:  # compose() may run in several threads
                if self._frame_size is None:
                    self._layout(image.shape[:2])
        if image.shape[:2] != self._frame_size:
            image = _resize_image(image, *self._frame_size)
        tile_h, tile_w = self._tile_size
        small = _resize_image(image, tile_h, tile_w)
        out = np.empty(self._template.shape, np.uint8)
        # Rows of the picture that the tiles cover whole need no copy of the template.
        skip = self.regions["picture"].bottom if self._tiles_cover else 0
        out[skip:] = self._template[skip:]
        for what, _, box in self._tiles:
            if what in ("overlay", "frame"):
                out[box.slices] = small
        for box, sprite in self._labels:
            out[box.slices] = sprite
        if self.predictions:
            out[self.regions["predictions"].slices] = self._strip(probs)
        return out

    def paint(self, canvas: np.ndarray, maps: Sequence[Any]) -> np.ndarray:
        """Draws the maps onto :meth:`base`'s ``canvas``, in place, and returns it.

        Args:
          canvas: what :meth:`base` returned.
          maps: as in :meth:`compose`.
        """
        self._check_maps(maps)
        for what, panel, box in self._tiles:
            region = canvas[box.slices]
            if what == "overlay":
                self._blenders[panel](region, maps[panel], out=region)
            elif what == "colours":
                self._blenders[panel].colours(maps[panel], box.size, out=region)
        for box, sprite in self._painted_labels:
            canvas[box.slices] = sprite
        return canvas

    @property
    def yuv_ready(self) -> bool:
        """Whether :meth:`paint_yuv` can paint this layout exactly: every map tile
        and label over one lies on whole 2x2 blocks (one 4:2:0 chroma sample each).
        ``False`` until laid out (the first frame, or ``frame_size``)."""
        return self.size is not None and self._even

    def paint_yuv(
        self,
        planes: Sequence[np.ndarray],
        maps: Sequence[Any],
        *,
        to_yuv: Callable[[np.ndarray], Sequence[np.ndarray]],
    ) -> None:
        """:meth:`paint` on :meth:`base`'s frame after conversion to YUV 4:2:0.

        The same blend, on the planes a video encoder takes (``Y [H, W]``,
        ``U, V [H/2, W/2]``), so that converting :meth:`base`'s frame (which
        needs no map) can run ahead, beside the model, and only the maps are
        left for later. Half the values of RGB to blend, too. The conversion
        is linear, so the result equals converting :meth:`compose`'s frame up
        to rounding, except that each chroma sample takes the colour of the
        map at its 2x2 block's centre rather than the average of four.

        Args:
          planes: writable ``(Y, U, V)`` of :meth:`base`'s frame
            (:meth:`vizattn.video.VideoWriter.planes`).
          maps: as in :meth:`compose`.
          to_yuv: the conversion that made ``planes`` (RGB ``[H, W, 3]`` ->
            ``(Y, U, V)``), used once to convert the colour table alike.

        Raises:
          VizAttnError: the layout is not :attr:`yuv_ready` (use :meth:`paint`).
        """
        self._check_maps(maps)
        if not self.yuv_ready:
            raise VizAttnError(
                "paint_yuv() needs map tiles and labels on even rows and columns "
                "(Composer.yuv_ready is False); use compose() or paint() instead."
            )
        colours = self._yuv_colours(to_yuv)  # [256, 3]: Y, U, V
        saved = [[p[_half(box, k).slices].copy() for k, p in enumerate(planes)]
                 for box, _ in self._painted_labels]  # fmt: skip
        for what, panel, box in self._tiles:
            if what not in ("overlay", "colours"):
                continue
            blender = self._blenders[panel]
            for k, plane in enumerate(planes):
                part = _half(box, k)
                region = plane[part.slices]
                index = blender.indices(maps[panel], part.size)
                if what == "overlay":
                    blender.blend(region, index, self._yuv_scaled[panel][:, k], out=region)
                else:
                    region[...] = colours[index, k]
        for (box, _), parts in zip(self._painted_labels, saved, strict=True):
            for k, plane in enumerate(planes):
                plane[_half(box, k).slices] = parts[k]

    def _yuv_colours(self, to_yuv: Callable[[np.ndarray], Sequence[np.ndarray]]) -> np.ndarray:
        """The colour table in YUV, ``uint8 [256, 3]``, converted by ``to_yuv`` once."""
        if self._yuv is None:
            with self._layout_lock:
                if self._yuv is None:
                    block = 8  # each colour an 8x8 square: its centre's chroma is pure
                    lut = colormap_lut(self.colormap)
                    image = np.repeat(np.repeat(lut[None], block, axis=0), block, axis=1)
                    y, u, v = to_yuv(np.ascontiguousarray(image))
                    x = np.arange(256) * block + block // 2
                    c = block // 4
                    yuv = np.stack([y[block // 2, x], u[c, x // 2], v[c, x // 2]], -1)
                    self._yuv_scaled = [b.scaled(yuv) for b in self._blenders]
                    self._yuv = yuv.astype(np.uint8)
        return self._yuv

    def _check_maps(self, maps: Sequence[Any]) -> None:
        if len(maps) != len(self.panels):
            raise VizAttnError(
                f"compose() got {len(maps)} maps for {len(self.panels)} panels "
                f"({', '.join(self.panels)}); pass one map per panel, in order."
            )
