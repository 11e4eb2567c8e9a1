"""Paper figures: what SimAM, TAdaConv and the causal masks do, as vector graphics.

Every function returns a :class:`matplotlib.figure.Figure` made without
``pyplot`` (no global figure registry, no backend switch, nothing left open),
drawn in one consistent style: 8 pt text, thin lines, colour-blind-safe
colormaps (``inferno``/``viridis``/``cividis``, ``PuOr`` for values around 1) and
the Okabe-Ito palette for lines, sized for a one-column (3.3 in) or two-column
(6.9 in) paper. :func:`save` writes ``.pdf``, ``.svg`` or ``.png`` atomically and
reproducibly (no timestamps, fixed SVG ids), so the same figure gives the same
bytes.

>>> import numpy as np
>>> fig = frame_strip(np.zeros((4, 32, 32, 3), np.uint8), np.random.rand(4, 4, 4))
>>> save(fig, "strip.pdf")                                   # doctest: +SKIP
PosixPath('strip.pdf')

Inputs come straight from vizattn: :meth:`vizattn.Cache.frame_maps` maps,
a :class:`vizattn.Cache` and a ``names`` selection (a name such as ``"block3"``,
a list, or a predicate on hook names, as everywhere: :mod:`vizattn.names`) for
:func:`layer_grid`, :func:`energy_histogram`, :func:`tada_alpha`, :func:`se_gates`,
a :class:`vizattn.CausalReport` ``matrix`` for :func:`dependency_matrix` and
:func:`compare_causality`, and a stream :class:`vizattn.Cache` or
:func:`vizattn.predict_stream` logits for :func:`prediction_timeline`.

In a notebook, show a figure with ``display(fig)`` (after ``%matplotlib inline``).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from vizattn.cache import LOGITS_NAME, Cache, resolve_normalize
from vizattn.errors import VizAttnError
from vizattn.labels import softmax
from vizattn.names import NameFilter

__all__ = [
    "ONE_COLUMN",
    "PALETTE",
    "STYLE",
    "TWO_COLUMN",
    "compare_causality",
    "deletion_insertion_curves",
    "dependency_matrix",
    "energy_histogram",
    "frame_strip",
    "layer_grid",
    "metric_bars",
    "paper_style",
    "prediction_timeline",
    "randomization_correlations",
    "save",
    "se_gates",
    "tada_alpha",
]

#: Width in inches of a one-column figure (most two-column paper templates).
ONE_COLUMN = 3.3
#: Width in inches of a figure spanning both columns.
TWO_COLUMN = 6.9

#: Okabe-Ito colours (safe for the common colour-vision deficiencies), for lines;
#: its yellow, faint on white, comes last.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

#: Line styles and markers that tell apart lines sharing a colour (over 8 series).
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")

#: Matplotlib settings applied while a figure is drawn and saved.
STYLE: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 9,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    "legend.frameon": False,
    "image.interpolation": "nearest",
    "hatch.linewidth": 0.5,
    "pdf.fonttype": 42,  # TrueType: editable text, accepted by paper submission systems
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "vizattn",  # fixed ids: the same figure gives the same SVG bytes
    "savefig.dpi": 300,
}

_FORMATS = {".pdf": "pdf", ".svg": "svg", ".png": "png"}
_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None, "Creator": "vizattn"},
    "svg": {"Date": None, "Creator": "vizattn"},
    "png": {"Software": "vizattn"},
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context manager applying :data:`STYLE` (restored on exit).

    >>> with paper_style():
    ...     fig = Figure(figsize=(ONE_COLUMN, 2))
    """
    with mpl.rc_context(STYLE):
        yield


def _width(width: float | str) -> float:
    if width in ("one", "single"):
        return ONE_COLUMN
    if width in ("two", "double"):
        return TWO_COLUMN
    try:
        value = float(width)
    except (TypeError, ValueError):
        raise VizAttnError(
            f"width must be 'one', 'two' or inches, got {width!r}; pass e.g. width='two'."
        ) from None
    if not value > 0:
        raise VizAttnError(f"width must be positive inches, got {width!r}.")
    return value


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    return fig


def _finish(fig: Figure) -> Figure:
    """Remembers where the axes start, so every :func:`save` lays out from there."""
    fig._vizattn_start = [  # type: ignore[attr-defined]
        (ax, ax.get_position(original=True).bounds, ax.get_position().bounds) for ax in fig.axes
    ]
    return fig


