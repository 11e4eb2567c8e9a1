"""One table: how well every map kind of every block points at the evidence.

:func:`evaluate` takes a model, a clip and the clip's target masks, computes
every map kind in every block (SimAM attention, SimAM energy, activation norm,
Grad-CAM and gradient x activation, all stream-aware: frame ``t``'s map
explains the prediction at frame ``t``), the baselines that need no model
(centre Gaussian, noise, frame difference) and each block's oracle (the target
mask on that block's grid: the target itself at that resolution, a reference
rather than a bound), and scores them
all with :mod:`vizattn.metrics`:

>>> import vizattn
>>> from vizattn import demo, evaluation
>>> model = vizattn.load_model()                                      # doctest: +SKIP
>>> clip = demo.task_clip(demo.heldout_seeds(1)[0], size=96, frames=16)
>>> table = evaluation.evaluate(model, clip.frames, clip.masks == clip.target,
...                             label=clip.label, onset=clip.onset)  # doctest: +SKIP
>>> print(table.to_text())                                            # doctest: +SKIP

Rows are map kinds per block (each block's oracle first), then the baselines;
columns are the pointing game, the energy inside the target and the AUROC, each
over all frames and over the frames after the onset (when the label is
decidable), and with ``deletion=True`` the areas under the deletion and
insertion curves. Below the table it says which map scores best, how Grad-CAM
compares with the oracle in every block, and, plainly, which maps do not beat
the centre baseline on any metric.

Several clips: evaluate each and join them with :meth:`ExplanationTable.combine`
(frames are pooled, so every frame weighs the same). ``table.to_dict()`` is
ready for JSON; :meth:`ExplanationTable.save_json` writes it atomically.

Masks come from a ``.npz`` file (written by :func:`vizattn.demo.make_demo`):
:func:`load_masks` reads it, with the target, label and onset when the file
has them, and ``evaluate(model, clip, load_masks(path))`` uses them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vizattn import metrics
from vizattn.errors import VizAttnError
from vizattn.metrics import Score

__all__ = [
    "BASELINES",
    "KINDS",
    "METRICS",
    "ExplanationTable",
    "Masks",
    "Row",
    "evaluate",
    "load_masks",
    "model_maps",
]

#: Map kinds computed from the model, per block (``activation`` is the channel norm).
KINDS = ("simam", "simam_energy", "activation", "gradcam", "grad_x_act")
#: Maps that need no model.
BASELINES = ("centre", "noise", "frame_difference")
#: Metric name -> (column title, higher is better).
METRICS: dict[str, tuple[str, bool]] = {
    "pointing_game": ("pointing game", True),
    "energy_inside": ("energy inside", True),
    "auroc": ("AUROC", True),
    "deletion_auc": ("deletion AUC", False),
    "insertion_auc": ("insertion AUC", True),
}

_LABELS = {"activation": "activation norm", "grad_x_act": "grad x act"}


# -- masks -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Masks:
    """A masks file: per-frame object ids and what decides the label.

    Attributes:
      masks: uint8 ``[time, height, width]``: 0 background, ``k`` for ``names[k - 1]``.
      names: the object names.
      fps: frames per second, or ``None``.
      target: the object id whose behaviour decides the label, or ``None``
        (every object counts as target).
      label: the clip's true class index, or ``None``.
      onset: first frame at which the label is decidable, or ``None``.
      class_names: the names of the classes ``label`` counts in; :func:`evaluate`
        uses the label only for a model with a class of that name. Empty: ``label``
        is an index of the model's own classes.
    """

    masks: np.ndarray
    names: tuple[str, ...] = ()
    fps: float | None = None
    target: int | None = None
    label: int | None = None
    onset: int | None = None
    class_names: tuple[str, ...] = ()

    def target_mask(self) -> np.ndarray:
        """bool ``[time, height, width]``: the target's pixels (every object without a target)."""
        return self.masks == self.target if self.target is not None else self.masks > 0

    @property
    def label_name(self) -> str | None:
        """The label's class name (``None`` without a label or class names)."""
        if self.label is None or not 0 <= self.label < len(self.class_names):
            return None
        return self.class_names[self.label]

    def select(self, indices: Sequence[int] | np.ndarray) -> Masks:
        """The masks of the clip's frames ``indices`` (increasing), onset shifted to match.

        A video range (``start``/``end``/``max_frames`` of
        :class:`vizattn.video.VideoReader`) selects frames by time or count; pass the
        :attr:`vizattn.video.Frame.index` of the frames it yields. The onset becomes
        the position of the first selected frame at or after it: 0 when the range
        starts later, ``None`` when the range ends before it.

        Raises:
          VizAttnError: no index, or an index outside the masks' frames.
        """
        idx = np.asarray(indices, np.int64).ravel()
        n = self.masks.shape[0]
        if idx.size == 0:
            raise VizAttnError("no frames to select from the masks.")
        if idx.min() < 0 or idx.max() >= n:
            raise VizAttnError(
                f"the video's frames {int(idx.min())}..{int(idx.max())} are not all in the "
                f"masks' {n} frames; pass the masks of this clip."
            )
        onset = None
        if self.onset is not None:
            after = np.flatnonzero(idx >= self.onset)
            onset = int(after[0]) if after.size else None
        return dataclasses.replace(self, masks=self.masks[idx], onset=onset)


