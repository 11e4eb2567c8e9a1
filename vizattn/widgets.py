"""Interactive explorers for any model, in any notebook: ``vizattn.widgets``.

Every function here takes what vizattn computed (a :class:`vizattn.Cache`,
frames, masks, :class:`vizattn.CausalReport` s or logits) and returns an
ipywidget. Show it by leaving it as the last expression of a cell, or with
``display(...)``::

    import vizattn
    model = vizattn.load_model()                        # or your own build_movinet(...)
    vizattn.widgets.overlay_explorer(vizattn.capture(model, clip), clip)

=========================== ==========================================================
function                    what it shows
=========================== ==========================================================
:func:`overlay_explorer`    maps over the video: frame slider with Play, layer, kind,
                            alpha, optional ground-truth panel, colour bar
:func:`energy_explorer`     the SimAM math on real inputs: e*, attention, lambda
:func:`tada_explorer`       TAdaConv alpha (time x channels), v2 attention per head
:func:`states_explorer`     stream states: names, shapes, bytes, evolution per frame
:func:`dependency_explorer` :func:`vizattn.check_causal` matrices
:func:`prediction_timeline` class probabilities as a stream advances
:func:`interactive_figure`  the building block: your own ``draw(fig, **values)``
=========================== ==========================================================

Each explorer is an :class:`Explorer` (an ``ipywidgets.VBox``): its controls
are in ``explorer.controls`` (a dict of widgets, e.g. ``controls["frame"]``), its
figure is a PNG in ``explorer.image`` (an ``ipywidgets.Image``) redrawn whenever
a control changes. Figures are sized for the screen (about 1100 pixels wide) in
a larger type than :mod:`vizattn.figures`, which stays the path for paper
figures. Nothing is drawn twice and nothing is left open in pyplot.

Importing this module is cheap (NumPy, matplotlib, ipywidgets); TensorFlow is
imported only by :func:`energy_explorer`, which evaluates SimAM's formula.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vizattn import figures
from vizattn.cache import LOGITS_NAME, MAP_KINDS, Cache, resolve_normalize, softmax
from vizattn.errors import VizAttnError
from vizattn.names import NameFilter, matcher, natural_key, resolve, state_endpoint
from vizattn.overlay import as_frames, overlay, resize_map

__all__ = [
    "DPI",
    "MODE_COLOURS",
    "SCREEN_STYLE",
    "SCREEN_WIDTH",
    "Explorer",
    "dependency_explorer",
    "energy_explorer",
    "format_bytes",
    "interactive_figure",
    "overlay_explorer",
    "prediction_timeline",
    "states_explorer",
    "states_summary",
    "states_table",
    "tada_explorer",
]

#: Width in inches of an explorer's figure; at :data:`DPI` about 1100 pixels.
SCREEN_WIDTH = 11.0
#: Pixels per inch of the PNG an explorer shows.
DPI = 100
#: Matplotlib settings for screen figures: the paper style in a type that reads at 100 %.
SCREEN_STYLE: dict[str, Any] = {
    **figures.STYLE,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "axes.linewidth": 0.8,
}
#: One fixed, clearly different colour (Okabe-Ito) per SimAM mode, used everywhere here.
MODE_COLOURS = {
    "frame": "#0072B2",
    "cumulative": "#009E73",
    "window": "#CC79A7",
    "clip": "#D55E00",
}


# -- the building block --------------------------------------------------------------


@contextlib.contextmanager
def _screen_style() -> Iterator[None]:
    with mpl.rc_context(SCREEN_STYLE):
        yield


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    with _screen_style():
        fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


class Explorer(widgets.VBox):
    """Controls above one figure, redrawn (as a PNG) whenever a control changes.

    Attributes:
      controls: ``{name: widget}``; each widget's ``value`` is passed to ``draw``
        as the keyword ``name``.
      image: the ``ipywidgets.Image`` holding the current figure (PNG bytes in
        ``image.value``).
      message: an ``ipywidgets.HTML`` below the figure: text the explorer
        writes, or the error of the last redraw.

    ``linked`` maps a control's name to ``update(new_value)``, run before the
    redraw when that control changes, to adjust other controls (their changes
    do not redraw on their own).
    """

    def __init__(
        self,
        draw: Callable[..., Any],
        controls: Mapping[str, widgets.ValueWidget],
        *,
        height: float,
        width: float = SCREEN_WIDTH,
        header: Sequence[widgets.Widget] = (),
        rows: Sequence[Sequence[str]] | None = None,
        extra: Sequence[widgets.Widget] = (),
        linked: Mapping[str, Callable[[Any], None]] | None = None,
    ) -> None:
        self.controls = dict(controls)
        self._draw = draw
        self._linked = dict(linked or {})
        self._names = {id(w): name for name, w in self.controls.items()}
        self._busy = False
        self._size = (float(width), float(height))
        self.image = widgets.Image(
            format="png",
            layout=widgets.Layout(width="100%", max_width=f"{int(width * DPI)}px", height="auto"),
        )
        self.message = widgets.HTML()
        if rows is None:
            rows = [list(self.controls)]
        boxes = [
            widgets.HBox([self.controls[name] for name in row], layout={"flex_flow": "row wrap"})
            for row in rows
            if row
        ]
        super().__init__(
            [*header, *boxes, self.image, self.message, *extra],
            # 100 % lets the figure shrink to the notebook; hidden: no stray scroll bar
            layout=widgets.Layout(width="100%", overflow="hidden"),
        )
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.redraw(raise_errors=True)

    def values(self) -> dict[str, Any]:
        """The current value of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, change) -> None:
        if self._busy:  # a linked update of another control: one redraw at the end
            return
        self._busy = True
        try:
            update = self._linked.get(self._names.get(id(change["owner"]), ""))
            if update is not None:
                update(change["new"])  # e.g. new layer options for a new kind
        finally:
            self._busy = False
        self.redraw()

    def redraw(self, *, raise_errors: bool = False) -> None:
        """Draws the figure again from the controls' current values."""
        with _screen_style():
            fig = Figure(figsize=self._size, layout="constrained")
            try:
                note = self._draw(fig, **self.values())
            except Exception as error:  # shown under the figure, not lost in a callback log
                if raise_errors:
                    raise
                self.message.value = (
                    f"<pre style='color:#b00'>{html.escape(type(error).__name__)}: "
                    f"{html.escape(str(error))}</pre>"
                )
                return
        self.image.value = _png(fig)
        self.message.value = note if isinstance(note, str) else ""