def _image_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _resize(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from vizattn.overlay import resize_map

    return resize_map(maps, size)


def _frame_label(t: int, times: Sequence[float] | None) -> str:
    if times is None:
        return f"t = {t}"
    return f"{float(times[t]):.2f} s"


# -- frames and maps -----------------------------------------------------------------


def frame_strip(
    frames: Any,
    maps: Any = None,
    *,
    times: Sequence[float] | None = None,
    every: int = 1,
    colormap: str = "inferno",
    alpha: float = 0.5,
    title: str | None = None,
    width: float | str = "two",
    colorbar: bool = True,
) -> Figure:
    """A row of frames with their attention maps overlaid.

    Args:
      frames: RGB ``[T, H, W, 3]`` (or a ``[1, T, H, W, 3]`` clip), uint8 or
        float in [0, 1].
      maps: ``[T, h, w]`` floats in ``[0, 1]`` (bilinearly upsampled to the
        frame size), or ``None`` for the frames alone.
      times: seconds of each of the ``T`` frames, used as labels (default: the
        frame index ``t``).
      every: show every ``every``-th frame.
      colormap: colormap of the maps.
      alpha: opacity of the maps.
      title: figure title.
      width: ``"one"``, ``"two"`` (columns) or inches.
      colorbar: add a colour bar (when ``maps`` is given).

    Returns:
      The figure: one axes per shown frame, plus the colour bar's.

    >>> import numpy as np
    >>> fig = frame_strip(np.zeros((8, 32, 48, 3), np.uint8), np.random.rand(8, 4, 6), every=2)
    >>> len(fig.axes)   # 4 frames + colour bar
    5
    """
    from vizattn.overlay import as_frames

    frames = as_frames(frames)
    count, height, w_px = frames.shape[:3]
    if maps is not None:
        maps = np.asarray(maps, np.float32)
        if maps.ndim != 3 or maps.shape[0] != count:
            raise VizAttnError(
                f"maps must be [T, h, w] with T = {count} (one per frame), got "
                f"{list(maps.shape)}; pick one batch item, e.g. cache.frame_maps(...)[0]."
            )
    if times is not None and len(times) != count:
        raise VizAttnError(
            f"times has {len(times)} entries for {count} frames; pass one per frame."
        )
    if int(every) < 1:
        raise VizAttnError(f"every must be >= 1, got {every!r}.")
    shown = list(range(0, count, int(every)))
    with paper_style():
        fig_w = _width(width)
        bar = maps is not None and colorbar
        cols = len(shown)
        panel = (fig_w - (0.45 if bar else 0.05)) / cols
        fig_h = panel * height / w_px + 0.22 + (0.2 if title else 0.0)
        fig = _figure(fig_w, fig_h)
        axes = fig.subplots(1, cols, squeeze=False)[0]
        image = None
        for ax, t in zip(axes, shown, strict=True):
            ax.imshow(frames[t], interpolation="antialiased")
            if maps is not None:
                heat = _resize(maps[t], (height, w_px))
                image = ax.imshow(
                    heat,
                    cmap=colormap,
                    vmin=0.0,
                    vmax=1.0,
                    alpha=alpha,
                    interpolation="antialiased",
                )
            _image_axes(ax)
            ax.set_title(_frame_label(t, times), pad=2)
        if bar and image is not None:
            cb = fig.colorbar(image, ax=list(axes), fraction=0.05, pad=0.01, aspect=12)
            cb.solids.set(alpha=1.0)
            cb.outline.set_linewidth(0.4)
            cb.set_ticks([0, 0.5, 1])
        if title:
            fig.suptitle(title)
    return _finish(fig)


def layer_grid(
    cache: Any,
    names: NameFilter,
    kind: str = "simam",
    *,
    frames: Sequence[int] | None = None,
    batch: int = 0,
    video: Any = None,
    normalize: str = "auto",
    colormap: str = "inferno",
    alpha: float = 0.6,
    width: float | str = "two",
) -> Figure:
    """Maps of several layers over time: rows are layers, columns are frames.

    Args:
      cache: a :class:`vizattn.Cache` holding ``kind`` for the layers (maps
        ``[batch, time, height, width]``, or with channels, reduced by their mean).
      names: the rows, in the one form of every ``names=``
        (:mod:`vizattn.names`): an endpoint (``"block3_layer1"``) or a block
        (``"block3"``, its layers averaged) for one row, a list of them for one
        row each, or a predicate on hook names (``"{endpoint}/{kind}"``) for one
        row per endpoint it selects.
      kind: a map kind (``simam``, ``simam_energy``, ``simam_input``,
        ``activation``, ``gradcam``, ``grad_x_act``).
      frames: frame indices to show (default: all, at most 8 evenly spaced).
      batch: which batch item.
      video: optional ``uint8 [T, H, W, 3]`` frames to draw the maps over.
      normalize: ``"clip"``, ``"frame"`` (see :meth:`vizattn.Cache.frame_maps`) or
        ``"auto"``: per frame for gradient kinds, else per clip
        (:func:`vizattn.cache.default_normalize`), as render and the widgets draw.
      colormap: colormap of the maps.
      alpha: opacity of the maps over ``video``.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: ``rows * len(frames)`` axes plus a colour bar.

    Raises:
      VizAttnError: a name selects nothing (with a "did you mean" hint), or a
        predicate selects no ``kind`` hook.

    >>> fig = layer_grid(cache, ["block1", "block3"], frames=[0, 3, 7])   # doctest: +SKIP
    >>> len(fig.axes)   # 2 x 3 maps + colour bar                         # doctest: +SKIP
    7
    >>> fig = layer_grid(cache, lambda n: n.startswith("block3"))         # doctest: +SKIP
    """
    normalize = resolve_normalize(normalize, [kind])
    layers = _groups(cache, names, kind)
    maps = [np.asarray(cache.frame_maps(layer, kind, normalize=normalize)) for layer in layers]
    n_batch, count = maps[0].shape[:2]
    if not 0 <= int(batch) < n_batch:
        raise VizAttnError(f"batch {batch} is out of range; the cache holds {n_batch} item(s).")
    if frames is None:
        frames = sorted({int(round(x)) for x in np.linspace(0, count - 1, min(count, 8))})
    frames = [int(t) for t in frames]
    bad = [t for t in frames if not 0 <= t < count]
    if bad or not frames:
        raise VizAttnError(
            f"frames {bad or frames} out of range; the cache has {count} frames (0..{count - 1})."
        )
    if video is not None:
        video = np.asarray(video)
        if video.ndim != 4 or video.shape[0] != count or video.dtype != np.uint8:
            raise VizAttnError(
                f"video must be uint8 [T, H, W, 3] with T = {count}, got {video.dtype} "
                f"{list(video.shape)}."
            )
    aspect = (
        (video.shape[1] / video.shape[2])
        if video is not None
        else (maps[0].shape[2] / maps[0].shape[3])
    )
    with paper_style():
        fig_w = _width(width)
        panel = (fig_w - 1.0) / len(frames)
        fig = _figure(fig_w, panel * aspect * len(layers) + 0.3)
        axes = fig.subplots(len(layers), len(frames), squeeze=False)
        image = None
        for r, (layer, m) in enumerate(zip(layers, maps, strict=True)):
            for c, t in enumerate(frames):
                ax = axes[r, c]
                heat = m[batch, t]
                if video is not None:
                    ax.imshow(video[t], interpolation="antialiased")
                    heat = _resize(heat, video.shape[1:3])
                    image = ax.imshow(
                        heat,
                        cmap=colormap,
                        vmin=0,
                        vmax=1,
                        alpha=alpha,
                        interpolation="antialiased",
                    )
                else:
                    image = ax.imshow(heat, cmap=colormap, vmin=0, vmax=1)
                _image_axes(ax)
                if r == 0:
                    ax.set_title(f"t = {t}", pad=2)
                if c == 0:
                    ax.set_ylabel(layer, rotation=0, ha="right", va="center", labelpad=4)
        cb = fig.colorbar(image, ax=axes.ravel().tolist(), fraction=0.04, pad=0.01, aspect=15)
        cb.solids.set(alpha=1.0)
        cb.outline.set_linewidth(0.4)
        cb.set_label(f"{kind} (normalized per {normalize})")
    return _finish(fig)


# -- causality -----------------------------------------------------------------------


def _check_matrix(matrix: Any) -> np.ndarray:
    m = np.asarray(getattr(matrix, "matrix", matrix), np.float64)
    if m.ndim != 2 or min(m.shape) < 1:
        raise VizAttnError(
            f"a dependency matrix is [T_out, T_in], got shape {list(m.shape)}; "
            "pass check_causal(...).matrix."
        )
    return m


def _tol(matrix: Any, tol: float | None) -> float:
    if tol is None:
        tol = getattr(matrix, "tol", 1e-6)
    try:
        value = float(tol)
    except (TypeError, ValueError):
        value = float("nan")
    if not value >= 0:
        raise VizAttnError(f"tol must be a number >= 0, got {tol!r}.")
    return value


def _limits(t_out: int, t_in: int) -> np.ndarray:
    if t_out == t_in:
        return np.arange(t_out)
    return np.array([(i + 1) * t_in // t_out - 1 for i in range(t_out)])


def _future_outline(t_out: int, t_in: int) -> np.ndarray | None:
    """Staircase polygon around the cells ``t_in`` > allowed (the future)."""
    limits = _limits(t_out, t_in)
    points = []
    for i, last in enumerate(limits):
        x = last + 1 - 0.5
        points += [(x, i - 0.5), (x, i + 0.5)]
    if all(last + 1 >= t_in for last in limits):
        return None
    points += [(t_in - 0.5, t_out - 0.5), (t_in - 0.5, -0.5)]
    return np.array(points)


def _norm(matrices: Sequence[np.ndarray], tol: float, log: bool):
    top = max(float(m.max()) for m in matrices)
    if log:
        positive = [m[m > max(tol, 0)] for m in matrices]
        positive = np.concatenate([p.ravel() for p in positive]) if positive else np.array([])
        low = float(positive.min()) if positive.size else 1e-12
        low = max(low, tol if tol > 0 else low, top * 1e-8 if top > 0 else 1e-12)
        if not top > low:
            top = low * 10
        return LogNorm(vmin=low, vmax=top, clip=True)
    return Normalize(vmin=0.0, vmax=top if top > 0 else 1.0)


def _draw_dependency(ax, m: np.ndarray, norm, tol: float, cmap: str, title: str | None):
    t_out, t_in = m.shape
    shown = np.where(m > tol, m, np.nan) if isinstance(norm, LogNorm) else m
    colours = mpl.colormaps[cmap].with_extremes(bad="white")
    image = ax.imshow(shown, cmap=colours, norm=norm, origin="upper", aspect="equal")
    outline = _future_outline(t_out, t_in)
    if outline is not None:
        ax.add_patch(
            Polygon(
                outline,
                closed=True,
                fill=False,
                hatch="////",
                edgecolor="#56B4E9",
                linewidth=0.8,
            )
        )
    limits = _limits(t_out, t_in)
    leaks = [(i, j) for i in range(t_out) for j in range(limits[i] + 1, t_in) if m[i, j] > tol]
    size = min(4.0, 48.0 / max(t_out, t_in))
    for i, j in leaks:
        ax.plot(j, i, marker="x", color="#D55E00", markersize=size, markeredgewidth=size / 4)
    ax.set_xlabel("input frame $t_{in}$")
    ax.set_ylabel("output frame $t_{out}$")
    step = max(1, math.ceil(max(t_out, t_in) / 8))
    ax.set_xticks(range(0, t_in, step))
    ax.set_yticks(range(0, t_out, step))
    ax.tick_params(length=1.5, pad=1)
    for spine in ax.spines.values():
        spine.set_visible(True)
    verdict = f"leaks ({len(leaks)})" if leaks else "causal"
    ax.set_title(f"{title}: {verdict}" if title else verdict, pad=3)
    return image


def dependency_matrix(
    matrix: Any,
    *,
    title: str | None = None,
    tol: float | None = None,
    log: bool = False,
    colormap: str = "viridis",
    width: float | str = "one",
) -> Figure:
    """Heatmap of a causality matrix, the future (strictly upper) triangle hatched.

    ``matrix[t_out, t_in]`` is how much input frame ``t_in`` moves output frame
    ``t_out`` (``check_causal(...).matrix``). A causal module has nothing inside
    the hatched triangle; entries there above ``tol`` are marked with a cross
    and counted in the title.

    Args:
      matrix: ``[T_out, T_in]`` array (or a :class:`vizattn.CausalReport`).
      title: panel title (the verdict is appended).
      tol: values above ``tol`` count as dependencies; default the report's
        ``tol`` (or ``1e-6`` for a bare array).
      log: logarithmic colour scale (values ``<= tol`` are left white).
      colormap: colormap of the values.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: the heatmap's axes and the colour bar's.

    >>> fig = dependency_matrix(np.tril(np.ones((6, 6))), title="cumulative")
    >>> len(fig.axes)
    2
    """
    m = _check_matrix(matrix)
    tol = _tol(matrix, tol)
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.8)
        ax = fig.subplots()
        image = _draw_dependency(ax, m, _norm([m], tol, log), tol, colormap, title)
        cb = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        cb.outline.set_linewidth(0.4)
        cb.set_label("influence (max |change|)")
    return _finish(fig)


def compare_causality(
    matrices: Mapping[str, Any],
    *,
    tol: float | None = None,
    log: bool = True,
    colormap: str = "viridis",
    width: float | str = "two",
) -> Figure:
    """Dependency matrices side by side on one colour scale (e.g. one per SimAM mode).

    Args:
      matrices: ``{label: matrix}`` (matrices or :class:`vizattn.CausalReport`).
      tol: values above ``tol`` count as dependencies; default each report's
        ``tol`` (``1e-6`` for bare arrays).
      log: logarithmic colour scale (default: influences span many decades).
      colormap: colormap of the values.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: one axes per matrix plus a shared colour bar.

    >>> fig = compare_causality({"frame": np.eye(4), "clip": np.ones((4, 4))})
    >>> len(fig.axes)
    3
    """
    if not matrices:
        raise VizAttnError("compare_causality needs at least one {label: matrix}.")
    ms = {str(k): _check_matrix(v) for k, v in matrices.items()}
    tols = {str(k): _tol(v, tol) for k, v in matrices.items()}
    with paper_style():
        w = _width(width)
        n = len(ms)
        panel = (w - 0.6) / n
        fig = _figure(w, panel + 0.45)
        axes = fig.subplots(1, n, squeeze=False)[0]
        norm = _norm(list(ms.values()), min(tols.values()), log)
        image = None
        for ax, (label, m) in zip(axes, ms.items(), strict=True):
            image = _draw_dependency(ax, m, norm, tols[label], colormap, label)
            if ax is not axes[0]:
                ax.set_ylabel("")
        cb = fig.colorbar(image, ax=list(axes), fraction=0.04, pad=0.01, aspect=15)
        cb.outline.set_linewidth(0.4)
        cb.set_label("influence")
    return _finish(fig)


# -- cache internals -----------------------------------------------------------------


def _shown(names: Any) -> str:
    return "the predicate" if callable(names) else repr(names)


def _hooks(cache: Any, names: Any, kind: str) -> list[str]:
    """Hook names of ``kind`` that ``names`` selects (the one resolver, :mod:`vizattn.names`).

    Raises:
      VizAttnError: the cache holds no ``kind``, a name selects nothing ("did you
        mean"), or a predicate selects no hook.
    """
    from vizattn.cache import kind_of
    from vizattn.names import resolve

    held = [n for n in cache if kind_of(n) == kind]
    if not held:
        raise VizAttnError(
            f"this cache holds no {kind!r}; capture with kinds=[{kind!r}] to plot it."
        )
    return resolve(names, held, what="layer", sort=True, required=True)


def _groups(cache: Any, names: Any, kind: str) -> list[str]:
    """What ``names`` asks to draw one row or line each for: every string of a string or
    list (a block pools its layers), or every endpoint a predicate selects."""
    from vizattn.names import name_list

    if callable(names):
        return list(dict.fromkeys(n.rsplit("/", 1)[0] for n in _hooks(cache, names, kind)))
    items = name_list(names)
    for item in items:
        _hooks(cache, item, kind)  # each must select something: the "did you mean" error
    return items


def _one_hook(cache: Any, names: Any, kind: str) -> tuple[str, np.ndarray]:
    """The endpoint ``names`` selects and its ``kind`` array; an error unless exactly one."""
    hooks = _hooks(cache, names, kind)
    if len(hooks) > 1:
        more = "..." if len(hooks) > 4 else ""
        raise VizAttnError(
            f"{_shown(names)} selects {len(hooks)} {kind!r} hooks ({', '.join(hooks[:4])}{more}); "
            "pass one endpoint, e.g. 'block3_layer1'."
        )
    return hooks[0].rsplit("/", 1)[0], np.asarray(cache[hooks[0]], np.float64)


def energy_histogram(
    cache: Any,
    names: NameFilter,
    *,
    kind: str = "simam_energy",
    bins: int = 60,
    width: float | str = "one",
) -> Figure:
    """Distributions of SimAM energies ``e*`` per layer, on a logarithmic x axis.

    ``e*`` lies in ``(0, 2]``: 2 for a neuron at its channel's mean (attention
    ``sigmoid(0.5)``), small for distinctive neurons (attention near 1). A layer
    whose mass sits near 2 attends to nothing in particular.

    Args:
      cache: a :class:`vizattn.Cache` holding ``kind`` (any shape, e.g.
        ``[batch, time, height, width, channels]``; every value is one neuron).
      names: the lines, in the one form of every ``names=``
        (:mod:`vizattn.names`): an endpoint or a block (which pools all its
        layers) for one line, a list of them for one line each, or a predicate on
        hook names (``"{endpoint}/{kind}"``) for one line per endpoint it selects.
      kind: ``"simam_energy"`` (or another positive spatial kind).
      bins: number of logarithmic bins.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure (one axes; one step line per layer).

    Raises:
      VizAttnError: a name selects nothing (with a "did you mean" hint), or a
        predicate selects no ``kind`` hook.

    >>> fig = energy_histogram(cache, ["block1", "block3"])   # doctest: +SKIP
    """
    values = {}
    for layer in _groups(cache, names, kind):
        v = np.concatenate(
            [np.asarray(cache[n], np.float64).ravel() for n in _hooks(cache, layer, kind)]
        )
        v = v[np.isfinite(v) & (v > 0)]
        if v.size == 0:
            raise VizAttnError(f"layer {layer!r} has no positive {kind!r} values to histogram.")
        values[layer] = v
    low = min(float(v.min()) for v in values.values())
    high = max(float(v.max()) for v in values.values())
    if not high > low:
        low, high = low / 2, high * 2
    edges = np.geomspace(low, high, int(bins) + 1)
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.62)
        ax = fig.subplots()
        for layer, v in values.items():
            counts, _ = np.histogram(v, bins=edges)
            ax.stairs(counts / v.size, edges, label=layer, linewidth=1.0)
        ax.set_xscale("log")
        _log_ticks(ax, low, high)
        if kind == "simam_energy" and low <= 2.0 <= high * 1.01:
            ax.axvline(2.0, color="0.5", linewidth=0.6, linestyle="--")
            # Above the axes, ending at the line: the mass piles up at 2, so any
            # place inside would sit on the bars.
            ax.annotate(
                "$e^*=2$: at the mean",
                (2.0, 1.0),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="bottom",
                fontsize=6,
                color="0.4",
                xytext=(0, 1.5),
                textcoords="offset points",
            )
        ax.set_xlabel("energy $e^*$" if kind == "simam_energy" else kind)
        ax.set_ylabel("fraction of neurons")
        ax.legend(loc="upper left")
    return _finish(fig)


def _log_ticks(ax, low: float, high: float) -> None:
    """Plain labels (``0.2``, ``1``, ``2``) on a log x axis, few enough not to overlap."""
    decades = math.log10(high / low) if high > low > 0 else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 1.5 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def tada_alpha(
    cache: Any,
    names: NameFilter,
    *,
    channels: int = 8,
    batch: int = 0,
    width: float | str = "two",
) -> Figure:
    """TAdaConv calibration ``alpha_t`` over time: a few channels as lines, all as a heatmap.

    ``alpha = 1`` is the identity (TAdaConv at initialization); the heatmap
    is centred there (``PuOr``: orange below 1, purple above).

    Args:
      cache: a :class:`vizattn.Cache` holding ``tada`` (``[batch, time, channels]``).
      names: what selects exactly one endpoint holding ``tada``, in the one form
        of every ``names=`` (:mod:`vizattn.names`): ``"block3_layer1"``, a block
        with one such layer, a list, or a predicate on hook names.
      channels: how many channels to draw as lines (those varying most over time).
      batch: which batch item.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: lines, heatmap and colour bar (3 axes).

    Raises:
      VizAttnError: ``names`` selects no endpoint holding ``tada`` (a wrong
        name gets a "did you mean" hint), or more than one.

    >>> fig = tada_alpha(cache, "block3_layer1", channels=4)   # doctest: +SKIP
    """
    endpoint, a = _one_hook(cache, names, "tada")
    if a.ndim != 3:
        raise VizAttnError(f"'{endpoint}/tada' has shape {list(a.shape)}; expected [B, T, C].")
    if not 0 <= int(batch) < a.shape[0]:
        raise VizAttnError(f"batch {batch} is out of range; the cache holds {a.shape[0]} item(s).")
    a = a[batch]  # [T, C]
    count, n_channels = a.shape
    spread = a.std(axis=0)
    chosen = np.sort(np.argsort(-spread, kind="stable")[: max(1, min(int(channels), n_channels))])
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.33)
        ax_lines, ax_map = fig.subplots(1, 2, width_ratios=[1, 1.3])
        t = np.arange(count)
        for c in chosen:
            ax_lines.plot(t, a[:, c], marker="o", markersize=2, label=f"c{c}")
        ax_lines.axhline(1.0, color="0.6", linewidth=0.6, linestyle="--")
        ax_lines.set_xlabel("frame $t$")
        ax_lines.set_ylabel(r"$\alpha_t$")
        ax_lines.set_title(f"{endpoint}: {len(chosen)} most varying channels", pad=3)
        if len(chosen) <= 8:
            ax_lines.legend(ncol=2, fontsize=6, handlelength=1.2, columnspacing=0.8)
        dev = float(np.abs(a - 1.0).max())
        dev = dev if dev > 0 else 1e-6
        image = ax_map.imshow(
            a.T,
            aspect="auto",
            cmap="PuOr",
            norm=TwoSlopeNorm(vcenter=1.0, vmin=1.0 - dev, vmax=1.0 + dev),
            origin="lower",
        )
        ax_map.set_xlabel("frame $t$")
        ax_map.set_ylabel("channel")
        ax_map.set_title(r"$\alpha_t$ for all channels ($W_t = \alpha_t W_b$)", pad=3)
        cb = fig.colorbar(image, ax=ax_map, fraction=0.05, pad=0.02)
        cb.outline.set_linewidth(0.4)
    return _finish(fig)