def _scalar(data, key: str, path: str, kind=int):
    if key not in data.files:
        return None
    value = np.asarray(data[key])
    if value.size != 1:
        raise VizAttnError(f"{path}: {key!r} must be one number, got shape {list(value.shape)}.")
    try:
        return kind(value.item())
    except (TypeError, ValueError):
        raise VizAttnError(f"{path}: {key!r} must be a number, got {value.item()!r}.") from None


def load_masks(path: str | os.PathLike) -> Masks:
    """Reads a masks ``.npz`` (``masks``, ``names``, ``fps``, and optional label keys).

    The label is a class index in the file's ``class_names`` (default: the
    moving-shapes task's :data:`vizattn.demo.CLASS_NAMES`, what
    :func:`vizattn.demo.make_demo` writes labels of).

    Args:
      path: the file, as written by :func:`vizattn.demo.make_demo`.

    Returns:
      A :class:`Masks`.

    Raises:
      VizAttnError: a missing or unreadable file, no ``masks`` array, masks not
        ``[time, height, width]`` integers, or a ``target``/``onset`` that does not fit.
    """
    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise VizAttnError(f"masks file {path!r} does not exist; pass --masks MASKS.npz.") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise VizAttnError(
            f"cannot read masks file {path!r} ({type(e).__name__}); pass a .npz written by "
            "'vizattn demo'."
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise VizAttnError(f"{path!r} is a single array, not a masks .npz with a 'masks' array.")
    with data:
        if "masks" not in data.files:
            raise VizAttnError(
                f"{path!r} has no 'masks' array (it has {', '.join(data.files) or 'nothing'}); "
                "pass a masks file written by 'vizattn demo'."
            )
        try:
            masks = np.asarray(data["masks"])
        except ValueError:
            raise VizAttnError(f"{path!r}: 'masks' is not a numeric array.") from None
        if masks.ndim != 3 or min(masks.shape) < 1:
            raise VizAttnError(
                f"{path!r}: masks must be [time, height, width], got shape {list(masks.shape)}."
            )
        if masks.dtype == bool:
            masks = masks.astype(np.uint8)
        if not np.issubdtype(masks.dtype, np.integer) or masks.min() < 0 or masks.max() > 255:
            raise VizAttnError(
                f"{path!r}: masks must hold object ids 0..255 (uint8), got {masks.dtype}."
            )
        masks = masks.astype(np.uint8)
        names: tuple[str, ...] = ()
        if "names" in data.files:
            try:
                names = tuple(str(n) for n in np.asarray(data["names"]).ravel())
            except ValueError:
                raise VizAttnError(f"{path!r}: 'names' must be an array of strings.") from None
        if "class_names" in data.files:
            try:
                classes = tuple(str(n) for n in np.asarray(data["class_names"]).ravel())
            except ValueError:
                raise VizAttnError(
                    f"{path!r}: 'class_names' must be an array of strings."
                ) from None
        else:  # what 'vizattn demo' writes: a moving-shapes task label
            from vizattn.demo import CLASS_NAMES

            classes = CLASS_NAMES
        fps = _scalar(data, "fps", path, float)
        target = _scalar(data, "target", path)
        label = _scalar(data, "label", path)
        onset = _scalar(data, "onset", path)
    if target is not None and not (masks == target).any():
        raise VizAttnError(
            f"{path!r}: target {target} never occurs in the masks (ids present: "
            f"{sorted(int(v) for v in np.unique(masks))})."
        )
    if onset is not None and not 0 <= onset < masks.shape[0]:
        raise VizAttnError(
            f"{path!r}: onset {onset} is outside the clip's {masks.shape[0]} frames."
        )
    return Masks(masks, names, fps, target, label, onset, tuple(classes))


# -- the table -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the table.

    Attributes:
      kind: a model map kind (:data:`KINDS`), a baseline (:data:`BASELINES`) or ``"oracle"``.
      block: the block (``"block3"``), or ``None`` for the baselines.
      source: ``"model"``, ``"baseline"`` or ``"oracle"``.
      scores: metric name (:data:`METRICS`) -> :class:`vizattn.metrics.Score`.
    """

    kind: str
    block: str | None
    source: str
    scores: dict[str, Score]

    @property
    def name(self) -> str:
        """``"gradcam block3"``, or the baseline's name."""
        return f"{self.kind} {self.block}" if self.block else self.kind

    def value(self, metric: str, frames: str = "primary") -> float:
        """The mean of ``metric`` over ``"all"`` frames, ``"after_onset"``, or ``"primary"``
        (after the onset when known, else all); NaN if absent."""
        score = self.scores.get(metric)
        if score is None:
            return float("nan")
        if frames == "all" or (frames == "primary" and score.after is None):
            return score.all
        value = score.after_onset
        return float("nan") if value is None else value


def _better(a: float, b: float, higher: bool) -> bool:
    return bool(np.isfinite(a) and np.isfinite(b) and (a > b if higher else a < b))


@dataclasses.dataclass
class ExplanationTable:
    """Scores of every map kind per block, the baselines and the oracles.

    Attributes:
      rows: the :class:`Row` s, grouped by block (oracle first), then the baselines.
      clips: how many clips the scores pool.
      options: what was measured (tolerance, class explained, deletion settings...).
      notes: lines printed under the table (kinds skipped and why).
    """

    rows: list[Row]
    clips: int = 1
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)

    # -- queries --

    @property
    def metrics(self) -> list[str]:
        """The metrics present, in :data:`METRICS` order."""
        held = {m for r in self.rows for m in r.scores}
        return [m for m in METRICS if m in held]

    @property
    def has_onset(self) -> bool:
        """Whether the scores are split at an onset."""
        return any(s.after is not None for r in self.rows for s in r.scores.values())

    def row(self, kind: str, block: str | None = None) -> Row:
        """The row of ``kind`` (in ``block`` for model kinds and oracles)."""
        for r in self.rows:
            if r.kind == kind and r.block == block:
                return r
        raise VizAttnError(
            f"no row {kind!r}{f' in {block}' if block else ''}; rows are "
            f"{', '.join(r.name for r in self.rows)}."
        )

    def best(self, metric: str = "pointing_game", *, source: str = "model") -> Row | None:
        """The row of ``source`` with the best primary value of ``metric``."""
        higher = METRICS[metric][1]
        rows = [r for r in self.rows if r.source == source and np.isfinite(r.value(metric))]
        if not rows:
            return None
        return (max if higher else min)(rows, key=lambda r: r.value(metric))

    def beats_centre(self, row: Row) -> list[str]:
        """The metrics on which ``row`` beats the centre baseline (primary frames)."""
        try:
            centre = self.row("centre")
        except VizAttnError:
            return []
        return [m for m in self.metrics if _better(row.value(m), centre.value(m), METRICS[m][1])]

    def below_centre(self) -> list[Row]:
        """Model rows that beat the centre baseline on no metric."""
        return [r for r in self.rows if r.source == "model" and not self.beats_centre(r)]

    # -- joining --

    @classmethod
    def combine(cls, tables: Iterable[ExplanationTable]) -> ExplanationTable:
        """Pools the frames of several clips' tables (rows matched by kind and block).

        A row missing from some table pools the tables that have it.
        """
        tables = list(tables)
        if not tables:
            raise VizAttnError("ExplanationTable.combine needs at least one table.")
        order: list[tuple[str, str | None, str]] = []
        parts: dict[tuple[str, str | None, str], list[Row]] = {}
        for table in tables:
            for r in table.rows:
                key = (r.kind, r.block, r.source)
                if key not in parts:
                    order.append(key)
                    parts[key] = []
                parts[key].append(r)
        rows = []
        for key in order:
            names = [m for m in METRICS if any(m in r.scores for r in parts[key])]
            scores = {
                m: Score.concat(r.scores[m] for r in parts[key] if m in r.scores) for m in names
            }
            rows.append(Row(*key, scores))
        notes = list(dict.fromkeys(n for t in tables for n in t.notes))
        options = dict(tables[0].options)
        options.pop("class_index", None)
        return cls(rows, clips=sum(t.clips for t in tables), options=options, notes=notes)

    # -- output --

    def verdict(self) -> list[str]:
        """The lines under the table: best map, Grad-CAM vs oracle, the centre check."""
        when = "after onset" if self.has_onset else "all frames"
        lines = []
        best = self.best("pointing_game")
        if best is not None:
            oracle = self._oracle(best.block)
            lines.append(
                f"best model-based pointing game ({when}): {best.name} "
                f"{best.value('pointing_game'):.2f}"
                + (f" (oracle {oracle:.2f})" if np.isfinite(oracle) else "")
            )
        cams = [r for r in self.rows if r.kind == "gradcam"]
        if cams:
            parts = [
                f"{r.block} {r.value('pointing_game'):.2f}/{self._oracle(r.block):.2f}"
                for r in cams
            ]
            lines.append(f"gradcam vs oracle, pointing game ({when}): " + ", ".join(parts))
        if "centre" in {r.kind for r in self.rows}:
            below = self.below_centre()
            if below:
                lines.append(
                    "does NOT beat the centre baseline on any metric: "
                    + ", ".join(r.name for r in below)
                )
            else:
                lines.append("every model map beats the centre baseline on at least one metric.")
        return lines

    def _oracle(self, block: str | None) -> float:
        try:
            return self.row("oracle", block).value("pointing_game")
        except VizAttnError:
            return float("nan")

    def to_text(self) -> str:
        """The table as aligned text: rows are kinds per block, columns the metrics."""
        onset = self.has_onset
        names = self.metrics
        sub = ("all", "onset") if onset else ("all",)
        frames = ("all", "after_onset") if onset else ("all",)
        widths = {m: max(7 * len(sub), len(METRICS[m][0]) + 2) for m in names}
        head1 = f"{'map':<18}{'block':<8}"
        head2 = " " * 26
        for m in names:
            head1 += f"{METRICS[m][0]:<{widths[m]}}"
            head2 += f"{''.join(f'{s:<7}' for s in sub):<{widths[m]}}"
        lines = [self._title(), head1.rstrip(), head2.rstrip()]
        previous = None
        for r in self.rows:
            group = r.block if r.source != "baseline" else "-"
            if previous is not None and group != previous:
                lines.append("")
            previous = group
            text = f"{_LABELS.get(r.kind, r.kind):<18}{r.block or '-':<8}"
            for m in names:
                text += f"{''.join(_cell(r.value(m, f)) for f in frames):<{widths[m]}}"
            lines.append(text.rstrip())
        lines.append("")
        lines += self.verdict()
        lines += self.notes
        return "\n".join(lines)

    def _title(self) -> str:
        o = self.options
        parts = [f"{self.clips} clip{'s' if self.clips != 1 else ''}"]
        frames = next((s for r in self.rows for s in r.scores.values()), None)
        if frames is not None:
            total = frames.per_frame.size
            parts.append(
                f"{total} frames"
                + (f" ({int(frames.after.sum())} after onset)" if frames.after is not None else "")
            )
        if "tolerance" in o:
            parts.append(f"pointing-game tolerance {o['tolerance']:g} px")
        if o.get("explained") is not None:
            parts.append(f"gradients explain {o['explained']}")
        return "explanation quality: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"clips", "options", "rows": [...], "verdict", "notes"}`` (NaN -> null)."""
        return {
            "clips": self.clips,
            "options": _jsonable(self.options),
            "metrics": {
                m: {"title": METRICS[m][0], "higher_is_better": METRICS[m][1]} for m in self.metrics
            },
            "rows": [
                {
                    "kind": r.kind,
                    "block": r.block,
                    "source": r.source,
                    "metrics": {m: s.as_dict() for m, s in r.scores.items()},
                    "beats_centre_on": self.beats_centre(r) if r.source == "model" else None,
                }
                for r in self.rows
            ],
            "verdict": self.verdict(),
            "notes": list(self.notes),
        }

    def save_json(self, path: str | os.PathLike) -> str:
        """Writes :meth:`to_dict` as JSON to ``path``, atomically."""
        from vizattn.files import atomic_write

        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        return atomic_write(path, lambda f: f.write(text), mode="w")


