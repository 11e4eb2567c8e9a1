"""A synthetic demo clip with known answers: moving shapes and their masks.

Attention maps are hard to judge on real footage because nobody knows where
the model *should* look. The demo clip removes that doubt: a few seconds of
three flat-coloured shapes moving over a textured, static background, written
together with the exact object masks of every frame.

- a red **circle** and a blue **square** glide on smooth (Lissajous) paths
  for the whole clip;
- a yellow **triangle** enters from the left edge halfway through and turns
  slowly as it crosses, so a streaming model has something new to notice;
- the background is smooth colour noise with faint diagonal stripes: textured
  enough that a map cannot score well by following edges alone, but nothing in
  it moves.

Everything is drawn from a seed, so the same seed gives the same clip and the
same masks:

>>> frames, masks, names = demo_frames(seconds=1, fps=10, size=(64, 96), seed=0)
>>> frames.shape, masks.shape, names
((10, 64, 96, 3), (10, 64, 96), ('circle', 'square', 'triangle'))

:func:`make_demo` writes the clip as H.264 (``demo.mp4``) with
:class:`~vizattn.video.VideoWriter` and the masks beside it as
``demo_masks.npz``, holding ``masks`` (``uint8 [T, H, W]``: 0 for background,
``k`` for ``names[k - 1]``), ``names`` and ``fps``. ``vizattn demo`` on the
command line calls it; the copies in ``assets/`` were made with the defaults.

>>> video, masks_file = make_demo("assets")                        # doctest: +SKIP
>>> data = np.load(masks_file)                                     # doctest: +SKIP
>>> data["masks"].shape, list(data["names"]), float(data["fps"])   # doctest: +SKIP
((100, 160, 256), ['circle', 'square', 'triangle'], 25.0)

A perfect "where is the moving object" map for frame ``t`` is then simply
``masks[t] > 0``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np

from vizattn.errors import VizAttnError
from vizattn.overlay import resize_map
from vizattn.video import VideoWriter

__all__ = ["OBJECT_NAMES", "demo_frames", "make_demo"]

#: Names of the demo objects; mask value ``k`` is ``OBJECT_NAMES[k - 1]``.
OBJECT_NAMES = ("circle", "square", "triangle")

_COLOURS = {
    "circle": (225, 45, 45),
    "square": (40, 105, 235),
    "triangle": (250, 205, 30),
}


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Muted smooth colour noise with faint diagonal stripes, ``float32 [H, W, 3]``."""
    coarse = rng.random((3, 5, 8), dtype=np.float32)
    noise = resize_map(coarse, (height, width)).transpose(1, 2, 0)  # [H, W, 3] in [0, 1]
    base = 70.0 + 80.0 * noise
    base[..., 2] *= 0.85  # a little warmer than grey, so the blue square stands out
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = max(8.0, width / 12.0)
    stripes = 10.0 * np.sin(2.0 * np.pi * (xx + yy) / period)
    return base + stripes[..., None]