def interactive_figure(
    draw: Callable[..., Any],
    controls: Mapping[str, widgets.ValueWidget],
    *,
    height: float = 4.0,
    width: float = SCREEN_WIDTH,
    play: str | None = None,
) -> Explorer:
    """Your own explorer: ``draw(fig, **values)`` redrawn whenever a control moves.

    Args:
      draw: draws into the empty :class:`~matplotlib.figure.Figure` it is given
        (``fig.subplots(...)``); called with one keyword per control. It may
        return an HTML string, shown under the figure.
      controls: ``{keyword: widget}``, e.g. ``{"t": ipywidgets.IntSlider(...)}``.
      height: figure height in inches (the width is :data:`SCREEN_WIDTH`).
      width: figure width in inches.
      play: name of an integer slider in ``controls`` to put a Play button beside.

    Returns:
      An :class:`Explorer`.

    >>> def draw(fig, t):                                                 # doctest: +SKIP
    ...     fig.subplots().plot(np.sin(np.arange(10) + t))
    >>> interactive_figure(draw, {"t": ipywidgets.IntSlider(max=9)})     # doctest: +SKIP
    """
    controls = dict(controls)
    header: list[widgets.Widget] = []
    if play is not None:
        if play not in controls:
            raise VizAttnError(f"play={play!r} names no control; controls are {list(controls)}.")
        header = [_play_button(controls[play])]
    return Explorer(draw, controls, height=height, width=width, header=header)


def _play_button(slider: widgets.IntSlider, *, interval: int = 250) -> widgets.HBox:
    """A Play button driving ``slider`` (linked in the browser, so it plays smoothly)."""
    play = widgets.Play(
        value=slider.value,
        min=slider.min,
        max=slider.max,
        step=1,
        interval=interval,
        description="Play",
        layout={"width": "auto"},
    )
    widgets.jslink((play, "value"), (slider, "value"))
    return widgets.HBox([play, widgets.Label("play / pause, loop with the ↻ button")])


def _frame_slider(count: int, value: int = 0, description: str = "frame") -> widgets.IntSlider:
    return widgets.IntSlider(
        value=int(min(max(value, 0), max(count - 1, 0))),
        min=0,
        max=max(count - 1, 0),
        description=description,
        continuous_update=True,
        layout={"width": "420px"},
    )


def _dropdown(options: Sequence[Any], value: Any, description: str) -> widgets.Dropdown:
    return widgets.Dropdown(
        options=list(options),
        value=value,
        description=description,
        layout={"width": "auto"},
        style={"description_width": "initial"},
    )


def _integer_ticks(*axes) -> None:
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _image_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# -- inputs --------------------------------------------------------------------------


def _as_masks(masks: Any, count: int) -> tuple[np.ndarray | None, list[str] | None]:
    """Masks ``[T, H, W]`` (labels: 0 background, k object k) and object names, if any."""
    if masks is None:
        return None, None
    names = None
    if isinstance(masks, Mapping) or hasattr(masks, "files"):  # a dict or np.load(...) of .npz
        names = [str(n) for n in masks["names"]] if "names" in masks else None
        masks = masks["masks"]
    m = np.asarray(masks)
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise VizAttnError(f"masks have shape {list(m.shape)}; expected [time, height, width].")
    if m.shape[0] != count:
        raise VizAttnError(
            f"masks have {m.shape[0]} frames but there are {count} frames; pass matching masks."
        )
    return m.astype(np.int64), names


def _block_of(endpoint: str) -> str:
    return endpoint.split("_", 1)[0] if endpoint.startswith("block") else endpoint


def _layer_options(cache: Cache, kind: str, names: NameFilter = None) -> list[str]:
    """Blocks of several layers (which average them), then single endpoints holding ``kind``.

    With ``names``, only the endpoints whose ``{endpoint}/{kind}`` it selects, and a
    block only when it selects all of the block's layers (the block averages them all).
    """
    hooks = cache.names(kind)
    every = {n.rsplit("/", 1)[0] for n in hooks}
    picked = hooks if names is None else [n for n in hooks if matcher(names)(n)]
    endpoints = sorted({n.rsplit("/", 1)[0] for n in picked}, key=natural_key)
    blocks = {_block_of(e) for e in endpoints if e.startswith("block")}
    groups = sorted(
        (
            b
            for b in blocks
            if sum(_block_of(e) == b for e in every) > 1
            and all(e in endpoints for e in every if _block_of(e) == b)
        ),
        key=natural_key,
    )
    return [*groups, *endpoints]


# -- overlay_explorer ----------------------------------------------------------------