def _cell(value: float) -> str:
    return f"{value:<7.3f}" if np.isfinite(value) else f"{'-':<7}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


# -- model maps ------------------------------------------------------------------


def _model_maps(
    model, clip: np.ndarray, blocks: Sequence[str], kinds: Sequence[str], class_index
) -> dict[tuple[str, str], np.ndarray]:
    """The one place model maps are computed: ``{(kind, block): [batch, time, h, w]}`` raw."""
    import vizattn
    from vizattn.models import is_stream

    cache = vizattn.capture(
        model,
        clip,
        names=list(blocks),
        kinds=list(kinds),
        stream=is_stream(model),
        reduce=None,
        class_index=class_index,
    )
    return {
        (kind, block): cache.frame_maps(
            block, kind, reduce="norm" if kind == "activation" else "mean", normalize=None
        )
        for block in blocks
        for kind in kinds
    }


def _model_label(model, masks: Masks) -> tuple[int | None, str | None]:
    """The model's index of the masks' label, or ``(None, why not)``."""
    if not masks.class_names:  # the label is an index of the model's classes
        return masks.label, None
    from vizattn.labels import _key, class_names

    name = masks.label_name
    if name is None:
        return None, (
            f"the masks' label {masks.label} is not one of their {len(masks.class_names)} "
            "class names"
        )
    keys = [_key(n) for n in class_names(model)]
    if _key(name) in keys:
        return keys.index(_key(name)), None
    return None, f"the masks' label {name!r} is not a class of this model"