def _triangle_mask(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, radius: float, angle: float
) -> np.ndarray:
    """Pixels inside an equilateral triangle centred at (cx, cy)."""
    corners = [
        (cx + radius * np.cos(angle + k * 2.0 * np.pi / 3.0),
         cy + radius * np.sin(angle + k * 2.0 * np.pi / 3.0))
        for k in range(3)
    ]  # fmt: skip
    inside = np.ones(xx.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        # Counter-clockwise in image coordinates: the inside is on the right of each edge.
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    return inside


def demo_frames(
    *,
    seconds: float = 4,
    fps: int = 25,
    size: tuple[int, int] = (160, 256),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Draw the demo clip in memory.

    Args:
      seconds: clip length.
      fps: frames per second.
      size: ``(height, width)`` in pixels.
      seed: random seed for the background and the paths.

    Returns:
      ``(frames, masks, names)``: ``uint8 [T, H, W, 3]`` RGB frames,
      ``uint8 [T, H, W]`` masks (0 background, ``k`` for ``names[k - 1]``), and
      the object names.

    >>> _, masks, _ = demo_frames(seconds=0.4, fps=10, size=(48, 64))
    >>> sorted(np.unique(masks[0]).tolist())
    [0, 1, 2]
    """
    height, width = (int(s) for s in size)
    if height < 32 or width < 32:
        raise VizAttnError(
            f"demo size must be at least 32x32, got {size!r}; pass e.g. size=(160, 256)."
        )
    count = int(round(seconds * fps))
    if count < 1:
        raise VizAttnError(
            f"demo must have at least one frame, got seconds={seconds!r} at fps={fps!r}; "
            "pass a longer clip."
        )
    rng = np.random.default_rng(seed)
    background = _background(height, width, rng)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=6)
    lane = rng.uniform(0.35, 0.65)  # height of the triangle's path, as a fraction
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5

    scale = min(height, width)
    r_circle = 0.11 * scale
    half_square = 0.10 * scale
    r_triangle = 0.14 * scale
    enter = count // 2  # the triangle's first frame (its first pixels appear soon after)

    frames = np.empty((count, height, width, 3), np.uint8)
    masks = np.zeros((count, height, width), np.uint8)
    for t in range(count):
        s = t / fps
        image = background.copy()
        mask = masks[t]
        # Circle: a Lissajous path kept inside the frame.
        cx = width * (0.5 + 0.30 * np.sin(2 * np.pi * 0.23 * s + phases[0]))
        cy = height * (0.5 + 0.28 * np.sin(2 * np.pi * 0.31 * s + phases[1]))
        shape = (xx - cx) ** 2 + (yy - cy) ** 2 <= r_circle**2
        mask[shape] = 1
        # Square: another, slower path.
        sx = width * (0.5 + 0.32 * np.cos(2 * np.pi * 0.17 * s + phases[2]))
        sy = height * (0.5 + 0.26 * np.sin(2 * np.pi * 0.27 * s + phases[3]))
        shape = (np.abs(xx - sx) <= half_square) & (np.abs(yy - sy) <= half_square)
        mask[shape] = 2
        # Triangle: enters from the left halfway through, crossing at constant speed.
        if t >= enter:
            progress = (t - enter) / max(count - enter, 1)
            tx = -r_triangle + progress * (width * 0.9 + r_triangle)
            ty = height * (lane + 0.08 * np.sin(2 * np.pi * 0.5 * s + phases[4]))
            shape = _triangle_mask(xx, yy, tx, ty, r_triangle, phases[5] + 1.5 * s)
            mask[shape] = 3
        for k, name in enumerate(OBJECT_NAMES, start=1):
            image[mask == k] = _COLOURS[name]
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
    return frames, masks, OBJECT_NAMES


def make_demo(
    out_dir: str | os.PathLike = "assets",
    *,
    seconds: float = 4,
    fps: int = 25,
    size: tuple[int, int] = (160, 256),
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write the demo clip (``demo.mp4``) and its masks (``demo_masks.npz``).

    Args:
      out_dir: folder for the two files (created if missing).
      seconds, fps, size, seed: as for :func:`demo_frames`; ``size`` must be even
        (H.264 stores even sizes, and the masks must match the video).

    Returns:
      ``(video_path, masks_path)``.

    Raises:
      VizAttnError: odd size, or the folder cannot be written.

    >>> video, masks = make_demo("/tmp/vizattn-demo", seconds=1)       # doctest: +SKIP
    >>> video.name, masks.name                                         # doctest: +SKIP
    ('demo.mp4', 'demo_masks.npz')
    """
    height, width = (int(s) for s in size)
    if height % 2 or width % 2:
        raise VizAttnError(
            f"demo size must be even for H.264, got {size!r}; pass e.g. size=(160, 256)."
        )
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VizAttnError(
            f"cannot create the demo folder {os.fspath(out_dir)!r} ({e.strerror}); "
            "pass a writable out_dir."
        ) from None
    frames, masks, names = demo_frames(seconds=seconds, fps=fps, size=(height, width), seed=seed)
    video_path = folder / "demo.mp4"
    masks_path = folder / "demo_masks.npz"
    with VideoWriter(video_path, fps=fps, crf=26) as writer:
        for image in frames:
            writer.write(image)
    temporary = folder / f".demo_masks.{secrets.token_hex(4)}.tmp.npz"
    try:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, masks=masks, names=np.array(names), fps=np.float64(fps))
        os.replace(temporary, masks_path)
    finally:
        temporary.unlink(missing_ok=True)
    return writer.path, masks_path.resolve()