def overlay_explorer(
    cache: Cache,
    frames: Any,
    masks: Any = None,
    *,
    names: NameFilter = None,
    kind: str | None = None,
    normalize: str | None = "auto",
    alpha: float = 0.5,
    fps: float | None = None,
    batch: int = 0,
    colormap: str = "inferno",
) -> Explorer:
    """Maps of any layer over the video: frame slider with Play, layer, kind, alpha.

    Args:
      cache: a :class:`vizattn.Cache` with at least one map kind (``simam``,
        ``simam_energy``, ``activation``, ``gradcam``, ...), e.g.
        ``vizattn.capture(model, clip)``.
      frames: the frames the cache was captured from, uint8 or float in [0, 1],
        ``[time, height, width, 3]`` or ``[batch, time, height, width, 3]``, at
        any resolution (maps are resized to the frames).
      masks: optional ground truth, ``[time, height, width]`` (0 background,
        ``k`` object ``k``; or bool), or the mapping ``np.load("masks.npz")``
        (:mod:`vizattn.demo`'s format, with object names). Adds a panel.
      names: which layers the ``layer`` menu offers, in the one form of every
        ``names=`` (:mod:`vizattn.names`): a name (``"block3"``: the block, which
        averages its layers, and each of its layers; ``"block3_layer1"``: that
        layer), a list of names, or a predicate on hook names
        (``"{endpoint}/{kind}"``); a block is offered when all its layers are.
        The first offered is shown first. Default: every layer, the first block
        first.
      kind: first kind shown (default ``simam`` when held); with ``names``, only
        kinds it selects layers of are offered.
      normalize: ``"clip"`` (one scale for the whole clip, so changes over time
        show), ``"frame"``, ``None`` (raw values), or ``"auto"`` (the default:
        per frame for gradient kinds, per clip for the rest, as
        :func:`vizattn.cache.default_normalize` says); a control switches it.
      alpha: opacity of the heat map over the frame.
      fps: frames per second, to show the time of each frame.
      batch: which batch item.
      colormap: matplotlib colormap of the maps.

    Returns:
      An :class:`Explorer` with controls ``frame``, ``layer``, ``kind``,
      ``alpha`` and ``normalize``.
    """
    if not isinstance(cache, Cache):
        raise VizAttnError(f"overlay_explorer needs a vizattn.Cache, got {type(cache).__name__}.")
    kinds = [k for k in MAP_KINDS if cache.names(k)]
    if not kinds:
        raise VizAttnError(
            "this cache holds no maps; capture with kinds=['simam'] (or 'activation', 'gradcam')."
        )
    video = as_frames(frames, batch=batch)
    count = len(video)
    if cache.frames != count:
        raise VizAttnError(
            f"the cache covers {cache.frames} frames but {count} frames were given; "
            "pass the frames the cache was captured from."
        )
    labels, object_names = _as_masks(masks, count)
    held_kinds = kinds
    if names is not None:
        resolve(names, [n for k in kinds for n in cache.names(k)], required=True)
        kinds = [k for k in kinds if _layer_options(cache, k, names)]
    kind = kind or ("simam" if "simam" in kinds else kinds[0])
    if kind not in kinds:
        where = " in the layers names selects" if kind in held_kinds else ""
        raise VizAttnError(f"this cache holds no {kind!r} maps{where}; it has {', '.join(kinds)}.")
    options = _layer_options(cache, kind, names)
    layer = options[0]
    resolve_normalize(normalize, [kind], raw=True)
    memo: dict[tuple, np.ndarray] = {}

    def maps_of(layer: str, kind: str, normalize: str | None) -> np.ndarray:
        key = (layer, kind, normalize)
        if key not in memo:
            memo[key] = cache.frame_maps(layer, kind, normalize=normalize)[batch]
        return memo[key]

    controls = {
        "frame": _frame_slider(count),
        "layer": _dropdown(options, layer, "layer"),
        "kind": _dropdown(kinds, kind, "kind"),
        "alpha": widgets.FloatSlider(
            value=float(alpha), min=0.0, max=1.0, step=0.05, description="alpha"
        ),
        "normalize": widgets.ToggleButtons(
            options=[("auto", "auto"), ("clip", "clip"), ("frame", "frame"), ("raw", None)],
            value=normalize,
            description="scale",
            style={"button_width": "52px", "description_width": "initial"},
        ),
    }

    def on_kind(kind: str) -> None:
        new = _layer_options(cache, kind, names)
        current = controls["layer"].value
        controls["layer"].options = new
        controls["layer"].value = current if current in new else new[0]

    def draw(fig, frame, layer, kind, alpha, normalize):
        normalize = resolve_normalize(normalize, [kind], raw=True)
        maps = maps_of(layer, kind, normalize)
        heat = maps[frame]
        lo, hi = (0.0, 1.0) if normalize else (float(maps.min()), float(maps.max()))
        unit = (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)
        panels = 4 if labels is not None else 3
        axes = fig.subplots(1, panels)
        axes[0].imshow(video[frame])
        when = f"frame {frame}/{count - 1}" + (f", {frame / fps:.2f} s" if fps else "")
        axes[0].set_title(when)
        height, width = video.shape[1:3]
        image = axes[1].imshow(  # stretched over the frame's extent: same shape as the frame
            heat,
            cmap=colormap,
            vmin=lo,
            vmax=hi,
            interpolation="nearest",
            extent=(0, width, height, 0),
        )
        axes[1].set_title(f"{layer} {kind} ({heat.shape[0]}x{heat.shape[1]})")
        scale = {"clip": "scaled over the clip", "frame": "scaled per frame"}.get(normalize, "raw")
        fig.colorbar(image, ax=axes[1], fraction=0.046, pad=0.02).set_label(scale)
        axes[2].imshow(overlay(video[frame], unit, alpha=alpha, colormap=colormap))
        axes[2].set_title(f"overlay, alpha {alpha:.2f}")
        if labels is not None:
            _draw_labels(axes[3], labels[frame], object_names)
        for ax in axes:
            _image_axes(ax)
        if labels is not None:
            inside = resize_map(heat[None], labels.shape[1:])[0][labels[frame] > 0]
            outside = resize_map(heat[None], labels.shape[1:])[0][labels[frame] == 0]
            if inside.size and outside.size:
                return (
                    f"mean map inside the objects {inside.mean():.3g}, "
                    f"on the background {outside.mean():.3g}"
                )
        return ""

    height = SCREEN_WIDTH / (4 if labels is not None else 3) * video.shape[1] / video.shape[2]
    return Explorer(
        draw,
        controls,
        height=max(2.6, height + 0.7),
        header=[_play_button(controls["frame"])],
        rows=[["frame", "alpha"], ["layer", "kind", "normalize"]],
        linked={"kind": on_kind},
    )


#: Clearly different colours for ground-truth objects 1, 2, ... (Okabe-Ito, no near-twins).
_OBJECT_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")