def _blocks(model) -> list[str]:
    from vizattn.hooks import endpoints

    found = {name.split("_", 1)[0] for name in endpoints(model) if name.startswith("block")}
    return sorted(found, key=lambda b: int(b[5:]))


def _check(model, blocks, kinds) -> tuple[list[str], list[str], list[str]]:
    """Valid blocks and kinds, and notes about kinds skipped."""
    from vizattn.models import model_info

    available = _blocks(model)
    blocks = available if blocks is None else ([blocks] if isinstance(blocks, str) else blocks)
    for b in blocks:
        if b not in available:
            from vizattn.names import did_you_mean

            raise VizAttnError(
                f"unknown block {b!r}; {did_you_mean(b, available)}"
                f"the model has {', '.join(available)}."
            )
    kinds = list(KINDS if kinds is None else ([kinds] if isinstance(kinds, str) else kinds))
    for k in kinds:
        if k not in KINDS:
            raise VizAttnError(f"unknown map kind {k!r}; use {', '.join(KINDS)}.")
    notes = []
    info = model_info(model)
    if info is not None and not info.simam:
        skipped = [k for k in kinds if k.startswith("simam")]
        if skipped:
            notes.append(f"skipped {', '.join(skipped)}: the model has no SimAM.")
        kinds = [k for k in kinds if not k.startswith("simam")]
    return list(blocks), kinds, notes