def se_gates(
    cache: Any,
    names: NameFilter,
    *,
    batch: int = 0,
    width: float | str = "one",
) -> Figure:
    """Squeeze-excitation gates over time, ``[channels, time]`` as a heatmap.

    Args:
      cache: a :class:`vizattn.Cache` holding ``se`` (``[batch, time, channels]``).
      names: what selects exactly one endpoint holding ``se``, in the one form of
        every ``names=`` (:mod:`vizattn.names`): ``"block3_layer1"``, a block with
        one such layer, a list, or a predicate on hook names.
      batch: which batch item.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: heatmap and colour bar (2 axes).

    Raises:
      VizAttnError: ``names`` selects no endpoint holding ``se`` (a wrong name
        gets a "did you mean" hint), or more than one.

    >>> fig = se_gates(cache, "block3_layer1")   # doctest: +SKIP
    """
    endpoint, g = _one_hook(cache, names, "se")
    if g.ndim != 3:
        raise VizAttnError(f"'{endpoint}/se' has shape {list(g.shape)}; expected [B, T, C].")
    if not 0 <= int(batch) < g.shape[0]:
        raise VizAttnError(f"batch {batch} is out of range; the cache holds {g.shape[0]} item(s).")
    g = g[batch]
    high = max(1.0, float(g.max()))
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.7)
        ax = fig.subplots()
        image = ax.imshow(g.T, aspect="auto", cmap="cividis", vmin=0.0, vmax=high, origin="lower")
        ax.set_xlabel("frame $t$")
        ax.set_ylabel("channel")
        ax.set_title(f"{endpoint}: squeeze-excitation gates", pad=3)
        cb = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        cb.outline.set_linewidth(0.4)
        cb.set_label("gate")
    return _finish(fig)


