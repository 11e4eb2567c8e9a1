"""Heatmap videos: ``vizattn render video.mp4 --layer block3``.

:func:`render` decodes a video, runs a MoViNet on it (streaming with states, in
chunks of frames), captures the chosen layer's per-frame maps, overlays them on
the original frames at the video's own resolution and encodes the result.

>>> render("clip.mp4", layer="block3")            # doctest: +SKIP
RenderResult(output='clip_block3_simam.mp4', frames=100, ...)

Pipeline and memory: decoding, the model and encoding run in separate threads
connected by small bounded queues, so a 10-minute video never has more than a
few chunks of frames in memory. With ``normalize="clip"`` (one scale for the
whole video, so changes over time show) the maps must all exist before the
first frame can be colored: the first pass decodes and runs the model, keeping
only the small maps; the second pass decodes again and overlays and encodes.
``normalize="frame"`` needs one pass.

Streaming models run chunk by chunk carrying their states, which for causal
models gives exactly the frame-by-frame result; ``stream=False`` (base
models) runs independent clip chunks. Grad-CAM maps are computed per chunk.

Outputs are written atomically (temporary file, then rename), the input is
never modified, and nothing is left behind on error or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vizattn.errors import VizAttnError

__all__ = ["DEFAULT_RESOLUTION", "RenderResult", "render", "render_cli"]

# Input sizes of the released MoViNet models.
DEFAULT_RESOLUTION = {"a0": 172, "a1": 172, "a2": 224, "a3": 256, "a4": 290, "a5": 320}
MAP_KINDS = ("simam", "simam_energy", "simam_input", "activation", "gradcam")
_SENTINEL = object()


@dataclasses.dataclass
class RenderResult:
    """What :func:`render` wrote."""

    output: str
    frames: int
    seconds: float
    fps: float
    truncated: bool = False
    passes: int = 1

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


class Progress:
    """A one-line progress bar with frames/s on stderr (plain lines when not a TTY)."""

    def __init__(self, label: str, total: int | None, *, enabled: bool = True, stream=None):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.count, self.start, self._last = 0, time.perf_counter(), 0.0

    def update(self, n: int) -> None:
        self.count += n
        now = time.perf_counter()
        if self.enabled and self.tty and now - self._last > 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float, end: str = "") -> None:
        rate = self.count / max(now - self.start, 1e-9)
        if self.total:
            frac = min(1.0, self.count / self.total)
            bar = "#" * int(frac * 24)
            eta = (self.total - self.count) / rate if rate > 0 else 0
            text = (
                f"\r{self.label} [{bar:<24}] {self.count}/{self.total} frames "
                f"{rate:6.1f} frames/s ETA {eta:4.0f}s"
            )
        else:
            text = f"\r{self.label} {self.count} frames {rate:6.1f} frames/s"
        self.stream.write(text + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            if self.tty:
                self._draw(time.perf_counter(), end="\n")
            else:
                rate = self.count / max(time.perf_counter() - self.start, 1e-9)
                self.stream.write(f"{self.label}: {self.count} frames, {rate:.1f} frames/s\n")
                self.stream.flush()


def _threaded(source: Iterator, maxsize: int = 3) -> Iterator:
    """Runs ``source`` in a thread; yields its items through a bounded queue."""
    q: queue.Queue = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def work():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_SENTINEL)
        except BaseException as e:  # re-raised in the consumer
            q.put(e)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _SENTINEL:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _chunks(reader, size: int) -> Iterator[list]:
    batch = []
    for frame in reader:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _model_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """Keeps the aspect ratio: the shorter side becomes ``resolution`` (even sizes)."""
    scale = resolution / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)


class _MapMaker:
    """Runs the model chunk by chunk and returns per-frame maps ``{(layer, kind): [T, h, w]}``."""

    def __init__(self, model, layers, kinds, *, stream, size, predictions, chunk=None):
        import importlib

        # The module, not the ``vizattn.capture`` function re-exported under the same name.
        cap = importlib.import_module("vizattn.capture")
        from vizattn._tf import import_tf
        from vizattn.models import init_states

        self.tf = import_tf()
        self.model, self.layers, self.kinds, self.stream = model, layers, kinds, stream
        self.size = size
        self.chunk = chunk if stream else None
        self.capture_kinds = tuple(k for k in kinds if k != "gradcam")
        self.predictions = predictions
        prefixes = list(layers)
        wanted = set(self.capture_kinds) | ({"logits"} if predictions else set())

        def names(name: str) -> bool:
            if name == cap.LOGITS_NAME:
                return True
            ep = name.rsplit("/", 1)[0]
            return any(ep == p or ep.startswith(p + "_") for p in prefixes)

        self.run = None
        if wanted:
            self.run, _ = cap._capture_fn(
                model,
                ("render", tuple(prefixes), frozenset(wanted)),
                lambda n: cap._kind_of(n) in wanted and names(n),
                "mean",
            )
        self.cap = cap
        self.init_states = init_states
        self.states = None

    def _prepare(self, frames: list[np.ndarray]):
        x = self.tf.image.resize(np.stack(frames), self.size, method="bilinear") / 255.0
        return self.tf.clip_by_value(x, 0.0, 1.0)[None]

    def __call__(self, frames: list[np.ndarray]):
        n = len(frames)
        if self.stream and self.chunk and n < self.chunk:
            # The last, shorter chunk of a stream: pad with copies of its last frame so the
            # traced function is reused. Causal outputs of the real frames cannot depend on
            # frames after them, and the padded frames' outputs are dropped below.
            frames = list(frames) + [frames[-1]] * (self.chunk - n)
        maps, logits = self._run(self._prepare(frames))
        return {k: v[:n] for k, v in maps.items()}, logits

    def _run(self, x):
        maps, logits = {}, None
        if self.run is not None:
            if self.states is None or not self.stream:
                self.states = self.init_states(self.model, tuple(x.shape))
            with self.cap._instance_probes(self.model):
                records, states = self.run(x, self.states)
            if self.stream:
                self.states = states
            for layer in self.layers:
                for kind in self.capture_kinds:
                    got = [
                        v.numpy()[0]
                        for n, v in records.items()
                        if self.cap._kind_of(n) == kind and _in_layer(n, layer)
                    ]
                    maps[(layer, kind)] = _average_maps(got)
            if self.cap.LOGITS_NAME in records:
                logits = records[self.cap.LOGITS_NAME].numpy()[0]
        if "gradcam" in self.kinds:
            from vizattn.gradcam import gradcam

            for layer in self.layers:
                maps[(layer, "gradcam")] = gradcam(self.model, x.numpy(), layer)[0]
        return maps, logits


def _in_layer(name: str, layer: str) -> bool:
    ep = name.rsplit("/", 1)[0]
    return ep == layer or ep.startswith(layer + "_")


def _average_maps(maps: list[np.ndarray]) -> np.ndarray:
    if not maps:
        raise VizAttnError("the model produced no maps for this layer and kind.")
    if len(maps) == 1:
        return maps[0].astype(np.float32)
    from vizattn.overlay import resize_map

    h = max(m.shape[-2] for m in maps)
    w = max(m.shape[-1] for m in maps)
    return np.mean([resize_map(m, (h, w)) for m in maps], axis=0).astype(np.float32)


def _check_layers(names: Sequence[str], layers: Sequence[str]) -> None:
    import difflib

    for layer in layers:
        if not any(n == layer or n.startswith(layer + "_") for n in names):
            blocks = sorted({n.split("_")[0] for n in names} | set(names))
            close = difflib.get_close_matches(layer, blocks, n=3, cutoff=0.4)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise VizAttnError(
                f"unknown layer {layer!r}; {hint}run 'vizattn layers' to list them (e.g. stem, "
                "block3, block3_layer1)."
            )


_MODEL_CACHE: dict = {}


def _cached_model(**kwargs):
    """Builds a model once per process for the same options (repeated renders, notebooks)."""
    from vizattn.models import build_movinet

    key = tuple(sorted(kwargs.items()))
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = build_movinet(**kwargs)
    return _MODEL_CACHE[key]


def _check_kinds(
    kinds: Sequence[str], simam: str | None, layers: Sequence[str] = (), position: str = ""
) -> None:
    for kind in kinds:
        if kind not in MAP_KINDS:
            raise VizAttnError(f"unknown kind {kind!r}; use one of {', '.join(MAP_KINDS)}.")
        if not kind.startswith("simam"):
            continue
        if simam is None:
            raise VizAttnError(
                f"kind {kind!r} needs SimAM in the model; pass --simam MODE or use "
                "--kind activation."
            )
        for layer in layers:
            at_stem = layer == "stem"
            if layer == "head" or at_stem != (position == "stem"):
                raise VizAttnError(
                    f"layer {layer!r} has no SimAM (it sits at position {position!r}); use "
                    f"--kind activation, or --simam-position "
                    f"{'stem' if at_stem else 'projection'}."
                )


def default_output(video: str, layers: Sequence[str], kinds: Sequence[str]) -> str:
    stem, _ = os.path.splitext(os.path.basename(video))
    tag = f"{'+'.join(layers)}_{'+'.join(kinds)}".replace("/", "-")
    return os.path.join(os.path.dirname(os.path.abspath(video)), f"{stem}_{tag}.mp4")


def _load_labels(path: str | None, num_classes: int) -> list[str]:
    if path is None:
        return [f"class {i}" for i in range(num_classes)]
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise VizAttnError(f"cannot read labels file {path!r} ({e.strerror}).") from None
    if len(labels) < num_classes:
        labels += [f"class {i}" for i in range(len(labels), num_classes)]
    return labels


def render(
    video: str,
    *,
    layer: str | Sequence[str] = "block3",
    kind: str | Sequence[str] = "simam",
    output: str | None = None,
    model=None,
    model_id: str = "a0",
    checkpoint: str | None = None,
    simam: str | None = "frame",
    simam_position: str = "projection",
    tada: str | None = None,
    stream: bool = True,
    num_classes: int = 600,
    resolution: int | None = None,
    alpha: float = 0.5,
    colormap: str = "inferno",
    normalize: str = "clip",
    layout: str = "overlay",
    predictions: bool = False,
    labels: str | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
    chunk: int = 16,
    allow_truncated: bool = False,
    progress: bool = True,
    on_warning: Callable[[str], None] | None = None,
) -> RenderResult:
    """Writes a heatmap video of ``layer``'s ``kind`` maps over ``video``.

    Args:
      video: input video path (never modified).
      layer: endpoint or block prefix, or several (for ``layout="grid"``).
      kind: ``simam`` (default), ``simam_energy``, ``simam_input``,
        ``activation`` or ``gradcam``, or several (grid).
      output: ``.mp4``/``.webm``/``.gif`` file or a folder for PNG frames;
        default ``{stem}_{layer}_{kind}.mp4`` next to the input.
      model: a model from :func:`vizattn.build_movinet` (else one is built
        from ``model_id``, ``checkpoint``, ``simam``, ``tada``, ``stream``).
      resolution: the model's input size (shorter side).
      normalize: ``"clip"`` (one scale, two passes) or ``"frame"``.
      layout: ``"overlay"``, ``"side-by-side"`` or ``"grid"``.
      predictions: add a strip with the top predictions over time.
      start, end, max_frames: the range to render (seconds, frames).
      fps: output frame rate (default: the input's timing is kept).
      chunk: frames per model call.
      allow_truncated: render the frames of a truncated file instead of failing.
      progress: show a progress bar with frames/s on stderr.
    """
    from vizattn import overlay as ov
    from vizattn import video as vid

    warn = on_warning or (lambda msg: print(f"vizattn: {msg}", file=sys.stderr))
    layers = _split(layer)
    kinds = _split(kind)
    if not layers or not kinds:
        raise VizAttnError("give at least one --layer and one --kind.")
    if normalize not in ("clip", "frame"):
        raise VizAttnError(f"unknown normalize {normalize!r}; use 'clip' or 'frame'.")
    if layout not in ("overlay", "side-by-side", "grid"):
        raise VizAttnError(f"unknown layout {layout!r}; use overlay, side-by-side or grid.")
    if not 0.0 <= alpha <= 1.0:
        raise VizAttnError(f"alpha must be in [0, 1], got {alpha!r}.")
    if int(chunk) < 1:
        raise VizAttnError(f"chunk must be >= 1 frame, got {chunk!r}.")
    if (len(layers) > 1 or len(kinds) > 1) and layout != "grid":
        layout = "grid"
    ov.colorize(np.zeros((1, 1), np.float32), colormap)  # validates the colormap name early
    info = vid.probe(video)
    if model is None:
        _check_kinds(kinds, simam, layers, simam_position)
    output = output or default_output(video, layers, kinds)
    vid.check_output_path(output, inputs=[video])

    if model is None:
        from vizattn.models import MODEL_IDS, endpoint_names

        if model_id not in MODEL_IDS:
            raise VizAttnError(f"unknown model {model_id!r}; use one of {', '.join(MODEL_IDS)}.")
        _check_layers(endpoint_names(model_id), layers)
        if checkpoint is None:
            warn(
                "weights are randomly initialized (maps show untrained features); pass "
                "--checkpoint PATH with a Model Garden MoViNet checkpoint for trained ones."
            )
        model = _cached_model(
            model_id=model_id,
            stream=stream,
            simam=simam,
            simam_position=simam_position,
            tada=tada,
            num_classes=num_classes,
            checkpoint=checkpoint,
        )
    else:
        from vizattn.models import is_stream, model_info

        stream = is_stream(model)
        mi = model_info(model)
        if mi is not None:
            model_id, num_classes = mi.model_id, mi.num_classes
            _check_kinds(kinds, mi.simam, layers, mi.simam_position)
    from vizattn.capture import endpoints

    _check_layers(list(endpoints(model)), layers)
    resolution = resolution or DEFAULT_RESOLUTION.get(model_id, 172)
    size = _model_size(info.height, info.width, resolution)
    if predictions and stream:
        chunk = 1  # one prediction per frame, from frames <= t only
    maker = _MapMaker(
        model, layers, kinds, stream=stream, size=size, predictions=predictions, chunk=chunk
    )
    label_names = _load_labels(labels, num_classes) if predictions else []
    out_fps = fps or float(info.fps or 25)
    rng = {"start": start, "end": end, "max_frames": max_frames}
    total = _expected_frames(info, start, end, max_frames)
    t0 = time.perf_counter()

    def model_pass(label: str):
        """Yields (frames, maps, logits) per chunk; decoding runs in its own thread."""
        reader = vid.VideoReader(video, **rng)
        bar = Progress(label, total, enabled=progress)
        try:
            with reader:
                for frames in _threaded(_chunks(reader, chunk)):
                    maps, logits = maker([f.image for f in frames])
                    bar.update(len(frames))
                    yield frames, maps, logits
        finally:
            bar.close()
        if reader.truncated and not allow_truncated:
            raise VizAttnError(
                f"{video!r} is truncated or corrupt after {reader_count(reader)} frames "
                f"({getattr(reader, 'truncated_reason', 'decode error')}); pass "
                "--allow-truncated to render the frames that decode."
            )
        if reader.truncated:
            warn(f"{video!r} is truncated; rendered the {reader_count(reader)} frames that decode.")

    scale = None
    passes = 1
    if normalize == "clip":
        passes = 2
        all_maps: dict = {}
        all_logits: list = []
        for frames, maps, logits in model_pass("pass 1/2 model"):
            for key, m in maps.items():
                all_maps.setdefault(key, []).append(m.astype(np.float32))
            if logits is not None:
                all_logits.append(np.repeat(logits[None], len(frames), axis=0))
        if not all_maps:
            raise VizAttnError(f"no frames could be decoded from {video!r}; is it a video?")
        joined = {k: np.concatenate(v, axis=0) for k, v in all_maps.items()}
        scale = {k: (float(v.min()), float(v.max())) for k, v in joined.items()}
        logit_seq = np.concatenate(all_logits, axis=0) if all_logits else None

        def frames_with_maps():
            reader = vid.VideoReader(video, **rng)
            i = 0
            with reader:
                for frames in _chunks(reader, chunk):
                    n = len(frames)
                    maps = {k: v[i : i + n] for k, v in joined.items()}
                    logits = logit_seq[i : i + n] if logit_seq is not None else None
                    i += n
                    yield frames, maps, logits

        source = _threaded(frames_with_maps())
        bar = Progress("pass 2/2 encode", total, enabled=progress)
    else:

        def per_frame_logits():
            for frames, maps, logits in model_pass("render"):
                lg = None if logits is None else np.repeat(logits[None], len(frames), axis=0)
                yield frames, maps, lg

        source = per_frame_logits()
        bar = None

    history: list[np.ndarray] = []
    overlayers: dict = {}

    def compose(frame, maps_t, logits_t) -> np.ndarray:
        image = frame.image
        tiles, tile_labels = [], []
        for key, m in maps_t.items():
            lo, hi = scale[key] if scale else (float(m.min()), float(m.max()))
            norm = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
            ovl = overlayers.get(key)
            if ovl is None and hasattr(ov, "Overlayer"):
                ovl = overlayers[key] = ov.Overlayer(alpha=alpha, colormap=colormap)
            if ovl is not None:
                tiles.append(ovl(image, norm))
            else:
                tiles.append(ov.overlay(image, norm, alpha=alpha, colormap=colormap))
            tile_labels.append(f"{key[0]} {key[1]}")
        if layout == "overlay":
            out = tiles[0]
        elif layout == "side-by-side":
            out = ov.side_by_side(image, tiles[0])
        else:
            out = ov.grid([image, *tiles], ["input", *tile_labels])
        if predictions and logits_t is not None:
            e = np.exp(logits_t - logits_t.max())
            history.append(e / e.sum())
            strip = ov.prediction_strip(out.shape[1], np.stack(history), label_names)
            out = ov.stack_vertical(out, strip)
        return out

    written = 0

    def composed() -> Iterator[tuple[np.ndarray, float]]:
        for frames, maps, logits in source:
            for i, frame in enumerate(frames):
                maps_t = {k: v[i] for k, v in maps.items()}
                yield compose(frame, maps_t, None if logits is None else logits[i]), frame.time

    with vid.VideoWriter(output, fps=out_fps) as writer:
        for image, t in _threaded(composed(), maxsize=8):
            writer.write(image, time=None if fps else t)
            written += 1
            if bar is not None:
                bar.update(1)
        if written == 0:
            raise VizAttnError(f"no frames could be decoded from {video!r} in the chosen range.")
    if bar is not None:
        bar.close()
    return RenderResult(
        output=output, frames=written, seconds=time.perf_counter() - t0, fps=out_fps, passes=passes
    )


def reader_count(reader) -> int:
    return int(getattr(reader, "count", getattr(reader, "frames_read", 0)) or 0)


def _expected_frames(info, start, end, max_frames) -> int | None:
    n = getattr(info, "frame_count", None)
    if n and info.fps:
        fps = float(info.fps)
        first = int((start or 0) * fps)
        last = int(end * fps) if end is not None else n
        n = max(0, min(n, last) - first)
    if max_frames:
        n = min(n, max_frames) if n else max_frames
    return n or None


def _split(value) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        out += [s.strip() for s in str(item).split(",") if s.strip()]
    return out


def render_cli(args) -> int:
    """``vizattn render`` (arguments parsed by :mod:`vizattn.cli`)."""
    result = render(
        args.video,
        layer=args.layer or ["block3"],
        kind=args.kind,
        output=args.output,
        model_id=args.model,
        checkpoint=args.checkpoint,
        simam=None if args.simam == "none" else args.simam,
        simam_position=args.simam_position,
        tada=args.tada,
        stream=args.stream,
        num_classes=args.num_classes,
        resolution=args.resolution,
        alpha=args.alpha,
        colormap=args.colormap,
        normalize=args.normalize,
        layout=args.layout,
        predictions=args.predictions,
        labels=args.labels,
        start=args.start,
        end=args.end,
        max_frames=args.max_frames,
        fps=args.fps,
        chunk=args.chunk,
        allow_truncated=args.allow_truncated,
        progress=not args.quiet,
    )
    print(
        f"wrote {result.output} ({result.frames} frames, {result.frames_per_second:.1f} frames/s)"
    )
    return 0


class _CallableModule(__import__("types").ModuleType):
    """Lets ``vizattn.render(...)`` call the function even after the module of the same
    name has been imported (Python then binds the package attribute to the module)."""

    def __call__(self, *args, **kwargs):
        return render(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