def model_maps(
    model,
    clip: Any,
    *,
    blocks: Sequence[str] | str | None = None,
    kinds: Sequence[str] | str | None = None,
    class_index=None,
    size: tuple[int, int] | None = None,
) -> dict[tuple[str, str], np.ndarray]:
    """Raw per-frame maps of the model, the ones :func:`evaluate` scores.

    Args:
      model: a model from :func:`vizattn.load_model`.
      clip: uint8 ``[T, H, W, 3]``/``[B, T, H, W, 3]`` (or float in [0, 1]).
      blocks: ``"block3"`` or a list (default: every block).
      kinds: map kinds from :data:`KINDS` (default: all the model has).
      class_index: what gradient kinds explain (see :func:`vizattn.capture`).
      size: resize frames to ``(height, width)`` first.

    Returns:
      ``{(kind, block): float32 [batch, time, h, w]}``, unnormalized.
    """
    from vizattn.models import as_clip

    blocks, kinds, _ = _check(model, blocks, kinds)
    return _model_maps(model, as_clip(clip, size=size), blocks, kinds, class_index)


def evaluate(
    model,
    clip: Any,
    masks: Any,
    *,
    target: int | None = None,
    label: int | None = None,
    onset: int | None = None,
    blocks: Sequence[str] | str | None = None,
    kinds: Sequence[str] | str | None = None,
    class_index=None,
    tolerance: float = metrics.TOLERANCE,
    deletion: bool = False,
    steps: int = 8,
    fill: str = "mean",
    size: tuple[int, int] | None = None,
    seed: int = 0,
) -> ExplanationTable:
    """Scores every map kind of every block, the baselines and the oracles on one clip.

    Args:
      model: a model from :func:`vizattn.load_model` (a stream model for
        per-frame, stream-aware maps and deletion/insertion).
      clip: uint8 ``[T, H, W, 3]`` or ``[1, T, H, W, 3]`` (or float in [0, 1]).
      masks: a :class:`Masks` (from :func:`load_masks`; its target, label and
        onset are used unless given here, its label only when the model has a
        class of that name, see :attr:`Masks.class_names`, with a note when
        not), object ids ``uint8 [T, H, W]``
        (with ``target``: that id; without: every object), or bool target
        masks ``[T, H, W]``, at any resolution.
      target: the object id of the target in ``masks``.
      label: the true class; gradient kinds and deletion follow it by default.
      onset: first frame at which the label is decidable: scores are also
        given over frames ``>= onset``.
      blocks: blocks to score (default: every block of the model).
      kinds: model map kinds (default :data:`KINDS`; SimAM kinds are skipped,
        with a note, for a model without SimAM).
      class_index: the class the gradient kinds explain (default: ``label``
        when known, else ``"top"``, the class predicted at each frame).
      tolerance: pointing-game tolerance in mask pixels.
      deletion: also run :func:`vizattn.metrics.deletion_insertion` for every
        row (``2 * (steps + 1)`` streamed clips per row; slow).
      steps, fill: deletion/insertion settings.
      size: resize the clip's frames to ``(height, width)`` (the model's input
        size) before anything else; masks keep their own resolution.
      seed: seed of the noise baseline and of deletion tie-breaking.

    Returns:
      An :class:`ExplanationTable` for this clip.
    """
    from vizattn.models import as_clip

    label_note = None
    if isinstance(masks, Masks):
        target = masks.target if target is None else target
        if label is None and masks.label is not None:
            label, label_note = _model_label(model, masks)
        onset = masks.onset if onset is None else onset
        masks = masks.masks
    m = np.asarray(masks)
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise VizAttnError(
            f"masks must be [time, height, width] for one clip, got shape {list(np.shape(masks))}."
        )
    if m.dtype == bool:
        target_mask = m
    elif target is not None:
        target_mask = m == int(target)
    else:
        target_mask = m > 0
    x = as_clip(clip, size=size)
    if x.shape[0] != 1:
        raise VizAttnError(
            f"evaluate takes one clip, got a batch of {x.shape[0]}; evaluate each and join the "
            "tables with ExplanationTable.combine."
        )
    if x.shape[1] != m.shape[0]:
        raise VizAttnError(
            f"the clip has {x.shape[1]} frames but the masks have {m.shape[0]}; pass the masks "
            "of this clip."
        )
    blocks, kinds, notes = _check(model, blocks, kinds)
    if label_note is not None and class_index is None:
        notes.append(f"{label_note}; gradients explain the prediction")
    elif label_note is not None and deletion:
        notes.append(f"{label_note}; deletion follows the prediction")
    if class_index is None:
        class_index = int(label) if label is not None else "top"
        explained = "the true label" if label is not None else "the predicted class per frame"
    else:
        explained = f"class {class_index!r}"
    maps = _model_maps(model, x, blocks, kinds, class_index) if kinds else {}
    if not kinds:
        grids = _model_maps(model, x, blocks, ["activation"], class_index)
    else:
        grids = maps
    t, h, w = target_mask.shape
    after_kw = {"onset": onset}
    deletion_target = int(label) if label is not None else None

    def score(a: np.ndarray) -> dict[str, Score]:
        out = {
            "pointing_game": metrics.pointing_game(a, target_mask, tolerance=tolerance, **after_kw),
            "energy_inside": metrics.energy_inside(a, target_mask, **after_kw),
            "auroc": metrics.auroc(a, target_mask, **after_kw),
        }
        if deletion:
            curves = metrics.deletion_insertion(
                model, x, a, target=deletion_target, steps=steps, fill=fill, onset=onset, seed=seed
            )
            out.update(curves.scores())
        return out

    rows: list[Row] = []
    for block in blocks:
        grid = next(v for (k, b), v in grids.items() if b == block).shape[-2:]
        rows.append(Row("oracle", block, "oracle", score(metrics.oracle(target_mask, grid))))
        for kind in kinds:
            rows.append(Row(kind, block, "model", score(maps[(kind, block)])))
    baselines = {
        "centre": metrics.center_baseline((t, h, w)),
        "noise": metrics.noise_baseline((t, h, w), seed),
        "frame_difference": metrics.frame_difference(x[0]),
    }
    for name, a in baselines.items():
        rows.append(Row(name, None, "baseline", score(a)))
    options = {
        "tolerance": float(tolerance),
        "explained": explained,
        "class_index": class_index if isinstance(class_index, str) else int(class_index),
        "blocks": blocks,
        "kinds": kinds,
        "frames": int(t),
        "mask_size": [int(h), int(w)],
        "clip_size": [int(s) for s in x.shape[2:4]],
        "deletion": {"steps": int(steps), "fill": fill} if deletion else None,
    }
    return ExplanationTable(rows, clips=1, options=options, notes=notes)
