"""The moving-shapes task: synthetic clips whose answer depends on one object.

Attention maps are hard to judge on real footage because nobody knows where
the model *should* look. The moving-shapes task removes that doubt. Every clip
shows three or four flat-coloured shapes (a circle, a square, a triangle, a
diamond) over a textured, static background, and comes with the exact object
masks of every frame:

- one shape, the **target**, slides in a straight line; the **label** is its
  direction, one of :data:`CLASS_NAMES` (``right``, ``left``, ``down``, ``up``);
- the other shapes, the **distractors**, stay where they are (with
  ``animate=p`` each one spins or pulses in place with probability ``p``, so
  that "where do pixels change" is no longer the same question as "what
  decides the class"; the demo model was trained with static distractors);
- in half of the clips the target waits, motionless, until frame ``onset``:
  before then not even a perfect streaming model can know the answer;
- the background is smooth colour noise with faint diagonal stripes: textured
  enough that a map cannot score well by following edges alone.

Everything is drawn from a seed, so the same seed gives the same clip. Sizes
are fractions of the frame, so the same task renders at 32, 96 or 192 pixels:

>>> clip = task_clip(7, size=64, frames=8)
>>> clip.frames.shape, clip.masks.shape, clip.names[clip.target - 1] in clip.names
((8, 64, 64, 3), (8, 64, 64), True)
>>> CLASS_NAMES[clip.label] == clip.class_name
True

Training draws batches from :data:`TRAIN_SEEDS` and measures on
:data:`HELDOUT_SEEDS`, two disjoint ranges, so no held-out clip was ever seen:

>>> clips, masks, labels, targets, onsets = task_batch(heldout_seeds(4), size=32, frames=8)
>>> clips.shape, masks.shape, labels.shape
((4, 8, 32, 32, 3), (4, 8, 32, 32), (4,))

Labels are drawn from the seed, uniformly over the four classes.

:func:`make_demo` writes one held-out clip (``DEMO_SEED``, four seconds, the
target starting to move halfway through) as H.264 (``demo.mp4``) and its
masks as ``demo_masks.npz``, holding ``masks`` (``uint8 [T, H, W]``: 0 for
background, ``k`` for ``names[k - 1]``), ``names``, ``fps``, ``target`` (the
target's mask value), ``label`` and ``onset``. ``vizattn demo`` on the command
line calls it; the copies in ``assets/`` were made with the defaults.

>>> video, masks_file = make_demo("assets")                        # doctest: +SKIP
>>> data = np.load(masks_file)                                     # doctest: +SKIP
>>> data["masks"].shape, int(data["target"]), int(data["onset"])   # doctest: +SKIP
((100, 192, 192), 2, 50)

A perfect "where is the evidence" map for frame ``t`` is then simply
``masks[t] == target``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vizattn.errors import VizAttnError
from vizattn.files import atomic_path
from vizattn.overlay import resize_map
from vizattn.video import VideoWriter

__all__ = [
    "CLASS_NAMES",
    "DEMO_SEED",
    "HELDOUT_SEEDS",
    "OBJECT_NAMES",
    "TRAIN_SEEDS",
    "TaskClip",
    "demo_frames",
    "heldout_seeds",
    "make_demo",
    "task_batch",
    "task_clip",
    "train_seeds",
]

#: Names of the shapes; mask value ``k`` is ``OBJECT_NAMES[k - 1]``.
OBJECT_NAMES = ("circle", "square", "triangle", "diamond")

#: The classes: the direction in which the target moves.
CLASS_NAMES = ("right", "left", "down", "up")

#: Seeds that training may use: ``0 <= seed < 10**6``.
TRAIN_SEEDS = range(0, 10**6)

#: Seeds kept for measurement, never used in training: ``seed >= 10**9``.
HELDOUT_SEEDS = range(10**9, 2**32)

#: The held-out seed of the shipped demo clip (``assets/demo.mp4``).
DEMO_SEED = 10**9 + 424_249

_DIRECTIONS = {0: (1.0, 0.0), 1: (-1.0, 0.0), 2: (0.0, 1.0), 3: (0.0, -1.0)}  # (dx, dy)

# Saturated colours, each far from the muted background (channels 60-160) in at
# least two channels. The diamond was green (40, 200, 110) until 2026-11-22: it
# blended into the background's green tints, and a model trained on the task got
# 0.30 of the clips whose target was the diamond right, against 0.98 for the others.
_COLOURS = {
    "circle": (225, 45, 45),
    "square": (40, 105, 235),
    "triangle": (250, 205, 30),
    "diamond": (225, 60, 215),
}

# Size of each shape, as a fraction of the shorter side (circumradius for
# polygons, so all four cover a similar area).
_RADIUS = {"circle": 0.085, "square": 0.105, "triangle": 0.12, "diamond": 0.11}

# Target speed, fractions of the shorter side per frame; the longest path the
# target may travel, as a fraction of the free span of the frame.
_SPEED = (0.012, 0.045)
_MAX_TRAVEL = 0.8
# Distractor animation: largest spin (radians per frame) and pulse (relative radius).
_SPIN = 0.12
_PULSE = 0.12
_GAP = 0.05  # free space between objects, fraction of the shorter side


@dataclasses.dataclass(frozen=True)
class TaskClip:
    """One clip of the moving-shapes task with its ground truth.

    Attributes:
      frames: ``uint8 [time, height, width, 3]`` RGB frames.
      masks: ``uint8 [time, height, width]``: 0 background, ``k`` for ``names[k - 1]``.
      names: the object names (:data:`OBJECT_NAMES`).
      target: the mask value of the object whose motion decides the label.
      label: the class index, ``CLASS_NAMES[label]`` is the target's direction.
      onset: the first frame at which the target has moved (it is still before;
        ``1`` when it moves from the start): the first frame at which the label
        is decidable.
      seed: the seed the clip was drawn from.
    """

    frames: np.ndarray
    masks: np.ndarray
    names: tuple[str, ...]
    target: int
    label: int
    onset: int
    seed: int

    @property
    def class_name(self) -> str:
        """The label's name, e.g. ``"left"``."""
        return CLASS_NAMES[self.label]


