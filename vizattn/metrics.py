"""Does a map point where the evidence is? Scores for explanation maps, and baselines.

A heatmap is a claim about where a model looks. When the object that decides
the class is known frame by frame (the masks of :mod:`vizattn.demo`), the claim
can be measured. Every function here takes maps ``[batch, time, height,
width]`` or ``[time, height, width]`` (floats on any scale) and boolean target
masks with the same number of frames, at any resolution: maps are resized to
the masks with the project's one resize, :func:`vizattn.overlay.resize_map`.

>>> import numpy as np
>>> masks = np.zeros((4, 32, 32), bool)
>>> masks[:, 8:16, 8:16] = True                    # the target, 8 x 8 px
>>> perfect = masks.astype(np.float32)
>>> pointing_game(perfect, masks).all, auroc(perfect, masks).all
(1.0, 1.0)
>>> round(auroc(1 - perfect, masks).all, 3), round(energy_inside(perfect, masks).all, 3)
(0.0, 1.0)

The spatial scores, each per frame and then averaged over frames:

- :func:`pointing_game` -- does the map's maximum fall on the target (within a
  tolerance of a few pixels)?
- :func:`energy_inside` -- which share of the map's (non-negative) mass lies on
  the target?
- :func:`auroc` -- the probability that a random target pixel has a higher map
  value than a random background pixel (0.5 is chance; it ignores scale).

They return a :class:`Score`: ``per_frame`` values (NaN where a frame does not
count, e.g. an empty target mask), ``.all`` (the mean over the frames that
count) and, when ``onset`` is given, ``.after_onset`` (frames ``t >= onset``, the
frames at which the label is decidable). Scores of several clips join with
:meth:`Score.concat`, which pools their frames.

Two scores need the model:

- :func:`deletion_insertion` -- remove (or reveal) the most-attributed pixels of
  every frame, in steps, and follow the streaming model's probability for the
  target class at every frame;
- :func:`randomization_check` -- Adebayo et al.'s sanity check (NeurIPS 2018):
  randomize the weights block by block from the top and measure how much the
  maps change (Spearman rank correlation with the trained model's maps). A map
  that stays the same does not explain the model.

And the references every map should be read against:

- :func:`center_baseline` (a centred Gaussian), :func:`noise_baseline`
  (uniform noise) and :func:`frame_difference` (``|frame t - frame t-1|``,
  smoothed: motion, no model), which a useful map should beat;
- :func:`oracle` -- the target mask averaged onto a block's grid: what a
  perfect map at that resolution scores. A reference, not a bound: on the
  pointing game a map can beat it (the oracle's largest cell can centre off a
  small target; a map's peak need not).

:func:`vizattn.evaluation.evaluate` runs all of them over map kinds and blocks
and prints one table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from vizattn.errors import VizAttnError
from vizattn.overlay import resize_map

__all__ = [
    "DeletionInsertion",
    "Randomization",
    "Score",
    "auroc",
    "center_baseline",
    "deletion_insertion",
    "energy_inside",
    "frame_difference",
    "noise_baseline",
    "oracle",
    "pointing_game",
    "randomization_check",
    "randomization_stages",
    "spearman",
]

#: Default pointing-game tolerance in mask pixels: the map's maximum may miss the
#: target by up to this distance (Zhang et al. used 15 px at ~224 px; 4 px at 96 px
#: is about the same share of the frame).
TOLERANCE = 4.0


# -- scores ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Score:
    """One metric, per frame, with its averages.

    Attributes:
      per_frame: float64 ``[batch, time]``; NaN where the frame does not count.
      after: bool ``[batch, time]``, True for frames at or after the onset, or
        ``None`` when no onset was given.
    """

    per_frame: np.ndarray
    after: np.ndarray | None = None

    @property
    def all(self) -> float:
        """Mean over every frame that counts (NaN if none does)."""
        return _nanmean(self.per_frame)

    @property
    def after_onset(self) -> float | None:
        """Mean over the frames ``t >= onset`` that count; ``None`` without an onset."""
        if self.after is None:
            return None
        return _nanmean(self.per_frame[self.after])

    @property
    def frames(self) -> int:
        """How many frames count."""
        return int(np.isfinite(self.per_frame).sum())

    def __float__(self) -> float:
        return self.all

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"all", "after_onset", "frames", "frames_after_onset"}`` (NaN -> None)."""
        return {
            "all": _json_float(self.all),
            "after_onset": _json_float(self.after_onset),
            "frames": self.frames,
            "frames_after_onset": (
                None if self.after is None else int(np.isfinite(self.per_frame[self.after]).sum())
            ),
        }

    @classmethod
    def concat(cls, scores: Iterable[Score]) -> Score:
        """Pools the frames of several scores (clips of any length) into one ``[1, N]`` score.

        The onset split survives only when every score has one.
        """
        scores = list(scores)
        if not scores:
            raise VizAttnError("Score.concat needs at least one score.")
        values = np.concatenate([s.per_frame.ravel() for s in scores])[None]
        if all(s.after is not None for s in scores):
            after = np.concatenate([s.after.ravel() for s in scores])[None]
        else:
            after = None
        return cls(values, after)


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, np.float64)
    good = values[np.isfinite(values)]
    return float(good.mean()) if good.size else float("nan")