# -- predictions ---------------------------------------------------------------------


def _class_names(cache: Any, count: int) -> list[str] | None:
    """The class names a cache's metadata records for its model, if there are ``count``."""
    meta = getattr(cache, "metadata", {}) or {}
    names = (meta.get("model") or {}).get("class_names")
    if names and len(names) == count:
        return [str(n) for n in names]
    return None


def prediction_timeline(
    logits: Any,
    labels: Sequence[str] | None = None,
    *,
    top_k: int = 5,
    fps: float | None = None,
    title: str | None = None,
    width: float | str = "one",
    batch: int = 0,
) -> Figure:
    """Streaming predictions over time: softmax probabilities of the top classes.

    Like the plot of Model Garden's MoViNet streaming tutorial: after each
    frame the stream model predicts from the frames so far; each line is one
    class. The classes shown are the ``top_k`` with the highest probability at
    any step.

    Args:
      logits: ``[T, classes]`` or ``[batch, T, classes]`` (from
        :func:`vizattn.predict_stream`), or a :class:`vizattn.Cache` captured with
        ``stream=True`` and the ``logits`` kind (its ``classifier_head/logits``,
        ``[batch, T, classes]``).
      labels: class names (default: a cache's model's class names, else ``"class i"``).
      top_k: number of classes drawn.
      fps: frames per second, to label the x axis in seconds.
      title: axes title.
      width: ``"one"``, ``"two"`` or inches.
      batch: which batch item of ``[batch, T, classes]`` logits.

    Returns:
      The figure (one axes).

    Raises:
      VizAttnError: a cache without logits, or with one prediction per clip
        (captured without ``stream=True``), or logits of another shape.

    >>> fig = prediction_timeline(np.random.randn(16, 10), [f"c{i}" for i in range(10)], top_k=3)
    >>> len(fig.axes)
    1
    >>> fig = prediction_timeline(vizattn.capture(model, clip, stream=True))  # doctest: +SKIP
    """
    names = None
    if isinstance(logits, Cache):
        logits.probabilities()  # the cache's own error when it holds no logits
        z = np.asarray(logits[LOGITS_NAME], np.float64)
        if z.ndim != 3:
            raise VizAttnError(
                f"this cache holds one prediction per clip (logits {list(z.shape)}); capture "
                "with stream=True for a prediction after every frame."
            )
        names = _class_names(logits, z.shape[-1])
    else:
        z = np.asarray(logits, np.float64)
    if z.ndim == 3:
        if not 0 <= int(batch) < z.shape[0]:
            raise VizAttnError(
                f"batch {batch} is out of range; the logits hold {z.shape[0]} item(s)."
            )
        z = z[int(batch)]
    if z.ndim != 2 or min(z.shape) < 1:
        raise VizAttnError(
            f"logits must be [T, classes] (or [batch, T, classes]), got shape {list(z.shape)}."
        )
    count, n_classes = z.shape
    if labels is None:
        labels = names or [f"class {i}" for i in range(n_classes)]
    if len(labels) != n_classes:
        raise VizAttnError(f"{len(labels)} labels for {n_classes} classes; pass one per class.")
    if int(top_k) < 1:
        raise VizAttnError(f"top_k must be >= 1, got {top_k!r}.")
    p = softmax(z)
    k = min(int(top_k), n_classes)
    best = p.max(axis=0)
    chosen = np.argsort(-best, kind="stable")[:k]
    x = np.arange(count) / float(fps) if fps else np.arange(count)
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.6)
        ax = fig.subplots()
        for c in chosen:
            ax.plot(
                x, p[:, c], label=str(labels[c]), marker="o" if count <= 24 else None, markersize=2
            )
        ax.set_ylim(0, max(0.05, float(p[:, chosen].max()) * 1.08))
        ax.set_xlim(x[0], x[-1] if count > 1 else x[0] + 1)
        ax.set_xlabel("time (s)" if fps else "frame $t$")
        if not fps:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("probability")
        ax.legend(loc="best", fontsize=6)
        if title:
            ax.set_title(title, pad=3)
    return _finish(fig)