def train_seeds(count: int, *, start: int = 0) -> range:
    """``count`` consecutive training seeds from ``start`` (inside :data:`TRAIN_SEEDS`)."""
    return _seed_range(count, TRAIN_SEEDS.start + start, TRAIN_SEEDS, "training")


def heldout_seeds(count: int, *, start: int = 0) -> range:
    """``count`` consecutive held-out seeds from ``start`` (inside :data:`HELDOUT_SEEDS`)."""
    return _seed_range(count, HELDOUT_SEEDS.start + start, HELDOUT_SEEDS, "held-out")


def _seed_range(count: int, first: int, allowed: range, what: str) -> range:
    seeds = range(int(first), int(first) + int(count))
    if count < 0 or first < allowed.start or seeds.stop > allowed.stop:
        raise VizAttnError(
            f"{count} {what} seeds from {first} leave the {what} range "
            f"[{allowed.start}, {allowed.stop}); ask for fewer seeds or a smaller start."
        )
    return seeds


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


def _polygon_mask(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, radius: float, angle: float, sides: int
) -> np.ndarray:
    """Pixels inside a regular polygon centred at (cx, cy) with the given circumradius."""
    corners = [
        (cx + radius * np.cos(angle + k * 2.0 * np.pi / sides),
         cy + radius * np.sin(angle + k * 2.0 * np.pi / sides))
        for k in range(sides)
    ]  # fmt: skip
    inside = np.ones(xx.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        # Counter-clockwise in image coordinates: the inside is on the right of each edge.
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    return inside


def _shape_mask(
    name: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, radius: float, angle: float
) -> np.ndarray:
    if name == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    sides = {"square": 4, "triangle": 3, "diamond": 4}[name]
    base = {"square": np.pi / 4, "triangle": -np.pi / 2, "diamond": 0.0}[name]
    return _polygon_mask(xx, yy, cx, cy, radius, base + angle, sides)


def _check_size(size: int | Sequence[int]) -> tuple[int, int]:
    height, width = (int(size), int(size)) if np.ndim(size) == 0 else (int(s) for s in size)
    if height < 32 or width < 32:
        raise VizAttnError(
            f"task size must be at least 32x32, got {size!r}; pass e.g. size=96 or (96, 128)."
        )
    return height, width


def _check_seed(seed) -> int:
    """A clip seed: a whole number >= 0 (NumPy's generators take no negative seed)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise VizAttnError(
            f"a clip seed must be a whole number >= 0, got {seed!r}; pass e.g. seed=0."
        )
    return int(seed)


def task_clip(
    seed: int,
    *,
    size: int | Sequence[int] = 96,
    frames: int = 16,
    onset: int | None = None,
    animate: float = 0.0,
) -> TaskClip:
    """Draw one clip of the moving-shapes task.

    Args:
      seed: the clip's seed (it decides everything, the label too). Training uses
        :data:`TRAIN_SEEDS`, measurement :data:`HELDOUT_SEEDS`.
      size: ``(height, width)`` or one number for a square clip (at least 32).
      frames: clip length (at least 2).
      onset: the first frame at which the target has moved (``1 <= onset <
        frames``); ``None`` draws it from the seed: ``1`` (moving from the
        start) for half of the seeds, else between ``frames // 8`` and
        ``frames // 2``.
      animate: probability that a distractor spins (polygons) or pulses
        (the circle) in place; 0 keeps every distractor static.

    Returns:
      A :class:`TaskClip`. The target moves rigidly (no spin) at a constant
      speed of 1.2% to 4.5% of the shorter side per frame (slower when a long
      path must fit in the frame) and never touches a distractor; distractors
      stay in place, static, spinning or pulsing.

    Raises:
      VizAttnError: size below 32, fewer than 2 frames, ``onset`` outside
        ``[1, frames)``, or a negative seed.
    """
    height, width = _check_size(size)
    seed = _check_seed(seed)
    frames = int(frames)
    if frames < 2:
        raise VizAttnError(f"a task clip needs at least 2 frames, got {frames}; pass frames=16.")
    rng = np.random.default_rng([int(seed), 9])
    label = int(rng.integers(len(CLASS_NAMES)))
    background = _background(height, width, rng)
    if onset is None:
        onset = 1 if rng.random() < 0.5 else int(rng.integers(frames // 8, frames // 2 + 1))
        onset = max(onset, 1)
    elif not 1 <= int(onset) < frames:
        raise VizAttnError(
            f"onset must be in [1, {frames}) for a {frames}-frame clip, got {onset!r}; "
            "pass a smaller onset or more frames."
        )
    onset = int(onset)
    scale = float(min(height, width))

    count = int(rng.integers(3, 5))  # 3 or 4 objects
    chosen = rng.permutation(len(OBJECT_NAMES))[:count]
    target_index = int(chosen[0])
    target_name = OBJECT_NAMES[target_index]

    # The target's straight path, inside the frame.
    dx, dy = _DIRECTIONS[label]
    r_t = _RADIUS[target_name] * scale
    steps = frames - onset
    margin = 0.02 * scale  # proportional, so the same seed gives the same clip at any size
    lo_x, hi_x, lo_y, hi_y = r_t + margin, width - r_t - margin, r_t + margin, height - r_t - margin
    span = (hi_x - lo_x) if dx else (hi_y - lo_y)
    speed = rng.uniform(*_SPEED) * scale
    speed = min(speed, _MAX_TRAVEL * span / steps)
    travel = speed * steps
    start_x = rng.uniform(lo_x, hi_x - (travel if dx else 0.0))
    start_y = rng.uniform(lo_y, hi_y - (travel if dy else 0.0))
    if dx < 0:
        start_x += travel
    if dy < 0:
        start_y += travel
    end_x, end_y = start_x + dx * travel, start_y + dy * travel

    # Distractors: anywhere that keeps clear of the target's path and of each other.
    placed: list[tuple[int, float, float, float, str, float]] = []
    gap = _GAP * scale
    for index in chosen[1:]:
        name = OBJECT_NAMES[int(index)]
        moving = rng.random() < animate
        kind = ("static", "spin" if name != "circle" else "pulse")[int(moving)]
        rate = rng.uniform(0.4, 1.0) * (_SPIN if kind == "spin" else 1.0) * rng.choice([-1, 1])
        reach = _RADIUS[name] * scale * (1.0 + (_PULSE if kind == "pulse" else 0.0))
        for _ in range(100):
            cx = rng.uniform(reach + margin, width - reach - margin)
            cy = rng.uniform(reach + margin, height - reach - margin)
            if _segment_distance(cx, cy, start_x, start_y, end_x, end_y) < reach + r_t + gap:
                continue
            if any(np.hypot(cx - px, cy - py) < reach + pr + gap for _, px, py, pr, _, _ in placed):
                continue
            placed.append((int(index), cx, cy, reach, kind, float(rate)))
            break
    phase = rng.uniform(0.0, 2.0 * np.pi, size=len(OBJECT_NAMES))

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    out = np.empty((frames, height, width, 3), np.uint8)
    masks = np.zeros((frames, height, width), np.uint8)
    for t in range(frames):
        mask = masks[t]
        for index, cx, cy, _, kind, rate in placed:
            name = OBJECT_NAMES[index]
            radius = _RADIUS[name] * scale
            angle = phase[index]
            if kind == "spin":
                angle += rate * t
            elif kind == "pulse":
                radius *= 1.0 + _PULSE * np.sin(abs(rate) * 0.6 * t + phase[index])
            mask[_shape_mask(name, xx, yy, cx, cy, radius, angle)] = index + 1
        moved = speed * max(0, t - onset + 1)
        tx, ty = start_x + dx * moved, start_y + dy * moved
        mask[_shape_mask(target_name, xx, yy, tx, ty, r_t, phase[target_index])] = target_index + 1
        image = background.copy()
        for k, name in enumerate(OBJECT_NAMES, start=1):
            image[mask == k] = _COLOURS[name]
        out[t] = np.clip(image, 0, 255).astype(np.uint8)
    return TaskClip(
        frames=out,
        masks=masks,
        names=OBJECT_NAMES,
        target=target_index + 1,
        label=label,
        onset=onset,
        seed=int(seed),
    )


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Distance from point p to the segment a-b."""
    vx, vy = bx - ax, by - ay
    length2 = vx * vx + vy * vy
    u = 0.0 if length2 == 0 else min(1.0, max(0.0, ((px - ax) * vx + (py - ay) * vy) / length2))
    return float(np.hypot(px - (ax + u * vx), py - (ay + u * vy)))


def task_batch(
    seeds: Iterable[int],
    *,
    size: int | Sequence[int] = 96,
    frames: int = 16,
    animate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw one clip per seed, stacked.

    Args:
      seeds: the clips' seeds (see :data:`TRAIN_SEEDS`, :data:`HELDOUT_SEEDS`).
      size, frames, animate: as for :func:`task_clip`.

    Returns:
      ``(clips, masks, labels, targets, onsets)``: ``uint8 [batch, time,
      height, width, 3]``, ``uint8 [batch, time, height, width]``, and three
      ``int64 [batch]`` arrays.
    """
    clips = [task_clip(s, size=size, frames=frames, animate=animate) for s in seeds]
    if not clips:
        raise VizAttnError("task_batch got no seeds; pass at least one seed.")
    return (
        np.stack([c.frames for c in clips]),
        np.stack([c.masks for c in clips]),
        np.array([c.label for c in clips], np.int64),
        np.array([c.target for c in clips], np.int64),
        np.array([c.onset for c in clips], np.int64),
    )


def _demo_clip(seconds: float, fps: float, size: Sequence[int], seed: int) -> TaskClip:
    count = int(round(seconds * fps))
    if count < 2:
        raise VizAttnError(
            f"demo must have at least two frames, got seconds={seconds!r} at fps={fps!r}; "
            "pass a longer clip."
        )
    # The target waits for half of the clip, so a streaming model's answer
    # visibly changes only once there is evidence.
    return task_clip(seed, size=size, frames=count, onset=max(1, round(count * 0.5)))


def demo_frames(
    *,
    seconds: float = 4,
    fps: int = 25,
    size: tuple[int, int] = (192, 192),
    seed: int = DEMO_SEED,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Draw the demo clip in memory: a task clip whose target starts moving halfway through.

    Args:
      seconds: clip length.
      fps: frames per second.
      size: ``(height, width)`` in pixels.
      seed: the clip's seed (default :data:`DEMO_SEED`, a held-out seed).

    Returns:
      ``(frames, masks, names)``: ``uint8 [T, H, W, 3]`` RGB frames,
      ``uint8 [T, H, W]`` masks (0 background, ``k`` for ``names[k - 1]``), and
      the object names. :func:`task_clip` with ``onset`` gives the target,
      label and onset too.

    >>> frames, masks, names = demo_frames(seconds=0.4, fps=10, size=(48, 64))
    >>> frames.shape, masks.shape
    ((4, 48, 64, 3), (4, 48, 64))
    """
    clip = _demo_clip(seconds, fps, size, seed)
    return clip.frames, clip.masks, clip.names


def make_demo(
    out_dir: str | os.PathLike = "assets",
    *,
    seconds: float = 4,
    fps: int = 25,
    size: tuple[int, int] = (192, 192),
    seed: int = DEMO_SEED,
) -> tuple[Path, Path]:
    """Write the demo clip (``demo.mp4``) and its masks (``demo_masks.npz``).

    Args:
      out_dir: folder for the two files (created if missing).
      seconds, fps, size, seed: as for :func:`demo_frames`; ``size`` must be even
        (H.264 stores even sizes, and the masks must match the video).

    Returns:
      ``(video_path, masks_path)``. The masks file holds ``masks``, ``names``,
      ``fps``, ``target``, ``label`` and ``onset`` (see the module docstring).

    Raises:
      VizAttnError: odd size, a bad seed or length, or the folder cannot be
        written (nothing is created then: the clip is drawn before the folder).

    >>> video, masks = make_demo("/tmp/vizattn-demo", seconds=1)       # doctest: +SKIP
    >>> video.name, masks.name                                         # doctest: +SKIP
    ('demo.mp4', 'demo_masks.npz')
    """
    height, width = (int(s) for s in size)
    if height % 2 or width % 2:
        raise VizAttnError(
            f"demo size must be even for H.264, got {size!r}; pass e.g. size=(192, 192)."
        )
    clip = _demo_clip(seconds, fps, (height, width), seed)  # bad arguments fail here
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VizAttnError(
            f"cannot create the demo folder {os.fspath(out_dir)!r} ({e.strerror}); "
            "pass a writable output folder."
        ) from None
    video_path = folder / "demo.mp4"
    masks_path = folder / "demo_masks.npz"
    with VideoWriter(video_path, fps=fps, crf=26) as writer:
        for image in clip.frames:
            writer.write(image)
    with atomic_path(masks_path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(
            handle,
            masks=clip.masks,
            names=np.array(clip.names),
            fps=np.float64(fps),
            target=np.int64(clip.target),
            label=np.int64(clip.label),
            onset=np.int64(clip.onset),
        )
    return writer.path, masks_path.resolve()
