"""Dataset scale: ``vizattn batch``, an Apache Beam pipeline over a folder or bucket of videos.

One heatmap is an anecdote; a claim about SimAM inside MoViNet needs the same
measurement over a whole validation set. :func:`run_batch` runs the model over
every video of a glob, a folder or a list file, keeps one cache per video and
writes per-video and per-class statistics:

>>> from vizattn.beam_pipeline import run_batch, describe
>>> result = run_batch("videos/*.mp4", "out/", checkpoint="random",
...                    build_options={"simam": "frame", "seed": 0})   # doctest: +SKIP
>>> print(describe(result))                                          # doctest: +SKIP
8 videos done, 0 skipped (cached), 1 failed (see out/failures.csv); 512 frames, 32 model
calls, 2 model builds

What it writes under ``out_dir``:

================== ===========================================================
``caches/``        one :class:`vizattn.Cache` per video (``{stem}-{hash}.npz``,
                   the hash of the video path and every model/capture option),
                   written atomically; a re-run skips videos whose cache
                   exists (no model is built at all when none is missing)
                   unless ``force=True``
``per_video.csv``  one row per video: top-k predictions (class names from
                   :mod:`vizattn.labels`), the true label when known,
                   ``correct``, per-block means of every statistic kind, and,
                   where a masks file matches the video's stem in
                   ``masks_dir``, the :mod:`vizattn.metrics` scores
``failures.csv``   ``path,reason``: videos that could not be read or run,
                   with a one-line reason; the job still finishes
``summary.json``   aggregates per layer (hook), per block, per predicted class
                   and per true class: fixed-bin histograms, count, mean,
                   standard deviation, min, max; accuracy; metric means
``figures/``       histograms per block of SimAM energy, SimAM attention and
                   TAdaConv alpha (:func:`vizattn.figures.save`)
================== ===========================================================

The pipeline (the same on every runner):

1. the inputs are matched on the driver (:func:`read_inputs`) through Beam's
   ``FileSystems``, so ``gs://``, ``s3://`` and ``hdfs://`` work where Beam's
   extras for them are installed; an empty match fails at once, before any
   worker or model starts;
2. a ``DoFn`` builds the model once per worker process (on the first video
   that needs it, so a fully cached re-run builds none) and, per video,
   decodes it with :mod:`vizattn.video` (streaming, bounded memory), captures
   with :func:`vizattn.capture_stream` and saves the cache;
3. each video's summary (:func:`summarize_cache`) is keyed by layer, block and
   class, and merged with a ``CombineFn`` of mergeable :class:`Stats`
   (fixed-bin histograms, Chan's mean/variance merge): nothing is collected
   on one worker except the final aggregates;
4. the CSV files go through Beam's text sink (written to a temporary
   location and renamed when complete); ``summary.json`` and the figures are
   written atomically too.

Runners: ``"DirectRunner"`` runs here. It means Beam's local Python engine
(``FnApiRunner``), which honours ``--direct_num_workers`` and
``--direct_running_mode=multi_processing``; Beam's own default would first try
to download the Prism runner binary, which vizattn never does. Other runners
(``FlinkRunner``, ``SparkRunner``, ``DataflowRunner``, ``PortableRunner``, ...)
take their options in ``pipeline_args``, exactly as on Beam's command line.

Counters (Beam metrics, namespace ``vizattn``): ``videos_done``,
``videos_skipped``, ``videos_failed``, ``frames``, ``model_calls`` (calls of
the traced model, one per chunk of ``chunk`` frames) and ``model_builds``, and
the milliseconds spent per stage (:data:`TIMERS`); :func:`run_batch` returns
them and :func:`describe` prints them.

Beam is an optional dependency: ``pip install "vizattn[scale]"``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import hashlib
import io
import itertools
import json
import logging
import math
import os
import posixpath
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vizattn.cache import KINDS, LOGITS_NAME, MAP_KINDS, Cache, kind_of, load_cache, softmax
from vizattn.errors import VizAttnError
from vizattn.files import atomic_write

__all__ = [
    "BINS",
    "COUNTERS",
    "DEFAULT_KINDS",
    "METRICS",
    "STAT_KINDS",
    "TIMERS",
    "Stats",
    "VIDEO_EXTENSIONS",
    "VideoItem",
    "cache_name",
    "describe",
    "read_inputs",
    "run_batch",
    "summarize_cache",
]

#: What a batch captures by default: SimAM attention and energy, TAdaConv alpha, logits.
DEFAULT_KINDS = ("simam", "simam_energy", "tada", "logits")

#: Fixed histogram edges per kind (values outside go to ``below``/``above``).
#: SimAM energy ``e*`` lies in (0, 2] (log bins); attention ``sigmoid(1/e*)`` in
#: (0.5, 1); TAdaConv's alpha is 1 at the identity; squeeze-excitation gates lie in [0, 1].
BINS: dict[str, np.ndarray] = {
    "simam_energy": np.concatenate([np.geomspace(1e-3, 2.0, 61)[:-1], [2.0 + 1e-6]]),
    "simam": np.linspace(0.5, 1.0, 51),
    "tada": np.linspace(0.0, 2.0, 51),
    "se": np.linspace(0.0, 1.0, 51),
}

#: Kinds that get statistics (moments; a histogram where :data:`BINS` has edges).
STAT_KINDS = ("simam", "simam_energy", "simam_input", "activation", "se", "tada")

#: The Beam counters of a batch, namespace ``vizattn``.
COUNTERS = (
    "videos_done",
    "videos_skipped",
    "videos_failed",
    "frames",
    "model_calls",
    "model_builds",
)

#: Timing counters (milliseconds summed over workers): model building, decoding,
#: the model with its hooks (``ms_first_capture``: the part spent on each worker's
#: first video, which traces the model), concatenating and saving caches.
TIMERS = ("ms_build", "ms_decode", "ms_capture", "ms_first_capture", "ms_save")

#: File endings taken from a folder (a glob or a list file takes any file).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg")

#: Scores taken from :mod:`vizattn.metrics` when a masks file matches a video.
METRICS = ("pointing_game", "energy_inside", "auroc")

_NAMESPACE = "vizattn"
_FAILED = "failed"
_LIST_ENDINGS = (".txt", ".csv", ".tsv", ".lst")
_BLOCKS = ("stem", "block0", "block1", "block2", "block3", "block4")
_CACHE_VERSION = 1

log = logging.getLogger("vizattn")


# -- mergeable statistics ----------------------------------------------------------


@dataclasses.dataclass
class Stats:
    """Mergeable statistics of a set of values: moments and a fixed-bin histogram.

    Merging is exact for counts and histograms and uses Chan et al.'s pairwise
    update for the mean and variance, so statistics computed per video and
    merged in any order (as Beam's ``CombineFn`` does across workers) equal
    those of all values at once, up to float64 rounding.

    Attributes:
      count: number of finite values.
      mean: their mean.
      m2: sum of squared deviations from the mean (``variance = m2 / count``).
      min, max: extremes (``inf``/``-inf`` when empty).
      kind: the capture kind, which picks the histogram edges (:data:`BINS`).
      hist: int64 ``[bins]`` counts inside the edges, or ``None`` for kinds without edges.
      below, above: values under the first edge / over the last.
      nonfinite: NaN and infinite values (left out of everything else).

    >>> a, b = Stats.of([1.0, 2.0]), Stats.of([3.0])
    >>> a.merge(b).mean, a.merge(b).count
    (2.0, 3)
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    kind: str | None = None
    hist: np.ndarray | None = None
    below: int = 0
    above: int = 0
    nonfinite: int = 0

    @classmethod
    def of(cls, values: Any, kind: str | None = None) -> Stats:
        """Statistics of ``values`` (any shape), histogrammed with ``BINS[kind]`` if any."""
        v = np.asarray(values, np.float64).ravel()
        finite = np.isfinite(v)
        bad = int(v.size - finite.sum())
        v = v[finite]
        edges = BINS.get(kind) if kind is not None else None
        hist = None
        below = above = 0
        if edges is not None:
            hist = np.histogram(v, bins=edges)[0].astype(np.int64)
            below = int((v < edges[0]).sum())
            above = int((v > edges[-1]).sum())
        if v.size == 0:
            return cls(kind=kind, hist=hist, nonfinite=bad)
        mean = float(v.mean())
        return cls(
            count=int(v.size),
            mean=mean,
            m2=float(((v - mean) ** 2).sum()),
            min=float(v.min()),
            max=float(v.max()),
            kind=kind,
            hist=hist,
            below=below,
            above=above,
            nonfinite=bad,
        )

    def merge(self, other: Stats) -> Stats:
        """The statistics of both sets of values (a new object)."""
        n = self.count + other.count
        if n == 0:
            mean, m2 = 0.0, 0.0
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.count / n
            m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        if self.hist is None or other.hist is None:
            hist = self.hist if other.hist is None else other.hist
            hist = None if hist is None else hist.copy()
        else:
            hist = self.hist + other.hist
        return Stats(
            count=n,
            mean=mean,
            m2=m2,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            kind=self.kind or other.kind,
            hist=hist,
            below=self.below + other.below,
            above=self.above + other.above,
            nonfinite=self.nonfinite + other.nonfinite,
        )

    @property
    def variance(self) -> float:
        """Population variance (``nan`` when empty)."""
        return self.m2 / self.count if self.count else math.nan

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: count, mean, std, min, max and, with edges, the histogram."""
        out: dict[str, Any] = {
            "count": self.count,
            "mean": _json_float(self.mean if self.count else math.nan),
            "std": _json_float(math.sqrt(self.variance) if self.count else math.nan),
            "min": _json_float(self.min),
            "max": _json_float(self.max),
        }
        if self.nonfinite:
            out["nonfinite"] = self.nonfinite
        if self.hist is not None:
            out["hist"] = self.hist.tolist()
            out["below"] = self.below
            out["above"] = self.above
        return out


def _json_float(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _merge_all(stats: Iterable[Stats]) -> Stats:
    out = Stats()
    for s in stats:
        out = out.merge(s)
    return out


def _block_of(hook: str) -> str:
    """``"block3_layer1/simam"`` -> ``"block3"``; ``"stem/simam"`` -> ``"stem"``."""
    return hook.rsplit("/", 1)[0].split("_layer", 1)[0]


def _block_stats(hooks: Mapping[str, Stats]) -> dict[str, Stats]:
    """Per-hook stats -> ``{"block3/simam": merged}``."""
    grouped: dict[str, list[Stats]] = {}
    for hook, s in hooks.items():
        grouped.setdefault(f"{_block_of(hook)}/{kind_of(hook)}", []).append(s)
    return {key: _merge_all(parts) for key, parts in sorted(grouped.items())}


# -- inputs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VideoItem:
    """One video of a batch.

    Attributes:
      path: the video (a local path or a Beam filesystem URL).
      label: the true class as given (an index or a class name), or ``None``.
      cache: where its cache goes (set by :func:`run_batch`).
      masks: the matching masks file, or ``None``.
    """

    path: str
    label: str | None = None
    cache: str | None = None
    masks: str | None = None


def _filesystems():
    """Beam's ``FileSystems``, imported without its optional-extra warnings."""
    return _import_beam().io.filesystems.FileSystems


def _import_beam():
    """``apache_beam``, or a one-line error naming the extra to install."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    quiet = [logging.getLogger(n) for n in ("apache_beam.io.filesystems", "apache_beam.io.gcp")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # Beam warns about every cloud extra it lacks
    try:
        import apache_beam
        import apache_beam.io.filesystems  # noqa: F401
    except ImportError as e:
        raise VizAttnError(
            f"vizattn batch needs Apache Beam ({e}); install it with: pip install 'vizattn[scale]'."
        ) from None
    finally:
        logging.disable(previous)
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
        for h in list(root.handlers):  # a root logging.warning() adds a handler
            if h not in handlers:
                root.removeHandler(h)
    return apache_beam


beam = _import_beam()


def _is_local(path: str) -> bool:
    return _filesystems().get_scheme(path) in (None, "file")


def _join(folder: str, *parts: str) -> str:
    fs = _filesystems()
    return fs.join(folder, *parts)


def _match(pattern: str) -> list[str]:
    fs = _filesystems()
    try:
        result = fs.match([pattern])[0]
    except Exception as e:  # BeamIOError for an unknown scheme or a missing bucket
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise VizAttnError(f"cannot list {pattern!r}: {reason}.") from None
    return sorted(m.path for m in result.metadata_list)


def _exists(path: str) -> bool:
    return _filesystems().exists(path)


def _is_dir(path: str) -> bool:
    """A local folder, or a remote path ending in ``/`` (object stores have no folders)."""
    if _is_local(path):
        return os.path.isdir(path)
    return path.endswith("/")


def _read_text(path: str) -> str:
    fs = _filesystems()
    with fs.open(path) as f:
        return f.read().decode("utf-8-sig")


def read_inputs(inputs: str | os.PathLike | Sequence[str]) -> list[VideoItem]:
    """Expands INPUTS into videos, on the driver, through Beam's filesystems.

    Args:
      inputs: a glob (``videos/*.mp4``, ``gs://bucket/val/**``), a folder (its
        files with a video ending, :data:`VIDEO_EXTENSIONS`, recursively; end a
        bucket folder with ``/``), a
        text or CSV file (``.txt .csv .tsv .lst``) with one path per line and
        an optional label after a comma or tab (a header line ``path,label``
        is skipped; relative paths are relative to the list file), or a list
        of paths.

    Returns:
      The videos, in order, without duplicates.

    Raises:
      VizAttnError: nothing matched, or the list file cannot be read.
    """
    if not isinstance(inputs, str | os.PathLike):
        items = [VideoItem(os.fspath(p)) for p in inputs]
        return _dedupe(items, what="the given list")
    text = os.fspath(inputs)
    if not text:
        raise VizAttnError("no INPUTS given; pass a glob, a folder or a list file of videos.")
    if any(c in text for c in "*?["):
        items = [VideoItem(p) for p in _match(text) if not p.endswith("/")]
        return _dedupe(items, what=f"the glob {text!r}")
    if _is_dir(text):
        pattern = _join(text, "**")
        found = [p for p in _match(pattern) if p.lower().endswith(VIDEO_EXTENSIONS)]
        return _dedupe([VideoItem(p) for p in found], what=f"the folder {text!r}")
    if not _exists(text):
        raise VizAttnError(
            f"INPUTS {text!r} does not exist; pass a glob, a folder or a list file of videos."
        )
    if text.lower().endswith(_LIST_ENDINGS):
        return _dedupe(_read_list(text), what=f"the list {text!r}")
    return [VideoItem(text)]


def _read_list(path: str) -> list[VideoItem]:
    try:
        content = _read_text(path)
    except (OSError, UnicodeDecodeError) as e:
        raise VizAttnError(f"cannot read the list file {path!r} ({e}).") from None
    base = posixpath.dirname(path) if not _is_local(path) else os.path.dirname(path)
    delimiter = "\t" if path.lower().endswith(".tsv") or "\t" in content else ","
    items = []
    for n, row in enumerate(csv.reader(io.StringIO(content), delimiter=delimiter)):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if n == 0 and cells[0].lower() in ("path", "video", "file", "filename"):
            continue
        video = cells[0]
        if "://" not in video and not os.path.isabs(video):  # relative to the list file
            video = os.path.join(base, video) if _is_local(base) else _join(base, video)
        label = cells[1] if len(cells) > 1 and cells[1] else None
        items.append(VideoItem(video, label))
    return items


def _dedupe(items: list[VideoItem], *, what: str) -> list[VideoItem]:
    """Drops repeats; local paths become absolute (workers may run elsewhere)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if "://" not in item.path:
            item = dataclasses.replace(item, path=os.path.abspath(item.path))
        if item.path not in seen:
            seen.add(item.path)
            out.append(item)
    if not out:
        raise VizAttnError(
            f"no videos in {what}; check the pattern (quote it so the shell does not expand it)."
        )
    return out


# -- options -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Config:
    """Everything a worker needs (small, picklable)."""

    checkpoint: str | None
    build_options: tuple[tuple[str, Any], ...]
    size: tuple[int, int] | None
    chunk: int
    kinds: tuple[str, ...]
    names: str | tuple[str, ...] | None
    reduce: str | None
    top_k: int
    force: bool
    out_dir: str
    metric_columns: tuple[str, ...]

    def key(self) -> dict[str, Any]:
        """What a cache depends on (besides the video path)."""
        return {
            "version": _CACHE_VERSION,
            "checkpoint": self.checkpoint,
            "build_options": dict(self.build_options),
            "size": self.size,
            "chunk": self.chunk,
            "kinds": list(self.kinds),
            "names": self.names,
            "reduce": self.reduce,
        }


def cache_name(path: str, key: Mapping[str, Any]) -> str:
    """``{stem}-{hash}.npz``: a stable name from the video path and the options.

    >>> cache_name("videos/a.mp4", {"chunk": 16})
    'a-359197a681610b42.npz'
    """
    digest = hashlib.sha256(
        json.dumps({"path": path, **key}, sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    stem = os.path.splitext(posixpath.basename(path.rstrip("/")))[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "video"
    return f"{stem}-{digest}.npz"


def _stem(path: str) -> str:
    return os.path.splitext(posixpath.basename(path.rstrip("/")))[0]


# -- the model, once per worker --------------------------------------------------------

_MODELS: dict[str, Any] = {}


def _get_model(checkpoint: str | None, build_options: tuple) -> tuple[Any, bool]:
    """The process's model for these options, built once; ``(model, built_now)``."""
    key = json.dumps([checkpoint, build_options], sort_keys=True, default=str)
    if key in _MODELS:
        return _MODELS[key], False
    _MODELS[key] = _load_model(checkpoint, dict(build_options))
    return _MODELS[key], True


def _load_model(checkpoint: str | None, options: dict[str, Any]):
    """:func:`vizattn.load_model`, deterministic for ``checkpoint="random"`` with a ``seed``.

    Random initialization draws from TensorFlow's global generator; seeding it
    first makes every worker process build the same weights.
    """
    import vizattn

    if checkpoint == "random" and options.get("seed") is not None:
        import tf_keras

        tf_keras.utils.set_random_seed(int(options["seed"]))
    if checkpoint and not checkpoint.startswith(("http://", "https://")) and "://" in checkpoint:
        with _local_copy(checkpoint) as local:  # a file on a Beam filesystem (gs://...)
            return vizattn.load_model(local, notify=None, **options)
    return vizattn.load_model(checkpoint, notify=None, **options)


def _capture_chunks(model, frames, config: _Config) -> Iterator[Cache]:
    """The one capture call of a batch: streaming, chunk by chunk, states carried."""
    import vizattn

    yield from vizattn.capture_stream(
        model,
        frames,
        chunk=config.chunk,
        names=config.names,
        kinds=list(config.kinds),
        reduce=config.reduce,
        size=config.size,
    )


def _class_names(model) -> list[str] | None:
    try:
        from vizattn.labels import class_names
    except ImportError:  # pragma: no cover - labels ships with vizattn
        return None
    return class_names(model)


# -- per-video summary -----------------------------------------------------------------


def summarize_cache(
    cache: Cache,
    *,
    top_k: int = 5,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The summary of one video's cache: predictions and per-hook statistics.

    Args:
      cache: a cache of one video (batch 1), e.g. from :func:`vizattn.capture`
        with ``stream=True`` or a batch's ``caches/`` file.
      top_k: how many predictions to keep.
      class_names: names of the classes (default: ``cache.metadata["batch"]``'s
        or indices).

    Returns:
      ``{"frames", "top": [(index, probability), ...], "stats": {hook: Stats}}``;
      the prediction is the last frame's (a stream model's running average over
      the whole video, or the clip's logits). Statistics cover every hook whose
      kind is in :data:`STAT_KINDS`.
    """
    stats: dict[str, Stats] = {}
    for name in cache:
        kind = kind_of(name)
        if kind in STAT_KINDS:
            stats[name] = Stats.of(cache[name], kind)
    top: list[tuple[int, float]] = []
    if LOGITS_NAME in cache:
        logits = np.asarray(cache[LOGITS_NAME], np.float64)
        last = logits[0, -1] if logits.ndim == 3 else logits[0]
        prob = softmax(last)
        order = np.argsort(-prob, kind="stable")[: max(1, int(top_k))]
        top = [(int(i), float(prob[i])) for i in order]
    if class_names is None:
        class_names = cache.metadata.get("batch", {}).get("class_names")
    return {
        "frames": int(cache.frames),
        "top": top,
        "top_names": [class_names[i] if class_names else str(i) for i, _ in top],
        "stats": stats,
    }


def _resolve_label(label: str | None, names: Sequence[str] | None) -> tuple[int | None, str]:
    """``(index or None, note)``."""
    if label is None:
        return None, ""
    if names:
        from vizattn.labels import resolve_class

        try:
            index = resolve_class(label, names)
        except VizAttnError as e:
            return None, str(e)
        return (index, "") if isinstance(index, int) else (None, f"label {label!r} is not a class")
    if str(label).strip().isdigit():
        return int(label), ""
    return None, f"label {label!r} is not an index and the model has no class names"


def _video_metrics(cache: Cache, masks_path: str, kinds: Sequence[str]) -> tuple[dict, Any]:
    """``({"{metric}/{block}/{kind}": value, ...}, masks)`` from a masks file."""
    from vizattn import metrics
    from vizattn.evaluation import load_masks

    with _local_copy(masks_path) as local:
        masks = load_masks(local)
    target = masks.target_mask()
    if target.shape[0] != cache.frames:
        raise VizAttnError(
            f"masks {posixpath.basename(masks_path)!r} have {target.shape[0]} frames, the video "
            f"{cache.frames}"
        )
    out: dict[str, float | None] = {}
    for kind in kinds:
        if kind not in MAP_KINDS:
            continue
        held = {_block_of(n) for n in cache.names(kind=kind)}
        for block in sorted(held):
            maps = cache.frame_maps(block, kind, normalize=None)
            for metric in METRICS:
                score = getattr(metrics, metric)(maps, target, onset=masks.onset)
                out[f"{metric}/{block}/{kind}"] = _json_float(score.all)
                if masks.onset is not None:
                    out[f"{metric}_after_onset/{block}/{kind}"] = _json_float(score.after_onset)
    return out, masks


@contextlib.contextmanager
def _local_copy(path: str) -> Iterator[str]:
    """A local path for ``path``: itself when local, else a temporary copy."""
    if _is_local(path):
        yield path
        return
    fs = _filesystems()
    suffix = "-" + posixpath.basename(path.rstrip("/"))  # keeps endings such as .tar.gz
    fd, tmp = tempfile.mkstemp(prefix="vizattn-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out, fs.open(path) as src:
            while block := src.read(1 << 22):
                out.write(block)
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _write_bytes(path: str, data: bytes) -> None:
    """Atomic local write, or a Beam filesystem write (object stores commit on close)."""
    if _is_local(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, lambda f: f.write(data))
        return
    fs = _filesystems()
    with fs.create(path) as f:
        f.write(data)


def _save_cache(cache: Cache, path: str) -> None:
    if _is_local(path):
        cache.save(path)
        return
    with tempfile.TemporaryDirectory(prefix="vizattn-") as folder:
        local = cache.save(os.path.join(folder, "cache.npz"))
        with open(local, "rb") as f:
            _write_bytes(path, f.read())


def _load_cache(path: str) -> Cache:
    with _local_copy(path) as local:
        return load_cache(local)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, VizAttnError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- the Beam stages -------------------------------------------------------------------


class _CaptureVideos(beam.DoFn):
    """Decodes, captures and summarizes videos; the model is built once per worker."""

    def __init__(self, config: _Config):
        super().__init__()
        self._config = config
        self._model = None
        self._names = None
        self._built_now = False
        self._traced = False

    def setup(self):
        # The model is built once per worker process (memoized in _MODELS), on the
        # first video that needs it: a re-run whose videos are all cached, or whose
        # only uncached videos are unreadable, builds nothing.
        self._model = None
        self._names = None
        self._built_now = False
        self._traced = False

    def _ensure_model(self):
        if self._model is None:
            cfg = self._config
            start = time.perf_counter()
            self._model, self._built_now = _get_model(cfg.checkpoint, cfg.build_options)
            self._names = _class_names(self._model)
            if self._built_now:
                _counter("ms_build").inc(_ms(start))
        if self._built_now:  # counted here: setup() has no metrics context
            _counter("model_builds").inc()
            self._built_now = False
        return self._model

    def process(self, item: VideoItem):
        try:
            yield self._process(item)
        except Exception as e:  # a bad video must not stop the job
            if _INTERRUPTED.is_set():  # Ctrl-C broke this video (TensorFlow may say
                raise KeyboardInterrupt from e  # "Concurrent access?"): not its fault
            _counter("videos_failed").inc()
            log.warning("%s failed: %s", item.path, _one_line(e))
            yield beam.pvalue.TaggedOutput(_FAILED, (item.path, _one_line(e)))

    def _process(self, item: VideoItem) -> dict[str, Any]:
        cfg = self._config
        cache = None
        status = "skipped"
        if not cfg.force and _exists(item.cache):
            with contextlib.suppress(VizAttnError):
                cache = _load_cache(item.cache)
        note = ""
        if cache is None:
            status = "done"
            cache, note = self._capture(item)
        names = cache.metadata.get("batch", {}).get("class_names") or self._names
        summary = summarize_cache(cache, top_k=cfg.top_k, class_names=names)
        label, label_note = _resolve_label(item.label, names)
        scores: dict[str, Any] = {}
        if item.masks is not None:
            try:
                scores, masks = _video_metrics(cache, item.masks, cfg.kinds)
                if label is None and masks.label is not None:
                    label = int(masks.label)
            except VizAttnError as e:
                label_note = "; ".join(filter(None, [label_note, f"metrics: {e}"]))
        predicted = summary["top"][0][0] if summary["top"] else None
        _counter(f"videos_{status}").inc()
        return {
            **summary,
            "path": item.path,
            "name": _stem(item.path),
            "cache": item.cache,
            "status": status,
            "label": label,
            "label_name": names[label] if names and label is not None else None,
            "predicted": predicted,
            "correct": None if label is None or predicted is None else predicted == label,
            "metrics": scores,
            "note": "; ".join(filter(None, [note, label_note])),
        }

    def _capture(self, item: VideoItem) -> tuple[Cache, str]:
        from vizattn.video import VideoReader

        decode = [0.0]

        def timed(frames):
            while True:
                start = time.perf_counter()
                frame = next(frames, None)
                decode[0] += time.perf_counter() - start
                if frame is None:
                    return
                yield frame

        with _local_copy(item.path) as local, VideoReader(local) as reader:
            frames = timed(iter(reader))
            first = next(frames, None)  # a video that decodes nothing fails before the model
            if first is None:
                raise VizAttnError(f"no frames could be decoded from {item.path!r}.")
            model = self._ensure_model()
            start = time.perf_counter()
            chunks = []
            for chunk in _capture_chunks(model, itertools.chain([first], frames), self._config):
                _counter("model_calls").inc()
                chunks.append(chunk)
            note = f"truncated: {reader.truncated_reason}" if reader.truncated else ""
        model_ms = max(0, _ms(start) - int(decode[0] * 1000))
        _counter("ms_decode").inc(int(decode[0] * 1000))
        _counter("ms_capture").inc(model_ms)
        if not self._traced:  # this worker's first video: includes tracing the model
            self._traced = True
            _counter("ms_first_capture").inc(model_ms)
        start = time.perf_counter()
        cache = Cache.concat(chunks)
        _counter("frames").inc(cache.frames)
        cache.metadata["batch"] = {
            "path": item.path,
            "options": self._config.key(),
            "class_names": self._names,
            "note": note,
        }
        _save_cache(cache, item.cache)
        _counter("ms_save").inc(_ms(start))
        return cache, note


def _counter(name: str):
    return beam.metrics.Metrics.counter(_NAMESPACE, name)


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _keyed(summary: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], Stats]]:
    """A video's summary as ``((group, class, name), Stats)`` pairs for the combiner."""
    hooks: Mapping[str, Stats] = summary["stats"]
    blocks = _block_stats(hooks)
    yield ("all", "", f"status/{summary['status']}"), Stats.of([1.0])
    yield ("all", "", "frames"), Stats.of([summary["frames"]])
    for hook, s in hooks.items():
        yield ("layer", "", hook), s
    for key, s in blocks.items():
        yield ("block", "", key), s
    groups = []
    if summary["predicted"] is not None:
        groups.append(("predicted", str(summary["predicted"])))
        yield ("name", str(summary["predicted"]), summary["top_names"][0]), Stats.of([1.0])
    if summary["label"] is not None:
        groups.append(("label", str(summary["label"])))
        if summary["label_name"] is not None:
            yield ("name", str(summary["label"]), summary["label_name"]), Stats.of([1.0])
        yield ("all", "", "correct"), Stats.of([float(summary["correct"])])
    for group, cls in groups:
        yield (group, cls, "videos"), Stats.of([1.0])
        if summary["correct"] is not None:
            yield (group, cls, "correct"), Stats.of([float(summary["correct"])])
        for key, s in blocks.items():
            yield (group, cls, key), s
    for name, value in summary["metrics"].items():
        if value is not None:
            yield ("metric", "", name), Stats.of([value])
            if summary["label"] is not None:
                yield ("metric_by_label", str(summary["label"]), name), Stats.of([value])


class _MergeStats(beam.CombineFn):
    """Merges :class:`Stats` (associative and commutative: any worker can merge any part)."""

    def create_accumulator(self):
        return Stats()

    def add_input(self, accumulator, value):
        return accumulator.merge(value)

    def merge_accumulators(self, accumulators):
        return _merge_all(accumulators)

    def extract_output(self, accumulator):
        return accumulator


def _failure_key(failure) -> tuple[tuple[str, str, str], Stats]:
    return ("all", "", "status/failed"), Stats.of([1.0])


def _csv_columns(config: _Config) -> list[str]:
    columns = [
        "path",
        "name",
        "status",
        "frames",
        "label",
        "label_name",
        "predicted",
        "predicted_name",
        "probability",
        "correct",
        "top_k",
    ]
    for kind in config.kinds:
        if kind in STAT_KINDS:
            columns += [f"{kind}_mean/{block}" for block in _BLOCKS]
    columns += list(config.metric_columns)
    return [*columns, "cache", "note"]


def _metric_columns(kinds: Sequence[str], with_masks: bool) -> tuple[str, ...]:
    if not with_masks:
        return ()
    return tuple(
        f"{metric}{suffix}/{block}/{kind}"
        for kind in kinds
        if kind in MAP_KINDS
        for block in _BLOCKS
        for metric in METRICS
        for suffix in ("", "_after_onset")
    )


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return str(value)


def _csv_line(cells: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([_format(c) for c in cells])
    return buffer.getvalue()


def _video_row(summary: Mapping[str, Any], columns: Sequence[str]) -> str:
    blocks = _block_stats(summary["stats"])
    top = summary["top"]
    values: dict[str, Any] = {
        "path": summary["path"],
        "name": summary["name"],
        "status": summary["status"],
        "frames": summary["frames"],
        "label": summary["label"],
        "label_name": summary["label_name"],
        "predicted": top[0][0] if top else None,
        "predicted_name": summary["top_names"][0] if top else None,
        "probability": top[0][1] if top else None,
        "correct": summary["correct"],
        "top_k": " ".join(f"{i}:{p:.4f}" for (i, p) in top),
        "cache": summary["cache"],
        "note": summary["note"],
    }
    for key, s in blocks.items():
        block, kind = key.split("/")
        values[f"{kind}_mean/{block}"] = s.mean if s.count else None
    values.update(summary["metrics"])
    return _csv_line([values.get(c) for c in columns])


# -- summary.json and figures ------------------------------------------------------------


def _write_outputs(aggregates: list, config: _Config, context: Mapping[str, Any]) -> None:
    """Writes ``summary.json`` and the figures from the combined statistics (small)."""
    table: dict[tuple[str, str, str], Stats] = {tuple(k): v for k, v in aggregates}

    def count(name: str) -> int:
        s = table.get(("all", "", name))
        return 0 if s is None else s.count

    by: dict[str, dict[str, dict[str, Any]]] = {"predicted": {}, "label": {}}
    names = {cls: key for (group, cls, key) in table if group == "name"}
    for (group, cls, key), s in sorted(table.items(), key=lambda kv: _order(kv[0])):
        if group in by:
            entry = by[group].setdefault(cls, {"name": names.get(cls, cls)})
            if key == "videos":
                entry["videos"] = s.count
            elif key == "correct":
                entry["accuracy"] = _json_float(s.mean)
            else:
                entry.setdefault("blocks", {})[key] = s.as_dict()
    metric_means: dict[str, Any] = {
        key: s.as_dict() for (group, _, key), s in sorted(table.items()) if group == "metric"
    }
    metric_by_label: dict[str, dict[str, Any]] = {}
    for (group, cls, key), s in sorted(table.items()):
        if group == "metric_by_label":
            metric_by_label.setdefault(cls, {})[key] = s.as_dict()
    frames = table.get(("all", "", "frames"))
    correct = table.get(("all", "", "correct"))
    summary = {
        **context,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "videos": {
            "done": count("status/done"),
            "skipped": count("status/skipped"),
            "failed": count("status/failed"),
            "frames": int(round(frames.mean * frames.count)) if frames and frames.count else 0,
        },
        "accuracy": None if correct is None else _json_float(correct.mean),
        "videos_with_label": 0 if correct is None else correct.count,
        "bins": {kind: edges.tolist() for kind, edges in BINS.items()},
        "layers": {k: s.as_dict() for (g, _, k), s in sorted(table.items()) if g == "layer"},
        "blocks": {k: s.as_dict() for (g, _, k), s in sorted(table.items()) if g == "block"},
        "by_predicted_class": by["predicted"],
        "by_label": by["label"],
        "metrics": metric_means,
        "metrics_by_label": metric_by_label,
    }
    blocks = {k: s for (g, _, k), s in table.items() if g == "block"}
    summary["figures"] = _write_figures(blocks, config.out_dir)
    data = json.dumps(summary, indent=1, sort_keys=False, default=str).encode()
    _write_bytes(_join(config.out_dir, "summary.json"), data)


def _order(key: tuple[str, str, str]) -> tuple:
    group, cls, name = key
    return (group, int(cls) if cls.isdigit() else -1, cls, name)


_FIGURES = {
    "simam_energy": ("SimAM energy $e^*$", True),
    "simam": (r"SimAM attention $\sigma(1/e^*)$", False),
    "tada": (r"TAdaConv $\alpha$", False),
}


def _write_figures(blocks: Mapping[str, Stats], out_dir: str) -> list[str]:
    """One histogram figure per kind (a line per block) under ``out_dir/figures``."""
    from matplotlib.figure import Figure

    from vizattn import figures

    written = []
    for kind, (label, log_x) in _FIGURES.items():
        rows = sorted(
            ((k.split("/")[0], s) for k, s in blocks.items() if k.endswith(f"/{kind}")),
            key=lambda r: _BLOCKS.index(r[0]) if r[0] in _BLOCKS else 99,
        )
        rows = [(b, s) for b, s in rows if s.hist is not None and s.hist.sum() > 0]
        if not rows:
            continue
        edges = BINS[kind]
        with figures.paper_style():
            fig = Figure(
                figsize=(figures.ONE_COLUMN, figures.ONE_COLUMN * 0.62), layout="constrained"
            )
            ax = fig.subplots()
            for block, s in rows:
                ax.stairs(s.hist / s.hist.sum(), edges, label=f"{block} (mean {s.mean:.3g})")
            if log_x:
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("fraction of values")
            ax.legend(loc="best")
        name = f"{kind}_per_block.pdf"
        destination = _join(out_dir, "figures", name)
        if _is_local(destination):
            figures.save(fig, destination)
        else:
            with tempfile.TemporaryDirectory(prefix="vizattn-") as folder:
                local = figures.save(fig, os.path.join(folder, name))
                _write_bytes(destination, local.read_bytes())
        written.append(posixpath.join("figures", name))
    return written


# -- the driver --------------------------------------------------------------------------


def _check_runner(runner: str):
    """A Beam runner object for ``runner``, or a one-line error (nothing is started)."""
    if not isinstance(runner, str) or not runner:
        raise VizAttnError(f"runner must be a runner name, got {runner!r}.")
    if runner.lower() in ("directrunner", "direct"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.runner import create_runner

    known = StandardOptions.KNOWN_RUNNER_NAMES
    try:
        return create_runner(runner)
    except ValueError:
        raise VizAttnError(
            f"unknown runner {runner!r}; use one of {', '.join(known)} or a runner class path."
        ) from None
    except ImportError as e:
        extra = "gcp" if "dataflow" in runner.lower() else "the runner's extra"
        raise VizAttnError(
            f"runner {runner!r} is not available ({' '.join(str(e).split())}); install "
            f"apache-beam[{extra}]."
        ) from None


def _check_options(
    kinds: Sequence[str], names, reduce, chunk: int, top_k: int, size
) -> tuple[tuple[str, ...], Any, tuple[int, int] | None]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS or k == "state"]
    if unknown or not kinds:
        raise VizAttnError(
            f"unknown kind {unknown[0]!r} for a batch; use some of "
            f"{', '.join(k for k in KINDS if k != 'state')}."
            if unknown
            else "kinds is empty; pass e.g. kinds=['simam', 'simam_energy', 'logits']."
        )
    if "logits" not in kinds:
        kinds = (*kinds, "logits")
    if names is not None and not isinstance(names, str):
        if callable(names):
            raise VizAttnError("names must be a prefix or a list of prefixes for a batch.")
        names = tuple(names)
    if reduce not in (None, "mean", "norm", "max"):
        raise VizAttnError(f"unknown reduce {reduce!r}; use 'mean', 'norm', 'max' or None.")
    if int(chunk) < 1 or int(top_k) < 1:
        raise VizAttnError(f"chunk and top_k must be >= 1, got {chunk} and {top_k}.")
    if size is not None:
        size = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise VizAttnError(f"size must be (height, width), got {size!r}.")
    return kinds, names, size


def _check_pipeline_args(pipeline_args: Sequence[str]):
    """Beam ``PipelineOptions``; an option Beam does not know is an error, not a silent no-op."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if isinstance(pipeline_args, str):
        raise VizAttnError("pipeline_args must be a list of options, e.g. ['--runner=...'].")
    args = [str(a) for a in pipeline_args]
    known = set(PipelineOptions([]).get_all_options())
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # Beam logs what it would discard; we raise instead
    try:
        options = PipelineOptions(args)
        unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - known)
    finally:
        logging.disable(previous)
    if unknown:
        raise VizAttnError(
            f"unknown pipeline option '--{unknown[0]}'; pass vizattn options before Beam's, "
            "and see Beam's pipeline options for your runner."
        )
    return options


def _masks_index(masks_dir: str | None) -> dict[str, str]:
    if masks_dir is None:
        return {}
    masks_dir = os.fspath(masks_dir)
    if not _is_dir(masks_dir) and not _exists(masks_dir):
        raise VizAttnError(f"masks folder {masks_dir!r} does not exist; pass --masks-dir FOLDER.")
    return {_stem(p): p for p in _match(_join(masks_dir, "*.npz"))}


def _counters(result) -> dict[str, int]:
    from apache_beam.metrics.metric import MetricsFilter

    out = dict.fromkeys((*COUNTERS, *TIMERS), 0)
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(_NAMESPACE))
    except (NotImplementedError, AttributeError):  # some runners report no metrics
        return out
    for c in query["counters"]:
        name = c.key.metric.name
        value = c.committed if c.committed is not None else c.attempted
        out[name] = out.get(name, 0) + int(value or 0)
    return out


def run_batch(
    inputs: str | os.PathLike | Sequence[str],
    out_dir: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    build_options: Mapping[str, Any] | None = None,
    size: int | tuple[int, int] | None = None,
    chunk: int = 16,
    masks_dir: str | os.PathLike | None = None,
    kinds: Sequence[str] = DEFAULT_KINDS,
    names: str | Sequence[str] | None = None,
    reduce: str | None = "mean",
    top_k: int = 5,
    runner: str = "DirectRunner",
    pipeline_args: Sequence[str] = (),
    force: bool = False,
) -> dict[str, Any]:
    """Runs the model over many videos with Apache Beam; writes caches, tables and figures.

    Args:
      inputs: a glob, a folder, a text/CSV list (``path[,label]`` per line) or a
        list of paths; see :func:`read_inputs`.
      out_dir: the output folder (local or a Beam filesystem URL).
      checkpoint: as for :func:`vizattn.load_model` (``None``/``"demo"``,
        ``"random"``, or a path). With ``"random"`` and ``build_options["seed"]``
        every worker builds identical weights.
      build_options: :func:`vizattn.load_model` keywords: ``model_id``,
        ``stream``, ``simam``, ``simam_position``, ``tada``, ``num_classes``, ``seed``.
      size: resize frames to ``(height, width)`` (an int for a square) before
        the model (:func:`vizattn.models.as_clip`); ``None`` keeps them.
      chunk: frames per model call (states carry over; values do not depend on it).
      masks_dir: a folder of masks files (``{video stem}.npz``, the shared
        format): videos with one get :mod:`vizattn.metrics` scores, and the
        file's ``label`` when the inputs give none.
      kinds: capture kinds (``logits`` is always added); statistics are kept
        for :data:`STAT_KINDS`, metrics computed for map kinds.
      names: hooks to capture (a prefix such as ``"block3"`` or a list); ``None``
        for all.
      reduce: channel reduction of spatial kinds while capturing (``"mean"``
        keeps caches small); ``None`` keeps every channel.
      top_k: predictions kept per video.
      runner: ``"DirectRunner"`` (local), ``"FlinkRunner"``, ``"SparkRunner"``,
        ``"DataflowRunner"``, ... or a runner class path.
      pipeline_args: Beam pipeline options, e.g. ``["--direct_num_workers=2",
        "--direct_running_mode=multi_processing"]`` or Dataflow's
        ``--project``, ``--region``, ``--temp_location``.
      force: recompute videos whose cache exists.

    Returns:
      The contents of ``summary.json`` plus ``"counters"`` (:data:`COUNTERS`)
      and ``"out_dir"``.

    Raises:
      VizAttnError: empty inputs, an unknown runner or kind, a missing masks
        folder, or the pipeline failing as a whole (a bad video does not: it
        goes to ``failures.csv``). All checks run before any model is built.
    """
    runner_obj = _check_runner(runner)
    options = _check_pipeline_args(pipeline_args)
    kinds, names, size = _check_options(kinds, names, reduce, chunk, top_k, size)
    build = dict(build_options or {})
    bad_keys = sorted(
        set(build)
        - {"model_id", "stream", "simam", "simam_position", "tada", "num_classes", "seed"}
    )
    if bad_keys:
        raise VizAttnError(
            f"unknown build option {bad_keys[0]!r}; use model_id, stream, simam, simam_position, "
            "tada, num_classes or seed."
        )
    items = read_inputs(inputs)
    out_dir = os.fspath(out_dir)
    masks = _masks_index(masks_dir)
    if _is_local(out_dir):
        out_dir = os.path.abspath(out_dir)
        try:
            os.makedirs(os.path.join(out_dir, "caches"), exist_ok=True)
        except OSError as e:
            raise VizAttnError(
                f"cannot create {out_dir!r} ({e.strerror}); pass --out DIR."
            ) from None
    else:
        with contextlib.suppress(Exception):  # object stores have no folders to make
            _filesystems().mkdirs(_join(out_dir, "caches"))
    if checkpoint is not None and os.path.exists(os.path.expanduser(str(checkpoint))):
        checkpoint = os.path.abspath(os.path.expanduser(str(checkpoint)))
    config = _Config(
        checkpoint=None if checkpoint is None else str(checkpoint),
        build_options=tuple(sorted(build.items())),
        size=size,
        chunk=int(chunk),
        kinds=kinds,
        names=names,
        reduce=reduce,
        top_k=int(top_k),
        force=bool(force),
        out_dir=out_dir,
        metric_columns=_metric_columns(kinds, bool(masks)),
    )
    caches_dir = _join(out_dir, "caches")
    items = [
        dataclasses.replace(
            item,
            cache=_join(caches_dir, cache_name(item.path, config.key())),
            masks=masks.get(_stem(item.path)),
        )
        for item in items
    ]
    context = {
        "inputs": inputs if isinstance(inputs, str) else [os.fspath(p) for p in inputs],
        "out_dir": out_dir,
        "runner": runner,
        "options": config.key(),
        "masks_dir": None if masks_dir is None else os.fspath(masks_dir),
        "videos_with_masks": sum(item.masks is not None for item in items),
    }
    columns = _csv_columns(config)

    from apache_beam.io import WriteToText

    pipeline = beam.Pipeline(runner=runner_obj, options=options)
    results = (
        pipeline
        | "Videos" >> beam.Create(items)
        | "Spread" >> beam.Reshuffle()
        | "Capture" >> beam.ParDo(_CaptureVideos(config)).with_outputs(_FAILED, main="videos")
    )
    videos, failed = results.videos, results[_FAILED]
    (
        videos
        | "Rows" >> beam.Map(_video_row, columns)
        | "PerVideoCsv"
        >> WriteToText(
            _join(out_dir, "per_video"),
            file_name_suffix=".csv",
            shard_name_template="",
            header=",".join(columns),
        )
    )
    (
        failed
        | "FailureRows" >> beam.Map(_csv_line)
        | "FailuresCsv"
        >> WriteToText(
            _join(out_dir, "failures"),
            file_name_suffix=".csv",
            shard_name_template="",
            header="path,reason",
        )
    )
    keyed = (
        videos | "Keys" >> beam.FlatMap(_keyed),
        failed | "FailureKeys" >> beam.Map(_failure_key),
    ) | "AllKeys" >> beam.Flatten()
    (
        keyed
        | "Combine" >> beam.CombinePerKey(_MergeStats())
        | "Gather" >> beam.combiners.ToList()
        | "Summary" >> beam.Map(_write_outputs, config, context)
    )
    temps_before = _beam_temps(out_dir)
    try:
        with _noticing_interrupts():
            result = pipeline.run()
            result.wait_until_finish()
        if _INTERRUPTED.is_set():  # caught somewhere inside the runner: still a stop
            raise KeyboardInterrupt
    except (KeyboardInterrupt, VizAttnError, Exception) as e:
        interrupted = isinstance(e, KeyboardInterrupt) or _INTERRUPTED.is_set()
        _remove_beam_temps(out_dir, keep=temps_before)  # unfinished outputs
        if interrupted:
            raise KeyboardInterrupt from None
        if isinstance(e, VizAttnError):
            raise
        raise VizAttnError(f"the batch pipeline failed: {_one_line(e)}") from e
    summary = json.loads(_read_text(_join(out_dir, "summary.json")))
    summary["counters"] = _counters(result)
    summary["out_dir"] = out_dir
    return summary


#: Set while a batch runs once Ctrl-C was pressed: a video that fails after it failed
#: because of it (TensorFlow interrupted mid-call), and the job must stop, not go on.
_INTERRUPTED = threading.Event()


@contextlib.contextmanager
def _noticing_interrupts() -> Iterator[None]:
    """Notes Ctrl-C in :data:`_INTERRUPTED` (then raises ``KeyboardInterrupt`` as usual)."""
    import signal

    _INTERRUPTED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame):
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _beam_temps(out_dir: str) -> set[str]:
    """Beam's temporary folders (``beam-temp-*``) in a local ``out_dir``."""
    if not _is_local(out_dir) or not os.path.isdir(out_dir):
        return set()
    return {n for n in os.listdir(out_dir) if n.startswith("beam-temp-")}


def _remove_beam_temps(out_dir: str, *, keep: set[str]) -> None:
    """Removes the temporary folders a stopped run left (not those it found)."""
    import shutil

    for name in _beam_temps(out_dir) - keep:
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)


def describe(result: Mapping[str, Any]) -> str:
    """One line about a finished batch (what ``vizattn batch`` prints at the end)."""
    c = result.get("counters", {})
    v = result.get("videos", {})
    failed = c.get("videos_failed", v.get("failed", 0))
    where = _join(result.get("out_dir", "."), "failures.csv")
    line = (
        f"{c.get('videos_done', v.get('done', 0))} videos done, "
        f"{c.get('videos_skipped', v.get('skipped', 0))} skipped (cached), "
        f"{failed} failed" + (f" (see {where})" if failed else "") + "; "
        f"{c.get('frames', 0)} frames, {c.get('model_calls', 0)} model calls, "
        f"{c.get('model_builds', 0)} model builds"
    )
    if result.get("accuracy") is not None:
        line += f"; accuracy {result['accuracy']:.3f} on {result['videos_with_label']} labelled"
    return line