def _json_float(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


# -- inputs ----------------------------------------------------------------------


def _as_maps(maps: Any, what: str = "maps") -> np.ndarray:
    """float32 ``[batch, time, h, w]``."""
    a = np.asarray(maps, np.float32)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or min(a.shape) < 1:
        raise VizAttnError(
            f"{what} must be [batch, time, height, width] or [time, height, width], got shape "
            f"{list(np.shape(maps))}; reduce channels first, e.g. cache.frame_maps(...)."
        )
    if not np.isfinite(a).all():
        raise VizAttnError(f"{what} contain NaN or infinite values; fix the map before scoring it.")
    return a


def _as_masks(masks: Any) -> np.ndarray:
    """bool ``[batch, time, H, W]``; nonzero counts as target."""
    m = np.asarray(masks)
    if m.ndim == 3:
        m = m[None]
    if m.ndim != 4 or min(m.shape) < 1:
        raise VizAttnError(
            f"masks must be [batch, time, height, width] or [time, height, width], got shape "
            f"{list(np.shape(masks))}; for a label mask pass masks == target."
        )
    return m if m.dtype == bool else m != 0


def _pair(maps: Any, masks: Any) -> tuple[np.ndarray, np.ndarray]:
    """Maps resized to the masks, both ``[batch, time, H, W]``, batch broadcast."""
    a = _as_maps(maps)
    m = _as_masks(masks)
    if a.shape[1] != m.shape[1]:
        raise VizAttnError(
            f"maps have {a.shape[1]} frames but masks have {m.shape[1]}; pass one mask per frame."
        )
    if a.shape[0] != m.shape[0] and 1 not in (a.shape[0], m.shape[0]):
        raise VizAttnError(
            f"maps have batch {a.shape[0]} but masks have batch {m.shape[0]}; pass one mask "
            "clip per map clip (or one for all)."
        )
    h, w = m.shape[2:]
    if a.shape[2:] != (h, w):
        b, t = a.shape[:2]
        a = resize_map(a.reshape(b * t, *a.shape[2:]), (h, w)).reshape(b, t, h, w)
    batch = max(a.shape[0], m.shape[0])
    a = np.broadcast_to(a, (batch, *a.shape[1:]))
    m = np.broadcast_to(m, (batch, *m.shape[1:]))
    return a, m


def _after(onset: Any, batch: int, frames: int) -> np.ndarray | None:
    """bool ``[batch, time]``: frame ``t >= onset`` (one onset, or one per batch item)."""
    if onset is None:
        return None
    values = np.atleast_1d(np.asarray(onset))
    if not np.issubdtype(values.dtype, np.integer) or values.ndim != 1:
        raise VizAttnError(f"onset must be a frame index or one per clip, got {onset!r}.")
    if values.size == 1:
        values = np.repeat(values, batch)
    if values.size != batch:
        raise VizAttnError(f"{values.size} onsets for {batch} clips; give one, or one per clip.")
    if ((values < 0) | (values >= frames)).any():
        raise VizAttnError(
            f"onset {values.tolist()} outside the clip's frames 0..{frames - 1}; pass the first "
            "frame at which the label is decidable."
        )
    return np.arange(frames)[None, :] >= values[:, None]


def _dilate(masks: np.ndarray, radius: float) -> np.ndarray:
    """Masks ``[..., H, W]`` grown by a disk of ``radius`` pixels (Euclidean)."""
    r = int(np.floor(radius))
    if r <= 0:
        return masks
    out = masks.copy()
    h, w = masks.shape[-2:]
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > radius * radius or (dy == 0 and dx == 0):
                continue
            out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] |= masks[
                ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
    return out


# -- spatial metrics -------------------------------------------------------------


def pointing_game(
    maps: Any, masks: Any, *, tolerance: float = TOLERANCE, onset: Any = None
) -> Score:
    """The share of frames whose map maximum falls on the target.

    A frame scores 1 when the map's maximum (after resizing the map to the
    mask) lies inside the target mask grown by ``tolerance`` pixels (a disk,
    Euclidean distance, in mask pixels). When several pixels share the maximum
    (a constant map, a plateau), the frame scores the share of them that lie
    inside: the expected hit of a random pick among them, so a constant map
    scores the (grown) target's area and not whatever a top-left argmax hits.
    Frames whose target mask is empty do not count.

    Args:
      maps: ``[batch, time, h, w]`` or ``[time, h, w]``, any scale.
      masks: bool ``[batch, time, H, W]`` or ``[time, H, W]`` (nonzero = target).
      tolerance: pixels (at mask resolution) by which the maximum may miss.
      onset: first frame at which the label is decidable (or one per clip), for
        :attr:`Score.after_onset`.

    Returns:
      A :class:`Score` in ``[0, 1]``.
    """
    if not float(tolerance) >= 0:
        raise VizAttnError(f"tolerance must be >= 0 pixels, got {tolerance!r}.")
    a, m = _pair(maps, masks)
    b, t = a.shape[:2]
    zone = _dilate(np.ascontiguousarray(m), float(tolerance)).reshape(b, t, -1)
    flat = a.reshape(b, t, -1)
    top = flat.max(axis=-1, keepdims=True)
    ties = flat >= top - 1e-6 * np.maximum(np.abs(top), 1e-30)
    score = (ties & zone).sum(-1) / ties.sum(-1)
    valid = m.reshape(b, t, -1).any(-1)
    return Score(np.where(valid, score, np.nan), _after(onset, b, t))


def energy_inside(maps: Any, masks: Any, *, onset: Any = None) -> Score:
    """The share of the map's non-negative mass that lies on the target.

    Negative values count as zero. A frame whose map has no positive mass
    scores the target's area share (what a constant map scores). Frames with an
    empty target mask do not count. Unlike the other scores this one depends on
    the map's offset: a map ``0.5 + small`` stays near the area share.

    Args:
      maps, masks, onset: as for :func:`pointing_game`.

    Returns:
      A :class:`Score` in ``[0, 1]``.
    """
    a, m = _pair(maps, masks)
    pos = np.maximum(a, 0.0).astype(np.float64)
    total = pos.sum(axis=(-2, -1))
    inside = (pos * m).sum(axis=(-2, -1))
    area = m.mean(axis=(-2, -1))
    share = np.where(total > 0, inside / np.where(total > 0, total, 1.0), area)
    valid = m.any(axis=(-2, -1))
    return Score(np.where(valid, share, np.nan), _after(onset, *a.shape[:2]))


def auroc(maps: Any, masks: Any, *, onset: Any = None) -> Score:
    """Per-frame AUROC of map values, target pixels against background pixels.

    The probability that a random target pixel has a higher value than a
    random background pixel (ties count one half): 1 for a perfect map, 0.5 for
    a constant one, 0 for an inverted one. Computed from ranks (Mann-Whitney U,
    average ranks for ties), ``O(P log P)`` per frame. Frames with no target or
    no background pixel do not count.

    Args:
      maps, masks, onset: as for :func:`pointing_game`.

    Returns:
      A :class:`Score` in ``[0, 1]``.
    """
    from scipy.stats import rankdata

    a, m = _pair(maps, masks)
    b, t = a.shape[:2]
    flat = a.reshape(b * t, -1)
    labels = m.reshape(b * t, -1)
    ranks = rankdata(flat, method="average", axis=-1)
    n_pos = labels.sum(-1).astype(np.float64)
    n_neg = labels.shape[-1] - n_pos
    rank_sum = np.where(labels, ranks, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    value = np.where((n_pos > 0) & (n_neg > 0), value, np.nan)
    return Score(value.reshape(b, t), _after(onset, b, t))


def spearman(maps_a: Any, maps_b: Any) -> np.ndarray:
    """Spearman rank correlation of two map sets, per frame: float64 ``[batch, time]``.

    Both are ``[batch, time, h, w]`` (or ``[time, h, w]``); ``maps_b`` is
    resized to ``maps_a``'s grid if needed. A frame where exactly one of the two
    maps is constant scores 0 (it shares no ranking with the other); NaN where
    both are.
    """
    from scipy.stats import rankdata

    a = _as_maps(maps_a, "maps_a")
    c = _as_maps(maps_b, "maps_b")
    if c.shape[:2] != a.shape[:2]:
        raise VizAttnError(
            f"maps of shapes {list(a.shape)} and {list(c.shape)} cannot be compared; "
            "pass the same batch and frames."
        )
    if c.shape[2:] != a.shape[2:]:
        bt = c.shape[0] * c.shape[1]
        c = resize_map(c.reshape(bt, *c.shape[2:]), a.shape[2:]).reshape(*a.shape)
    ra = rankdata(a.reshape(*a.shape[:2], -1), axis=-1)
    rc = rankdata(c.reshape(*c.shape[:2], -1), axis=-1)
    ra -= ra.mean(-1, keepdims=True)
    rc -= rc.mean(-1, keepdims=True)
    va, vc = (ra * ra).sum(-1), (rc * rc).sum(-1)
    den = np.sqrt(va * vc)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rc).sum(-1) / np.where(den > 0, den, 1.0)
    return np.where(den > 0, rho, np.where((va > 0) | (vc > 0), 0.0, np.nan))


# -- baselines and the oracle ----------------------------------------------------


def center_baseline(shape: Sequence[int], *, sigma: float = 0.25) -> np.ndarray:
    """A centred Gaussian on every frame: the "objects are near the middle" prior.

    Args:
      shape: ``(..., height, width)``, e.g. ``(T, H, W)``.
      sigma: standard deviation as a fraction of the height and of the width.

    Returns:
      float32 array of ``shape``, peak 1 at the centre.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or min(shape) < 1 or not float(sigma) > 0:
        raise VizAttnError(
            f"center_baseline needs a shape (..., height, width) and sigma > 0, got {shape}, "
            f"{sigma!r}."
        )
    h, w = shape[-2:]
    y = (np.arange(h) + 0.5 - h / 2) / (sigma * h)
    x = (np.arange(w) + 0.5 - w / 2) / (sigma * w)
    g = np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)
    return np.broadcast_to(g, shape).copy()


def noise_baseline(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Uniform noise in ``[0, 1)``, float32 of ``shape``: a map that knows nothing."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or min(shape) < 1:
        raise VizAttnError(f"noise_baseline needs a shape (..., height, width), got {shape}.")
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def frame_difference(clip: Any, *, sigma: float = 1.5) -> np.ndarray:
    """Motion without a model: ``|frame t - frame t-1|``, averaged over RGB and smoothed.

    Frame 0 has no previous frame and gets zeros (a causal map: frame ``t``
    uses frames ``<= t`` only). Smoothing is a Gaussian of ``sigma`` pixels in
    space only.

    Args:
      clip: uint8 (or float in [0, 1]) ``[T, H, W, 3]`` or ``[B, T, H, W, 3]``.
      sigma: spatial smoothing in pixels (0 for none).

    Returns:
      float32 ``[T, H, W]`` or ``[B, T, H, W]`` (matching ``clip``), in [0, 1].
    """
    from scipy.ndimage import gaussian_filter

    x = np.asarray(clip)
    single = x.ndim == 4
    if single:
        x = x[None]
    if x.ndim != 5 or x.shape[-1] != 3 or x.shape[1] < 1:
        raise VizAttnError(
            f"clip must be [T, H, W, 3] or [B, T, H, W, 3], got shape {list(np.shape(clip))}."
        )
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    out = np.zeros(x.shape[:-1], np.float32)
    out[:, 1:] = np.abs(np.diff(x, axis=1)).mean(-1)
    if sigma:
        out = gaussian_filter(out, sigma=(0, 0, float(sigma), float(sigma)), mode="nearest")
    return out[0] if single else out


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]``: the share of output cell ``i`` covered by input pixel ``j``."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.maximum(edges[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(n_in)[None, :] + 1)
    return np.clip(hi - lo, 0.0, None) / (n_in / n_out)


def oracle(masks: Any, grid: Sequence[int]) -> np.ndarray:
    """The target mask reduced to a block's grid: a perfect map at that resolution.

    Each grid cell holds the share of its area covered by the target (area
    averaging). Scored like any map (the metrics resize it back to the masks),
    it shows what the target itself scores at that resolution. Not a bound on
    other maps: on the pointing game one can beat it (the most covered cell's
    centre can lie off a small target).

    Args:
      masks: bool ``[..., H, W]`` (nonzero = target), e.g. ``[T, H, W]``.
      grid: ``(h, w)`` of the block's maps.

    Returns:
      float32 ``[..., h, w]`` in [0, 1].
    """
    m = np.asarray(masks)
    try:
        h, w = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise VizAttnError(f"grid must be (height, width), got {grid!r}.") from None
    if m.ndim < 2 or h < 1 or w < 1:
        raise VizAttnError(f"oracle needs masks [..., H, W] and a positive grid, got {grid!r}.")
    m = (m != 0).astype(np.float64)
    ry = _area_weights(m.shape[-2], h)
    rx = _area_weights(m.shape[-1], w)
    return np.einsum("iy,...yx,jx->...ij", ry, m, rx).astype(np.float32)


# -- deletion and insertion ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeletionInsertion:
    """Probability curves of :func:`deletion_insertion`.

    Attributes:
      fractions: float64 ``[steps + 1]``, the share of pixels removed (deletion)
        or revealed (insertion) in every frame, from 0 to 1.
      deletion: float64 ``[steps + 1, time]``: the target-class probability at
        frame ``t`` when the top ``fractions[k]`` of every frame ``<= t`` are removed.
      insertion: float64 ``[steps + 1, time]``: the same when only they are shown.
      target: the class followed.
      after: bool ``[time]`` (frames ``t >= onset``) or ``None``.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    target: int
    after: np.ndarray | None = None

    @property
    def deletion_auc(self) -> np.ndarray:
        """Area under the deletion curve per frame ``[time]``: lower is better."""
        return _trapezoid(self.deletion, self.fractions)

    @property
    def insertion_auc(self) -> np.ndarray:
        """Area under the insertion curve per frame ``[time]``: higher is better."""
        return _trapezoid(self.insertion, self.fractions)

    def scores(self) -> dict[str, Score]:
        """``{"deletion_auc": Score, "insertion_auc": Score}``, per frame."""
        after = None if self.after is None else self.after[None]
        return {
            "deletion_auc": Score(self.deletion_auc[None], after),
            "insertion_auc": Score(self.insertion_auc[None], after),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready curves and areas."""
        return {
            "target": self.target,
            "fractions": self.fractions.tolist(),
            "deletion": self.deletion.tolist(),
            "insertion": self.insertion.tolist(),
            **{k: s.as_dict() for k, s in self.scores().items()},
        }


def _trapezoid(curves: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = np.diff(x)[:, None]
    return ((curves[1:] + curves[:-1]) * 0.5 * dx).sum(axis=0)


def _fill_image(x: np.ndarray, fill: str, sigma: float | None) -> np.ndarray:
    """What removed pixels become: ``x`` ``[T, H, W, 3]`` -> same shape."""
    if fill == "mean":
        return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape)
    if fill == "blur":
        from scipy.ndimage import gaussian_filter

        s = float(sigma) if sigma is not None else 0.1 * min(x.shape[1:3])
        return gaussian_filter(x, sigma=(0, s, s, 0), mode="nearest")
    raise VizAttnError(f"unknown fill {fill!r}; use 'mean' or 'blur'.")


def deletion_insertion(
    model,
    clip: Any,
    maps: Any,
    *,
    target: int | None = None,
    steps: int = 8,
    fill: str = "mean",
    sigma: float | None = None,
    onset: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
) -> DeletionInsertion:
    """Temporal deletion and insertion for a streaming model.

    In every frame the pixels are ranked by the frame's own map (ties broken
    at random with ``seed``). Step ``k`` of ``steps`` *removes* the top
    ``k / steps`` of every frame (deletion: replaced by ``fill``) or *reveals*
    only them (insertion: the rest is ``fill``). Each of the ``2 * (steps + 1)``
    altered clips streams through the model (:func:`vizattn.predict_stream`,
    batched: one call per ``batch_size`` clips), and the target-class
    probability is kept at every frame. A good map makes the deletion curve
    fall fast (low area) and the insertion curve rise fast (high area).

    Args:
      model: a stream model (:func:`vizattn.load_model`).
      clip: uint8 (or float in [0, 1]) ``[T, H, W, 3]`` or ``[1, T, H, W, 3]``,
        at the model's input size.
      maps: ``[T, h, w]`` or ``[1, T, h, w]``, resized to the frames.
      target: class to follow (default: the class predicted at the last frame
        of the unaltered clip).
      steps: number of steps from 0 to all pixels.
      fill: ``"mean"`` (each frame's mean colour; the default, because a
        blurred flat-coloured shape still shows where it moves) or ``"blur"``
        (a Gaussian blur of ``sigma`` pixels, default a tenth of the shorter side).
      sigma: blur width in pixels for ``fill="blur"``.
      onset: first decidable frame, for the ``after onset`` averages.
      seed: tie-breaking seed.
      batch_size: altered clips per model call.

    Returns:
      A :class:`DeletionInsertion`.
    """
    from vizattn.cache import softmax
    from vizattn.models import as_clip, is_stream, predict_stream

    if not is_stream(model):
        raise VizAttnError(
            "deletion_insertion follows a streaming model frame by frame; build it with "
            "stream=True."
        )
    if int(steps) < 1 or int(batch_size) < 1:
        raise VizAttnError(f"steps and batch_size must be >= 1, got {steps!r}, {batch_size!r}.")
    steps = int(steps)
    x = as_clip(clip)
    if x.shape[0] != 1:
        raise VizAttnError(
            f"deletion_insertion takes one clip, got a batch of {x.shape[0]}; loop over clips."
        )
    x = x[0]
    t, h, w = x.shape[:3]
    a = _as_maps(maps)
    if a.shape[0] != 1 or a.shape[1] != t:
        raise VizAttnError(
            f"maps have shape {list(a.shape)}; expected [{t}, h, w]: one map per frame of one clip."
        )
    a = resize_map(a[0], (h, w)).reshape(t, h * w)
    tie = np.random.default_rng(seed).random(a.shape)
    order = np.lexsort((tie, -a), axis=-1)  # most attributed first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(h * w)[None].repeat(t, 0), axis=-1)
    rank = rank.reshape(t, h, w)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(np.int64)
    base = _fill_image(x, fill, sigma)
    altered = []
    for n in counts:
        chosen = (rank < n)[..., None]
        altered.append(np.where(chosen, base, x))  # deletion
    for n in counts:
        chosen = (rank < n)[..., None]
        altered.append(np.where(chosen, x, base))  # insertion
    batch = np.stack(altered).astype(np.float32)
    logits = np.concatenate(
        [
            predict_stream(model, batch[i : i + int(batch_size)])
            for i in range(0, len(batch), int(batch_size))
        ]
    )
    probs = softmax(logits).astype(np.float64)  # [2(steps+1), T, classes]
    if target is None:
        target = int(np.argmax(probs[0, -1]))
    if not 0 <= int(target) < probs.shape[-1]:
        raise VizAttnError(
            f"target class {target} is out of range; the model has {probs.shape[-1]} classes."
        )
    curves = probs[..., int(target)]
    after = _after(onset, 1, t)
    return DeletionInsertion(
        fractions=counts / float(h * w),
        deletion=curves[: steps + 1],
        insertion=curves[steps + 1 :],
        target=int(target),
        after=None if after is None else after[0],
    )


# -- randomization sanity check --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Randomization:
    """Result of :func:`randomization_check`.

    Attributes:
      stages: the groups of layers randomized, cumulatively, top first
        (``"head"``, ``"block4"``, ..., ``"stem"``): stage ``i`` has groups
        ``0..i`` randomized.
      correlations: one :class:`Score` per stage: the Spearman rank correlation,
        per frame, between the trained model's maps and the maps after that stage.
    """

    stages: list[str]
    correlations: list[Score]

    @property
    def mean(self) -> np.ndarray:
        """Mean correlation per stage, float64 ``[stages]``."""
        return np.array([s.all for s in self.correlations])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"stages": [...], "correlation": [...], "after_onset": [...]}``."""
        return {
            "stages": list(self.stages),
            "correlation": [_json_float(s.all) for s in self.correlations],
            "after_onset": [_json_float(s.after_onset) for s in self.correlations],
        }


def _stage_of(variable_name: str) -> str:
    """``block3_layer1/bneck/...`` -> ``block3``; ``classifier_head/...`` -> ``head``."""
    first = variable_name.split("/", 1)[0]
    if first.startswith("block"):
        return first.split("_", 1)[0]
    if first in ("head", "classifier_head"):
        return "head"
    if first == "stem":
        return "stem"
    return "other"


def randomization_stages(model) -> dict[str, list]:
    """The model's variables by stage, in cascade order (top first).

    Returns:
      ``{"head": [...], "block4": [...], ..., "stem": [...], "other": [...]}``;
      ``"head"`` holds the backbone head and the classifier, ``"other"`` any
      variable outside those groups (randomized last, when present).
    """
    groups: dict[str, list] = {}
    for v in model.variables:
        groups.setdefault(_stage_of(v.name), []).append(v)
    blocks = sorted((k for k in groups if k.startswith("block")), key=lambda k: -int(k[5:] or 0))
    order = [k for k in ("head", *blocks, "stem", "other") if k in groups]
    return {k: groups[k] for k in order}


def randomization_check(
    model,
    clip: Any,
    map_fn: Callable[[Any, Any], Any],
    *,
    stages: Sequence[str] | None = None,
    seed: int = 0,
    onset: Any = None,
) -> Randomization | dict[str, Randomization]:
    """Cascading model-parameter randomization (Adebayo et al., NeurIPS 2018).

    Computes ``map_fn(model, clip)`` with the trained weights, then randomizes
    the weights group by group from the top (head, then the last block down to
    the stem), cumulatively, and after each group computes the maps again and
    their Spearman rank correlation with the trained maps, frame by frame. Each
    variable is randomized by permuting its entries (trainable weights and
    batch-norm statistics alike): the scale stays, what was learned goes. A map
    type whose correlation stays near 1 does not depend on what the model
    learned, so it does not explain the model.

    The model's weights are restored afterwards, even when ``map_fn`` raises.

    Args:
      model: a model from :func:`vizattn.build_movinet` / :func:`vizattn.load_model`.
      clip: the input ``map_fn`` is given.
      map_fn: ``map_fn(model, clip) -> [batch, time, h, w]`` (or ``[time, h, w]``),
        or a mapping from a label to such maps, to check several map types
        with one model run per stage.
      stages: stop after these groups (default: every group of
        :func:`randomization_stages`); they are still randomized in cascade order.
      seed: permutation seed.
      onset: first decidable frame, for the ``after onset`` averages.

    Returns:
      A :class:`Randomization`, or ``{label: Randomization}`` when ``map_fn``
      returns a mapping.
    """
    groups = randomization_stages(model)
    if stages is not None:
        wanted = [stages] if isinstance(stages, str) else list(stages)
        unknown = [s for s in wanted if s not in groups]
        if unknown:
            raise VizAttnError(f"unknown stage {unknown[0]!r}; the model has {', '.join(groups)}.")
        last = max(list(groups).index(s) for s in wanted)
        names = list(groups)[: last + 1]
    else:
        names = list(groups)
    variables = [v for k in groups for v in groups[k]]
    saved = [v.numpy() for v in variables]
    rng = np.random.default_rng(seed)
    first = map_fn(model, clip)
    several = isinstance(first, Mapping)
    reference = {k: _as_maps(v) for k, v in (first.items() if several else [("", first)])}
    out: dict[str, list[Score]] = {k: [] for k in reference}
    try:
        for name in names:
            for v in groups[name]:
                value = v.numpy()
                v.assign(rng.permutation(value.ravel()).reshape(value.shape))
            maps = map_fn(model, clip)
            for key, ref in reference.items():
                now = maps[key] if several else maps
                after = _after(onset, *ref.shape[:2])
                out[key].append(Score(spearman(ref, now), after))
    finally:
        for v, value in zip(variables, saved, strict=True):
            v.assign(value)
    results = {k: Randomization(stages=list(names), correlations=c) for k, c in out.items()}
    return results if several else results[""]