def _draw_labels(ax, labels: np.ndarray, names: Sequence[str] | None) -> None:
    ids = sorted(int(v) for v in np.unique(labels) if v > 0)
    colours = ["#FFFFFF", *_OBJECT_COLOURS]
    top = max(ids, default=0)
    cmap = mpl.colors.ListedColormap([colours[i % len(colours)] for i in range(top + 1)])
    ax.imshow(labels, cmap=cmap, vmin=-0.5, vmax=top + 0.5, interpolation="nearest")
    ax.set_title("ground truth")
    handles = [
        mpl.patches.Patch(
            color=colours[i % len(colours)],
            label=names[i - 1] if names and i - 1 < len(names) else f"object {i}",
        )
        for i in ids
    ]
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.8)


# -- energy_explorer -----------------------------------------------------------------


def energy_explorer(
    source: Any,
    *,
    names: NameFilter = None,
    e_lambda: float = 1e-4,
    batch: int = 0,
) -> Explorer:
    """SimAM's energy on real inputs: ``e*``, attention, and what ``lambda`` does.

    SimAM gives neuron ``x`` of a channel the energy
    ``e* = 4 (s2 + lambda) / ((x - mu)^2 + 2 s2 + 2 lambda)`` (``mu``, ``s2`` the
    channel's mean and variance over the frame) and the weight ``sigmoid(1/e*)``.
    The explorer shows, for one frame and channel, the input, ``e*`` and the
    attention; one neuron's ``e*`` as its value sweeps (the others fixed); and
    the distribution of ``1/e* - 1/2 = (x - mu)^2 / (4 (s2 + lambda))`` over every
    neuron, on a log axis (the distribution of ``e*`` itself is a spike at 2).

    The ``lambda`` slider spans the data's own variance (``0.01 s2`` to ``100 s2``):
    far below ``s2`` lambda does nothing, far above it every ``e*`` tends to 2 and
    attention switches off.

    Args:
      source: SimAM inputs ``[batch, time, height, width, channels]`` (or without
        batch), or a :class:`vizattn.Cache` holding ``simam_input``
        (``kinds=["simam_input"]``).
      names: which endpoints the ``layer`` menu offers (cache only), in the one
        form of every ``names=`` (:mod:`vizattn.names`): a name (``"block3"``,
        ``"block3_layer0"``), a list of names, or a predicate on hook names
        (``"{endpoint}/simam_input"``). The first is shown first. Default: every
        endpoint holding ``simam_input``.
      e_lambda: the lambda to start from (SimAM's default is ``1e-4``).
      batch: which batch item.

    Returns:
      An :class:`Explorer` with controls ``frame``, ``channel``, ``pixel``,
      ``lam`` (and ``layer`` for a cache).
    """
    from vizattn.layers.simam import simam_reference  # the formula (imports TensorFlow)

    if isinstance(source, Cache):
        held = source.names("simam_input")
        if not held:
            raise VizAttnError(
                "this cache holds no SimAM inputs; capture with kinds=['simam_input'] "
                "from a model with SimAM."
            )
        held = resolve(names, held, sort=True, required=True)
        arrays = {n.rsplit("/", 1)[0]: np.asarray(source[n], np.float64)[batch] for n in held}
    else:
        if names is not None:
            raise VizAttnError(
                "names selects layers of a vizattn.Cache; SimAM inputs given as an array "
                "have no layers: drop names=."
            )
        x = np.asarray(source, np.float64)
        if x.ndim == 5:
            x = x[batch]
        if x.ndim != 4:
            raise VizAttnError(
                f"SimAM inputs have shape {list(np.shape(source))}; expected "
                "[batch, time, height, width, channels]."
            )
        arrays = {"input": x}
    for name, a in arrays.items():
        if a.ndim != 4 or a.shape[1] * a.shape[2] < 2:
            raise VizAttnError(f"{name} has shape {list(a.shape)}; SimAM needs full channels.")
    endpoints = list(arrays)
    layer = endpoints[0]
    first = arrays[layer]
    variance = float(np.median(first.var(axis=(1, 2), ddof=1))) or 1.0
    centre = math.log10(variance)
    lam_slider = widgets.FloatLogSlider(
        value=min(max(float(e_lambda), 10 ** (centre - 2)), 10 ** (centre + 2)),
        base=10,
        min=centre - 2,
        max=centre + 2,
        step=0.05,
        description="λ",
        readout_format=".1e",
    )
    t0, h, w, c = first.shape
    distinct = np.abs(first[0, :, :, 0] - first[0, :, :, 0].mean())
    controls: dict[str, widgets.ValueWidget] = {}
    if len(endpoints) > 1:
        controls["layer"] = _dropdown(endpoints, layer, "layer")
    controls["frame"] = _frame_slider(t0)
    controls["channel"] = widgets.IntSlider(value=0, min=0, max=c - 1, description="channel")
    controls["pixel"] = widgets.IntSlider(
        value=int(distinct.argmax()), min=0, max=h * w - 1, description="pixel"
    )
    controls["lam"] = lam_slider

    def on_layer(name: str) -> None:
        a = arrays[name]
        controls["frame"].max = a.shape[0] - 1
        controls["channel"].max = a.shape[3] - 1
        controls["pixel"].max = a.shape[1] * a.shape[2] - 1

    def draw(fig, frame, channel, pixel, lam, layer=layer):
        a = arrays[layer]
        _, hh, ww, _ = a.shape
        frame, channel, pixel = (
            min(frame, a.shape[0] - 1),
            min(channel, a.shape[3] - 1),
            min(pixel, hh * ww - 1),
        )
        x = a[frame, :, :, channel]
        _, energy = simam_reference(x[None, None, :, :, None], e_lambda=lam)
        energy = energy[0, 0, :, :, 0]
        attention = 1.0 / (1.0 + np.exp(-1.0 / energy))
        py, px = divmod(pixel, ww)
        # The pixel's energy as its value sweeps: one "frame" per candidate value.
        values = np.linspace(x.min() - 2 * x.std() - 1e-3, x.max() + 2 * x.std() + 1e-3, 161)
        sweep = np.repeat(x[None], values.size, axis=0)
        sweep[:, py, px] = values
        _, e_sweep = simam_reference(sweep[None, :, :, :, None], e_lambda=lam)
        e_sweep = e_sweep[0, :, py, px, 0]
        # Distinctiveness of every neuron of this layer (frame statistics), subsampled.
        flat = a.reshape(a.shape[0], hh * ww, a.shape[3])
        mu = flat.mean(axis=1, keepdims=True)
        s2 = flat.var(axis=1, ddof=1, keepdims=True)
        d = ((flat - mu) ** 2 / (4 * (s2 + lam))).ravel()
        d = d[np.isfinite(d) & (d > 0)]
        if d.size > 200_000:
            d = np.random.default_rng(0).choice(d, 200_000, replace=False)

        grid = fig.add_gridspec(2, 3, height_ratios=[1, 1])
        for col, (title, value, cmap) in enumerate(
            [
                ("input x", x, "PuOr_r"),
                ("energy e*", energy, "viridis"),
                ("attention sigmoid(1/e*)", attention, "inferno"),
            ]
        ):
            ax = fig.add_subplot(grid[0, col])
            image = ax.imshow(value, cmap=cmap, interpolation="nearest")
            ax.plot(px, py, marker="s", markersize=9, markerfacecolor="none", color="#56B4E9")
            ax.set_title(title)
            _image_axes(ax)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
        ax_curve = fig.add_subplot(grid[1, :2])
        ax_curve.plot(values, e_sweep, color=MODE_COLOURS["frame"], label="e* of the pixel")
        ax_curve.plot(x[py, px], energy[py, px], "o", color="#D55E00", label="its current value")
        ax_curve.plot(
            x.ravel(),
            np.full(x.size, 0.04),
            "|",
            color="0.4",
            markersize=10,
            label="values of the other pixels",
        )
        ax_curve.axhline(2.0, color="0.6", lw=0.8, ls="--")
        ax_curve.set_ylim(0, 2.15)
        ax_curve.set_xlabel(f"value of pixel {pixel} (row {py}, column {px})")
        ax_curve.set_ylabel("e*")
        ax_curve.set_title(
            f"λ = {lam:.2g} = {lam / max(float(x.var(ddof=1)), 1e-12):.2g} σ² of this frame"
        )
        ax_curve.legend(loc="lower right")
        ax_hist = fig.add_subplot(grid[1, 2])
        if d.size:
            low = max(float(np.quantile(d, 0.005)), float(d.max()) * 1e-8)
            edges = np.geomspace(low, max(float(d.max()), low * 10), 50)
            counts, _ = np.histogram(np.clip(d, low, None), bins=edges)
            ax_hist.stairs(counts / d.size, edges, fill=True, color="#56B4E9", alpha=0.8)
            ax_hist.set_xscale("log")
            mark = (x[py, px] - x.mean()) ** 2 / (4 * (x.var(ddof=1) + lam))
            if mark > 0:
                ax_hist.axvline(mark, color="#D55E00", lw=1.2, label="the pixel")
                ax_hist.legend(loc="upper left")
        ax_hist.set_xlabel("1/e* − 1/2 = (x−μ)² / 4(σ²+λ)")
        ax_hist.set_ylabel("fraction of neurons")
        ax_hist.set_title(f"all neurons of {layer}")
        return ""

    rows = [["layer", "frame", "channel"] if "layer" in controls else ["frame", "channel"]]
    rows.append(["pixel", "lam"])
    return Explorer(draw, controls, height=6.4, rows=rows, linked={"layer": on_layer})