# -- saving --------------------------------------------------------------------------


def save(fig: Figure, path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Writes ``fig`` to ``.pdf``, ``.svg`` or ``.png``, atomically and reproducibly.

    The figure is rendered to a temporary file beside ``path`` and renamed
    onto it, so a reader never sees half a file and a failure leaves nothing
    behind. PDF and SVG carry no timestamp and SVG ids are fixed, so saving the
    same figure twice gives the same bytes. Missing parent folders are created.

    Args:
      fig: a figure from this module (or any matplotlib figure).
      path: destination; the extension picks the format.
      dpi: resolution of PNG files and of images embedded in PDF/SVG
        (default 300).

    Returns:
      The destination path.

    Raises:
      VizAttnError: unknown extension, or the folder cannot be written.

    >>> save(dependency_matrix(np.eye(4)), "causal.svg")   # doctest: +SKIP
    PosixPath('causal.svg')
    """
    if not isinstance(fig, Figure):
        raise VizAttnError(f"save needs a matplotlib Figure, got {type(fig).__name__}.")
    path = Path(os.fspath(path))
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VizAttnError(
            f"cannot save a figure as {path.name!r}: unknown extension "
            f"{path.suffix or '(none)'!r}; use .pdf, .svg or .png."
        )
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VizAttnError(
            f"cannot create the folder {os.fspath(folder)!r} ({e.strerror}); pass a writable path."
        ) from None
    from vizattn.files import atomic_path

    try:
        with atomic_path(path, suffix="") as tmp, paper_style(), _settled(fig):
            fig.savefig(
                tmp,
                format=fmt,
                dpi=dpi or STYLE["savefig.dpi"],
                metadata=dict(_METADATA[fmt]),
            )
    except PermissionError as e:
        raise VizAttnError(
            f"cannot write in {os.fspath(folder)!r} ({e.strerror}); pass a writable path."
        ) from None
    return path


@contextlib.contextmanager
def _settled(fig: Figure) -> Iterator[None]:
    """Lays the figure out from its starting positions, then holds that layout while saving.

    Constrained layout starts from the current positions, so two draws of the
    same figure differ by a hair (and SVG clip ids hash exact coordinates).
    Starting every save from the positions the figure was made with, and
    rounding the result, makes every save of the same figure give the same bytes,
    whatever was drawn in between (a notebook display, say).
    """
    engine = fig.get_layout_engine()
    if engine is None:
        yield
        return
    start = getattr(fig, "_vizattn_start", None)
    if start is not None and [a for a, _, _ in start] == list(fig.axes):
        for ax, original, active in start:
            ax._set_position(original, which="original")
            ax._set_position(active, which="active")
    for _ in range(3):
        fig.draw_without_rendering()
    for ax in fig.axes:  # snap away the last bits
        bounds = np.round(np.array(ax.get_position().bounds, np.float64), 6)
        ax._set_position(bounds.tolist(), which="both")
    fig.set_layout_engine("none")
    try:
        yield
    finally:
        fig.set_layout_engine(engine)


# -- explanation quality (vizattn.metrics, vizattn.evaluation) -------------------------


def _onset_of(after: Any) -> int | None:
    if after is None:
        return None
    after = np.asarray(after, bool).ravel()
    return int(np.argmax(after)) if after.any() else None


def deletion_insertion_curves(
    result: Any,
    *,
    fps: float | None = None,
    title: str | None = None,
    width: float | str = "two",
) -> Figure:
    """Temporal deletion and insertion: the target's probability over time, per step.

    Three panels: the probability at every frame with the top share of pixels
    removed (deletion; one line per share, darker = more removed), the same
    with only that share shown (insertion), and the area under each curve per
    frame. A dotted line marks the onset (the first decidable frame) when known.

    Args:
      result: a :class:`vizattn.metrics.DeletionInsertion`.
      fps: frames per second, to label the x axis in seconds.
      title: figure title.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure: three axes plus a colour bar.

    >>> result = metrics.deletion_insertion(model, clip, maps)   # doctest: +SKIP
    >>> fig = deletion_insertion_curves(result)                  # doctest: +SKIP
    """
    try:
        fractions = np.asarray(result.fractions, np.float64)
        deletion = np.asarray(result.deletion, np.float64)
        insertion = np.asarray(result.insertion, np.float64)
    except AttributeError:
        raise VizAttnError(
            f"deletion_insertion_curves needs a vizattn.metrics.DeletionInsertion, got "
            f"{type(result).__name__}."
        ) from None
    if deletion.ndim != 2 or deletion.shape != insertion.shape or len(fractions) != len(deletion):
        raise VizAttnError(
            f"curves must be [steps + 1, time] with one fraction per step, got "
            f"{list(deletion.shape)}, {list(insertion.shape)} and {len(fractions)} fractions."
        )
    count = deletion.shape[1]
    x = np.arange(count) / float(fps) if fps else np.arange(count)
    onset = _onset_of(getattr(result, "after", None))
    cmap = mpl.colormaps["viridis_r"]
    norm = Normalize(0.0, 1.0)
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.32 + (0.2 if title else 0.0))
        axes = fig.subplots(1, 3)
        for ax, curves, name in (
            (axes[0], deletion, "deletion: top share removed"),
            (axes[1], insertion, "insertion: only top share shown"),
        ):
            for k, share in enumerate(fractions):
                ax.plot(x, curves[k], color=cmap(norm(share)), lw=0.8)
            ax.set_ylim(0, 1.02)
            ax.set_title(name, pad=3)
            ax.set_ylabel(f"p(class {getattr(result, 'target', '?')})")
        dauc = _trapezoid_rows(deletion, fractions)
        iauc = _trapezoid_rows(insertion, fractions)
        axes[2].plot(x, dauc, label="deletion (lower is better)", color=PALETTE[3])
        axes[2].plot(x, iauc, label="insertion (higher is better)", color=PALETTE[0])
        axes[2].set_ylim(0, 1.02)
        axes[2].set_title("area under the curve", pad=3)
        axes[2].legend(loc="best", fontsize=6)
        for ax in axes:
            ax.set_xlabel("time (s)" if fps else "frame $t$")
            if count > 1:
                ax.set_xlim(x[0], x[-1])
            if onset is not None:
                ax.axvline(x[onset], color="0.4", ls=":", lw=0.8)
        bar = fig.colorbar(
            mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=list(axes[:2]), fraction=0.04, pad=0.01
        )
        bar.outline.set_linewidth(0.4)
        bar.set_label("share of pixels")
        if title:
            fig.suptitle(title)
    return _finish(fig)


def _trapezoid_rows(curves: np.ndarray, x: np.ndarray) -> np.ndarray:
    return ((curves[1:] + curves[:-1]) * 0.5 * np.diff(x)[:, None]).sum(axis=0)


def _table_rows(table: Any) -> list[dict]:
    """``[{"kind", "block", "source", "metrics": {name: {"all", "after_onset"}}}]``."""
    data = table.to_dict() if hasattr(table, "to_dict") else table
    try:
        rows = list(data["rows"])
        for r in rows:
            r["kind"], r["source"], r["metrics"]  # noqa: B018 - shape check
    except (KeyError, TypeError):
        raise VizAttnError(
            "metric_bars needs a vizattn.evaluation.ExplanationTable or its to_dict()."
        ) from None
    return rows


def metric_bars(
    table: Any,
    metric: str = "pointing_game",
    *,
    frames: str = "primary",
    kinds: Sequence[str] | None = None,
    title: str | None = None,
    width: float | str = "two",
) -> Figure:
    """One metric for every map kind per block, with each block's oracle and the baselines.

    Bars are grouped by block (one colour per map kind); a black bar-wide tick
    marks the block's oracle (the best a map on that grid can do), drawn over
    anything at the same height, and the baselines (centre, noise, frame
    difference) are grey horizontal lines, each ending in its own marker right
    of the bars (so a baseline at 0, on the x axis, still shows).

    Args:
      table: a :class:`vizattn.evaluation.ExplanationTable` (or its ``to_dict()``).
      metric: ``"pointing_game"``, ``"energy_inside"``, ``"auroc"``,
        ``"deletion_auc"`` or ``"insertion_auc"``.
      frames: ``"all"``, ``"after_onset"`` or ``"primary"`` (after the onset
        when the table has one).
      kinds: map kinds to show (default: all in the table).
      title: axes title (default: the metric and frames).
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure (one axes).

    >>> fig = metric_bars(table, "auroc")   # doctest: +SKIP
    """
    rows = _table_rows(table)
    if frames not in ("all", "after_onset", "primary"):
        raise VizAttnError(f"frames must be 'all', 'after_onset' or 'primary', got {frames!r}.")
    if not any(metric in r["metrics"] for r in rows):
        held = sorted({m for r in rows for m in r["metrics"]})
        raise VizAttnError(f"the table has no {metric!r}; it has {', '.join(held)}.")

    def value(r: dict) -> float:
        s = r["metrics"].get(metric) or {}
        v = s.get("after_onset") if frames != "all" else None
        if v is None and frames != "after_onset":
            v = s.get("all")
        return float("nan") if v is None else float(v)

    uses_onset = frames == "after_onset" or (
        frames == "primary"
        and any((r["metrics"].get(metric) or {}).get("after_onset") is not None for r in rows)
    )
    model_rows = [r for r in rows if r["source"] == "model"]
    shown = list(dict.fromkeys(r["kind"] for r in model_rows))
    if kinds is not None:
        shown = [k for k in shown if k in kinds]
    blocks = list(dict.fromkeys(r["block"] for r in rows if r["source"] in ("model", "oracle")))
    baselines = [r for r in rows if r["source"] == "baseline"]
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.42)
        ax = fig.subplots()
        n = max(len(shown), 1)
        bar_w = 0.8 / n
        for i, kind in enumerate(shown):
            heights = []
            for block in blocks:
                match = [r for r in model_rows if r["kind"] == kind and r["block"] == block]
                heights.append(value(match[0]) if match else float("nan"))
            xs = np.arange(len(blocks)) - 0.4 + bar_w * (i + 0.5)
            ax.bar(xs, heights, width=bar_w, color=PALETTE[i % len(PALETTE)], label=kind)
        # The oracle ticks sit on top, with a white edge, so a baseline line at the
        # same height (frame difference often reaches the oracle) passes visibly behind.
        halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
        for j, block in enumerate(blocks):
            match = [r for r in rows if r["source"] == "oracle" and r["block"] == block]
            if match and np.isfinite(value(match[0])):
                ax.plot(
                    [j - 0.42, j + 0.42],
                    [value(match[0])] * 2,
                    color="black",
                    lw=1.4,
                    solid_capstyle="butt",
                    path_effects=halo,
                    zorder=4,
                    label="oracle" if j == 0 else None,
                )
        # Each baseline: a line across the bars and a marker in a strip right of
        # them, drawn over the frame, so a baseline at 0 (on the x axis) still shows.
        styles = ("--", ":", "-.")
        end = len(blocks) - 0.5 + 0.15
        for k, r in enumerate(baselines):
            v = value(r)
            if np.isfinite(v):
                ax.plot(
                    [-0.5, end],
                    [v, v],
                    color="0.45",
                    ls=styles[k % len(styles)],
                    lw=0.8,
                    marker=_MARKERS[k % len(_MARKERS)],
                    markevery=[1],
                    markersize=3.5,
                    markerfacecolor="white",
                    markeredgewidth=0.8,
                    clip_on=False,
                    zorder=3,
                    label=r["kind"].replace("_", " "),
                )
        ax.set_xlim(-0.5, len(blocks) - 0.5 + 0.3)
        ax.set_xticks(np.arange(len(blocks)), blocks)
        ax.set_ylabel(metric.replace("_", " "))
        if metric in ("pointing_game", "energy_inside", "auroc"):
            ax.set_ylim(0, 1.05)
        when = "after onset" if uses_onset else "all frames"
        ax.set_title(title or f"{metric.replace('_', ' ')} ({when})", pad=3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6)
    return _finish(fig)


def randomization_correlations(
    results: Any,
    *,
    title: str | None = None,
    width: float | str = "one",
) -> Figure:
    """The sanity check: rank correlation with the trained maps as layers are randomized.

    x runs through the cascade (``trained``, then the head, the last block,
    ... the stem, each randomized on top of the previous); y is the mean
    Spearman correlation between the maps then and the trained model's maps.
    A map that explains the model drops towards 0; one that stays near 1 does
    not depend on what the model learned.

    Args:
      results: a :class:`vizattn.metrics.Randomization`, or a mapping from a
        label (``"gradcam block3"``) to one.
      title: axes title.
      width: ``"one"``, ``"two"`` or inches.

    Returns:
      The figure (one axes).

    >>> fig = randomization_correlations({"gradcam": r1, "frame difference": r2})  # doctest: +SKIP
    """
    if not isinstance(results, Mapping):
        results = {"map": results}
    if not results:
        raise VizAttnError("randomization_correlations needs at least one result.")
    series = {}
    for label, r in results.items():
        try:
            stages = list(r.stages)
            values = np.asarray(r.mean, np.float64)
        except AttributeError:
            raise VizAttnError(
                f"{label!r} is a {type(r).__name__}; pass vizattn.metrics.Randomization results."
            ) from None
        series[str(label)] = (stages, values)
    stages = max((s for s, _ in series.values()), key=len)
    ticks = ["trained", *stages]
    with paper_style():
        w = _width(width)
        fig = _figure(w, w * 0.7)
        ax = fig.subplots()
        for i, (label, (s, v)) in enumerate(series.items()):
            # Past the palette's 8 colours, the line style and marker tell lines apart.
            cycle = i // len(PALETTE)
            ax.plot(
                np.arange(len(s) + 1),
                np.concatenate([[1.0], v]),
                marker=_MARKERS[cycle % len(_MARKERS)],
                linestyle=_LINE_STYLES[cycle % len(_LINE_STYLES)],
                markersize=2.5,
                color=PALETTE[i % len(PALETTE)],
                label=label,
            )
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.set_xticks(np.arange(len(ticks)), ticks, rotation=45, ha="right")
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("randomized down to")
        ax.set_ylabel("Spearman $\\rho$ with trained maps")
        ax.legend(loc="best", fontsize=6)
        if title:
            ax.set_title(title, pad=3)
    return _finish(fig)