# -- tada_explorer -------------------------------------------------------------------


def tada_explorer(
    cache: Cache, *, names: NameFilter = None, channels: int = 8, batch: int = 0
) -> Explorer:
    """TAdaConv inside a model: ``alpha`` over time x channels, and the v2 attention.

    Args:
      cache: a :class:`vizattn.Cache` holding ``tada`` (``[batch, time, channels]``)
        and, for TAdaConv v2, ``tada_attention`` (``[batch, heads, time, time]``).
      names: which endpoints the ``layer`` menu offers, in the one form of every
        ``names=`` (:mod:`vizattn.names`): a name (``"block3"``,
        ``"block3_layer1"``), a list of names, or a predicate on hook names
        (``"{endpoint}/tada"``). The first is shown first. Default: every
        endpoint holding ``tada``.
      channels: how many of the most varying channels to draw as lines.
      batch: which batch item.

    Returns:
      An :class:`Explorer` with controls ``layer``, ``channels`` (and ``head``
      when the cache holds v2 attention). Each attention head is drawn on its
      own colour scale; future and out-of-window cells are blank.
    """
    held = cache.names("tada") if isinstance(cache, Cache) else []
    if not held:
        raise VizAttnError(
            "this cache holds no TAdaConv alpha; capture with kinds=['tada'] from a model "
            "with tada='v1' or 'v2'."
        )
    held = resolve(names, held, sort=True, required=True)
    layers = [n.rsplit("/", 1)[0] for n in held]
    layer = layers[0]
    attention = {
        n.rsplit("/", 1)[0]: n
        for n in cache.names("tada_attention")
        if n.rsplit("/", 1)[0] in layers
    }
    heads = max((cache[n].shape[1] for n in attention.values()), default=0)
    widest = max(cache[n].shape[-1] for n in held)
    controls: dict[str, widgets.ValueWidget] = {
        "layer": _dropdown(layers, layer, "layer"),
        "channels": widgets.IntSlider(
            value=min(channels, widest), min=1, max=min(widest, 24), description="channels"
        ),
    }
    if heads:
        controls["head"] = widgets.IntSlider(value=0, min=0, max=heads - 1, description="head")

    def draw(fig, layer, channels, head=0):
        a = np.asarray(cache[f"{layer}/tada"], np.float64)[batch]  # [T, C]
        count = a.shape[0]
        spread = a.std(axis=0)
        chosen = np.sort(np.argsort(-spread, kind="stable")[: min(channels, a.shape[1])])
        has_attention = layer in attention
        grid = fig.add_gridspec(
            1, 3 if has_attention else 2, width_ratios=[1.25, 1, 1][: 3 if has_attention else 2]
        )
        ax_lines = fig.add_subplot(grid[0, 0])
        t = np.arange(count)
        colours = mpl.colormaps["tab20"] if len(chosen) > 8 else None
        for i, ch in enumerate(chosen):
            colour = colours(i % 20) if colours else figures.PALETTE[i % len(figures.PALETTE)]
            ax_lines.plot(t, a[:, ch], marker="o", color=colour, label=f"c{ch}")
        ax_lines.axhline(1.0, color="0.6", lw=0.8, ls="--")
        ax_lines.set_xlabel("frame t")
        ax_lines.set_ylabel("α_t (1 = identity)")
        ax_lines.set_title(f"{layer}: {len(chosen)} most varying channels")
        ax_lines.legend(
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            ncol=1 + (len(chosen) - 1) // 12,
            fontsize=8,
            handlelength=1.0,
        )
        ax_map = fig.add_subplot(grid[0, 1])
        dev = float(np.abs(a - 1.0).max()) or 1e-6
        image = ax_map.imshow(
            a.T,
            aspect="auto",
            cmap="PuOr",
            origin="lower",
            interpolation="nearest",
            norm=TwoSlopeNorm(vcenter=1.0, vmin=1.0 - dev, vmax=1.0 + dev),
        )
        ax_map.set_xlabel("frame t")
        ax_map.set_ylabel("channel")
        ax_map.set_title(f"α_t, all {a.shape[1]} channels")
        fig.colorbar(image, ax=ax_map, fraction=0.05, pad=0.02).set_label("α")
        axes = [ax_lines, ax_map]
        note = f"α ranges over [{a.min():.3f}, {a.max():.3f}]"
        if has_attention:
            att = np.asarray(cache[attention[layer]], np.float64)[batch]  # [heads, T, T]
            h = min(head, att.shape[0] - 1)
            m = att[h]
            rows, cols = np.indices(m.shape)
            shown = np.where((cols <= rows) & (m > 0), m, np.nan)
            # Frame 0 has one key (weight 1 by construction): scale by the later rows.
            later = shown[1:] if len(shown) > 1 else shown
            top = float(np.nanmax(later)) if np.isfinite(later).any() else 1.0
            ax_att = fig.add_subplot(grid[0, 2])
            cmap = mpl.colormaps["viridis"].with_extremes(bad="#f2f2f2")
            image = ax_att.imshow(
                shown, cmap=cmap, vmin=0.0, vmax=top, interpolation="nearest", aspect="equal"
            )
            ax_att.set_xlabel("key frame s")
            ax_att.set_ylabel("query frame t")
            ax_att.set_title(f"v2 attention, head {h} (own scale)")
            fig.colorbar(image, ax=ax_att, fraction=0.046, pad=0.02, extend="max").set_label(
                "weight"
            )
            axes.append(ax_att)
            ax_att.yaxis.set_major_locator(MaxNLocator(integer=True))
            note += (
                f"; head {h}: colour scale up to {top:.3f} (frames after the first), "
                "blank cells are masked (future or old)"
            )
        _integer_ticks(*axes)
        return note

    rows = [["layer", "head", "channels"] if heads else ["layer", "channels"]]
    return Explorer(draw, controls, height=3.8, rows=rows)


# -- stream states -------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def states_summary(states: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per state: ``block``, ``name``, ``shape``, ``dtype``, ``bytes``.

    Args:
      states: ``{name: array or tensor}``, e.g. ``vizattn.models.init_states(model,
        (1, 1, 172, 172, 3))`` (zeros, nothing run) or ``cache.states[t]``.
        Anything with ``shape`` and ``dtype`` works.
    """
    rows = []
    for name in sorted(states):
        value = states[name]
        shape = tuple(int(s) for s in value.shape)
        dtype = np.dtype(getattr(value.dtype, "as_numpy_dtype", value.dtype))
        rows.append(
            {
                "block": state_endpoint(name),
                "name": name,
                "shape": shape,
                "dtype": dtype.name,
                "bytes": int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,
            }
        )
    return rows


def states_table(states: Mapping[str, Any], *, detail: bool = True) -> widgets.HTML:
    """An HTML table of stream states: bytes per block, and every state when ``detail``."""
    rows = states_summary(states)
    blocks: dict[str, list[dict]] = {}
    for row in rows:
        blocks.setdefault(row["block"], []).append(row)
    total = sum(r["bytes"] for r in rows)
    lines = [
        "<table style='font-family:monospace;font-size:12px;border-collapse:collapse'>",
        "<tr><th align=left>block</th><th align=left>state</th><th align=left>shape</th>"
        "<th align=right>bytes</th></tr>",
    ]
    for block, members in blocks.items():
        size = sum(r["bytes"] for r in members)
        lines.append(
            f"<tr style='border-top:1px solid #ccc'><td><b>{html.escape(block)}</b></td>"
            f"<td>{len(members)} state(s)</td><td></td>"
            f"<td align=right><b>{format_bytes(size)}</b></td></tr>"
        )
        if detail:
            for r in members:
                short = r["name"].removeprefix(f"state_{block}_")
                lines.append(
                    f"<tr><td></td><td>{html.escape(short)}</td><td>{list(r['shape'])}</td>"
                    f"<td align=right>{format_bytes(r['bytes'])}</td></tr>"
                )
    lines.append(
        f"<tr style='border-top:2px solid #888'><td><b>total</b></td><td>{len(rows)} states</td>"
        f"<td></td><td align=right><b>{format_bytes(total)}</b></td></tr></table>"
    )
    return widgets.HTML("".join(lines))


def states_explorer(source: Any, *, batch: int = 0) -> Explorer:
    """What a stream model carries from frame to frame, and how it evolves.

    Args:
      source: a :class:`vizattn.Cache` captured with ``stream=True`` and
        ``"state"`` among its kinds (``cache.states[t]``: the states after frame
        ``t``), or such a list of ``{state_name: array}``.
      batch: which batch item.

    Returns:
      An :class:`Explorer` with a table (names, shapes, bytes per block) and
      controls ``block``, ``state`` and ``frame`` (with Play). The figure shows
      every state of the block over frames (root mean square), the chosen
      state's channels over frames, and the chosen state after the chosen frame.
    """
    steps = source.states if isinstance(source, Cache) else source
    if not steps:
        raise VizAttnError(
            "no stream states here; capture with vizattn.capture(model, clip, stream=True, "
            "kinds=[..., 'state'])."
        )
    steps = list(steps)
    names = sorted(steps[0])
    if not names:
        raise VizAttnError("the states are empty: is this a stream model?")
    count = len(steps)
    blocks: dict[str, list[str]] = {}
    for n in names:
        blocks.setdefault(state_endpoint(n), []).append(n)
    series = {n: np.stack([np.asarray(s[n], np.float64)[batch] for s in steps]) for n in names}
    block0 = next((b for b in blocks if b.startswith("block")), next(iter(blocks)))

    def short(block: str, name: str) -> str:
        return name.removeprefix(f"state_{block}_")

    controls = {
        "block": _dropdown(list(blocks), block0, "block"),
        "state": _dropdown(
            [(short(block0, n), n) for n in blocks[block0]], blocks[block0][0], "state"
        ),
        "frame": _frame_slider(count, count - 1, "after frame"),
    }

    def on_block(block: str) -> None:
        controls["state"].options = [(short(block, n), n) for n in blocks[block]]

    def draw(fig, block, state, frame):
        if state not in blocks[block]:
            state = blocks[block][0]
        grid = fig.add_gridspec(1, 3, width_ratios=[1.2, 1.1, 1])
        ax_rms = fig.add_subplot(grid[0, 0])
        t = np.arange(count)
        for i, n in enumerate(blocks[block]):
            s = series[n].reshape(count, -1)
            rms = np.sqrt((s**2).mean(axis=1))
            style = {"lw": 2.6} if n == state else {"lw": 1.2, "alpha": 0.8}
            ax_rms.plot(
                t, rms, marker="o", color=figures.PALETTE[i % 7], label=short(block, n), **style
            )
        ax_rms.axvline(frame, color="0.5", lw=0.8, ls="--")
        ax_rms.set_xlabel("after frame t")
        ax_rms.set_ylabel("root mean square")
        ax_rms.set_title(f"{block}: every state over time")
        ax_rms.legend(loc="best", fontsize=8)
        value = series[state]  # [T, ...]
        per_channel = value.reshape(count, -1, value.shape[-1]).mean(axis=1)  # [T, C]
        ax_ch = fig.add_subplot(grid[0, 1])
        lim = float(np.abs(per_channel).max()) or 1.0
        image = ax_ch.imshow(
            per_channel.T,
            aspect="auto",
            origin="lower",
            cmap="PuOr",
            vmin=-lim,
            vmax=lim,
            interpolation="nearest",
        )
        ax_ch.axvline(frame, color="0.3", lw=0.8, ls="--")
        ax_ch.set_xlabel("after frame t")
        ax_ch.set_ylabel("channel (mean over the other axes)")
        ax_ch.set_title(f"{short(block, state)} {list(value.shape[1:])}")
        fig.colorbar(image, ax=ax_ch, fraction=0.05, pad=0.02)
        _integer_ticks(ax_rms, ax_ch)
        ax_now = fig.add_subplot(grid[0, 2])
        now = value[frame]
        if now.ndim >= 3 and now.shape[-3] > 1 and now.shape[-2] > 1:  # [..., H, W, C]
            picture = np.abs(now).reshape(-1, *now.shape[-3:])[-1].mean(axis=-1)
            image = ax_now.imshow(picture, cmap="inferno", interpolation="nearest")
            ax_now.set_title(f"after frame {frame}: |state|, channel mean")
            _image_axes(ax_now)
            fig.colorbar(image, ax=ax_now, fraction=0.046, pad=0.02)
        else:
            flat = now.reshape(-1, now.shape[-1]).mean(axis=0) if now.ndim else now.reshape(1)
            ax_now.bar(np.arange(flat.size), flat, color=MODE_COLOURS["frame"], width=1.0)
            ax_now.set_xlabel("channel")
            ax_now.set_title(f"after frame {frame}")
        changed = (
            float(np.abs(value[frame] - value[frame - 1]).max()) if frame > 0 else float("nan")
        )
        size = sum(np.asarray(steps[0][n]).nbytes for n in blocks[block])
        return (
            f"{block}: {len(blocks[block])} state(s), {format_bytes(size)} per stream; "
            f"largest change of {short(block, state)} at frame {frame}: {changed:.3g}"
        )

    table = states_table(steps[0], detail=False)
    accordion = widgets.Accordion([table], titles=("states: bytes per block",))
    return Explorer(
        draw,
        controls,
        height=3.9,
        header=[accordion, _play_button(controls["frame"])],
        rows=[["block", "state", "frame"]],
        linked={"block": on_block},
    )


# -- dependency_explorer -------------------------------------------------------------


def dependency_explorer(reports: Any, *, log: bool = True) -> Explorer:
    """Dependency matrices of :func:`vizattn.check_causal`, one or all side by side.

    Args:
      reports: a :class:`vizattn.CausalReport`, a list of them, or ``{label: report}``
        (bare ``[T_out, T_in]`` matrices work too).
      log: start on a logarithmic colour scale (a control switches it).

    Returns:
      An :class:`Explorer` with controls ``show`` (one report, or all on one
      scale) and ``log``; the verdicts are written under the figure.
    """
    if isinstance(reports, Mapping):
        items = {str(k): v for k, v in reports.items()}
    elif isinstance(reports, list | tuple):
        items = {getattr(r, "target", "") or f"report {i}": r for i, r in enumerate(reports)}
    else:
        items = {getattr(reports, "target", "") or "report": reports}
    if not items:
        raise VizAttnError("dependency_explorer needs at least one report.")
    from vizattn.causal import CausalReport  # NumPy only

    items = {
        k: v if isinstance(v, CausalReport) else CausalReport(matrix=v, tol=1e-6, method="perturb")
        for k, v in items.items()
    }
    matrices = {k: v.matrix for k, v in items.items()}
    tols = {k: v.tol for k, v in items.items()}
    for k, m in matrices.items():
        if m.ndim != 2:
            raise VizAttnError(f"{k!r} is not a [T_out, T_in] matrix (shape {list(m.shape)}).")
    options = (["all"] if len(items) > 1 else []) + list(items)
    controls = {
        "show": _dropdown(options, options[0], "show"),
        "log": widgets.Checkbox(value=bool(log), description="log colour scale"),
    }

    def draw(fig, show, log):
        chosen = list(items) if show == "all" else [show]
        axes = fig.subplots(1, len(chosen), squeeze=False)[0]
        norm = figures._norm([matrices[k] for k in chosen], min(tols[k] for k in chosen), log)
        image = None
        for ax, label in zip(axes, chosen, strict=True):
            image = figures._draw_dependency(
                ax, matrices[label], norm, tols[label], "viridis", label if len(chosen) > 1 else ""
            )
            if ax is not axes[0]:
                ax.set_ylabel("")
        fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.01).set_label(
            "influence (log)" if log else "influence"
        )
        verdicts = []
        for label in chosen:
            report = items[label]
            colour = "#1a7f37" if report.causal else "#b00"
            verdicts.append(
                f"<b>{html.escape(label)}</b>: "
                f"<span style='color:{colour}'>{html.escape(report.verdict)}</span>"
            )
        return "<br>".join(verdicts)

    n = len(items)
    height = 4.2 if n <= 2 else max(2.8, SCREEN_WIDTH / n + 0.9)
    return Explorer(draw, controls, height=height)


# -- prediction_timeline -------------------------------------------------------------


def _class_names(cache: Any, count: int) -> list[str]:
    return figures._class_names(cache, count) or [f"class {i}" for i in range(count)]


def prediction_timeline(
    source: Any,
    frames: Any = None,
    *,
    labels: Sequence[str] | None = None,
    top_k: int = 5,
    fps: float | None = None,
    batch: int = 0,
) -> Explorer:
    """Class probabilities as a stream advances: frame slider with Play.

    At frame ``t`` a stream model has seen frames ``<= t``; the lines stop at
    ``t``, the bars give the ranking at ``t``.

    Args:
      source: a :class:`vizattn.Cache` captured with ``stream=True`` (per-frame
        ``classifier_head/logits``), or logits ``[time, classes]`` /
        ``[batch, time, classes]`` (:func:`vizattn.predict_stream`).
      frames: the frames, to show the one the model just saw (optional).
      labels: class names; default the model's (``cache.metadata``) or ``class i``.
      top_k: classes drawn (those with the highest probability at any frame).
      fps: frames per second, for the time axis.
      batch: which batch item.

    Returns:
      An :class:`Explorer` with controls ``frame`` (with Play) and ``top_k``.
    """
    if isinstance(source, Cache):
        if LOGITS_NAME not in source:
            raise VizAttnError("this cache holds no logits; capture with kinds=[..., 'logits'].")
        logits = np.asarray(source[LOGITS_NAME], np.float64)
    else:
        logits = np.asarray(source, np.float64)
    if logits.ndim == 3:
        logits = logits[batch]
    if logits.ndim != 2 or logits.shape[0] < 1:
        raise VizAttnError(
            f"logits have shape {list(logits.shape)}; expected [time, classes] "
            "(capture with stream=True for per-frame logits)."
        )
    probabilities = softmax(logits).astype(np.float64)
    count, n_classes = probabilities.shape
    names = list(labels) if labels is not None else _class_names(source, n_classes)
    if len(names) != n_classes:
        raise VizAttnError(f"{len(names)} labels for {n_classes} classes; pass one per class.")
    video = as_frames(frames, batch=batch) if frames is not None else None
    if video is not None and len(video) != count:
        raise VizAttnError(f"{len(video)} frames for {count} steps of logits; pass the same clip.")
    order = np.argsort(-probabilities.max(axis=0), kind="stable")
    controls = {
        "frame": _frame_slider(count, count - 1),
        "top_k": widgets.IntSlider(
            value=min(top_k, n_classes), min=1, max=min(n_classes, 10), description="classes"
        ),
    }
    x = np.arange(count) / fps if fps else np.arange(count)

    def draw(fig, frame, top_k):
        chosen = order[:top_k]
        ratios = [0.9, 1.6, 1.0] if video is not None else [1.6, 1.0]
        axes = fig.subplots(1, len(ratios), width_ratios=ratios)
        if video is not None:
            axes[0].imshow(video[frame])
            axes[0].set_title(f"frame {frame}" + (f" ({frame / fps:.2f} s)" if fps else ""))
            _image_axes(axes[0])
        ax_lines, ax_bars = axes[-2], axes[-1]
        for i, c in enumerate(chosen):
            colour = figures.PALETTE[i % 7]
            ax_lines.plot(
                x[: frame + 1],
                probabilities[: frame + 1, c],
                color=colour,
                marker="o",
                markersize=3 if count <= 40 else 0,
                label=names[c],
            )
        ax_lines.set_xlim(x[0], x[-1] if count > 1 else x[0] + 1)
        ax_lines.set_ylim(0, 1.0)
        ax_lines.set_xlabel("time (s)" if fps else "frame t")
        ax_lines.set_ylabel("probability")
        ax_lines.set_title("what the stream predicts after each frame")
        ax_lines.legend(loc="upper left", fontsize=8)
        if not fps:
            _integer_ticks(ax_lines)
        now = probabilities[frame]
        ranked = np.argsort(-now, kind="stable")[:top_k][::-1]
        colour_of = {c: figures.PALETTE[i % 7] for i, c in enumerate(chosen)}
        ax_bars.barh(
            [names[c] for c in ranked], now[ranked], color=[colour_of.get(c, "0.6") for c in ranked]
        )
        ax_bars.set_xlim(0, 1.0)
        ax_bars.set_xlabel("probability")
        ax_bars.set_title(f"after frame {frame}")
        best = int(np.argmax(now))
        return f"after frame {frame}: <b>{html.escape(names[best])}</b> ({now[best]:.1%})"

    return Explorer(
        draw,
        controls,
        height=3.4,
        header=[_play_button(controls["frame"])],
        rows=[["frame", "top_k"]],
    )
