"""Heatmap videos: ``vizattn render video.mp4 --layer block3``.

:func:`render` is a consumer of the one pipeline:

    decode (:mod:`vizattn.video`) -> :func:`vizattn.capture_stream` (chunks, states carried)
    -> :meth:`vizattn.Cache.frame_maps` -> overlay (:mod:`vizattn.overlay`) -> encode

so the maps in a rendered video are exactly ``capture(...).frame_maps(...)`` of
the same frames (a test checks it), Grad-CAM is stream-aware (frame ``t``
explains the prediction at frame ``t``), and preprocessing is the one of
:func:`vizattn.models.as_clip`.

>>> model = vizattn.load_model()                     # the bundled demo model  # doctest: +SKIP
>>> render("assets/demo.mp4", model=model, names="block3")                    # doctest: +SKIP
RenderResult(output='assets/demo_block3_simam.mp4', frames=100, ...)

Memory stays bounded for any length: decoding, resizing for the model, the
model, drawing and encoding run in separate threads joined by bounded queues
(:mod:`vizattn._threads`), so that the cores stay busy. The model runs each
chunk as overlapping pieces (:data:`vizattn.hooks.PIECES`), and ``vizattn
render`` runs every TensorFlow kernel on one thread
(:func:`vizattn._tf.one_thread_per_kernel`): together ~25% less wall time for
the model than one call per chunk with TensorFlow's default threads. It still
leaves part of a core idle, so whatever can run beside it does.
Each output frame is drawn in two steps: :meth:`vizattn.overlay.Composer.base`
(the frame, caption, colour bar, predictions: all that needs no map), converted
to the encoder's YUV 4:2:0, then the maps painted on those planes
(:meth:`~vizattn.overlay.Composer.paint_yuv`) just before encoding.

Every map is computed before the first frame is coloured: the first pass
decodes, runs the model and, beside it, draws every frame's base (kept up to
:data:`KEEP_FRAMES_BYTES`, beyond which the second pass decodes again); the
second pass paints the maps in one thread and encodes in another. With
``normalize="clip"`` (one scale for the whole video, so changes over time show)
that order is needed: the scale comes from every map. With ``"frame"`` it is
not, but it is quicker: the model and the H.264 encoder slow each other down
when they run at once (~5% more CPU time, ``benchmarks/README.md``). So only a
``"frame"`` render whose frames would not fit :data:`KEEP_FRAMES_BYTES` (or of
unknown length) runs in one pass, the model up to :data:`MODEL_AHEAD_BYTES` of
frames ahead of drawing and encoding.

Outputs are written atomically (temporary file, then rename), the input is
never modified, and nothing is left behind on error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vizattn import names as _names
from vizattn._threads import threaded
from vizattn.cache import GRADIENT_KINDS, MAP_KINDS, normalize_maps, resolve_normalize
from vizattn.errors import VizAttnError

__all__ = [
    "DEFAULT_RESOLUTION",
    "EAGER_CALLS",
    "EAGER_PIXELS",
    "KEEP_FRAMES_BYTES",
    "MODEL_AHEAD_BYTES",
    "RENDER_KINDS",
    "RenderResult",
    "check_look",
    "check_render_request",
    "default_output",
    "eager_chunk",
    "map_stream",
    "model_input_size",
    "render",
]

#: Input sizes of the released MoViNet models (the shorter side).
DEFAULT_RESOLUTION = {"a0": 172, "a1": 172, "a2": 224, "a3": 256, "a4": 290, "a5": 320}
#: Kinds ``render`` can draw.
RENDER_KINDS = MAP_KINDS


@dataclasses.dataclass
class RenderResult:
    """What :func:`render` wrote, and how fast (``frames / seconds`` of processing).

    ``passes``: 2 when every map was computed before the first frame was coloured,
    1 when drawing and encoding ran beside the model; ``normalize``: the scale used
    (``"clip"`` or ``"frame"``, after ``"auto"`` was resolved; ``"auto"`` when a
    grid mixes gradient kinds, scaled per frame, with others, scaled per clip).
    """

    output: str
    frames: int
    seconds: float
    fps: float
    truncated: bool = False
    passes: int = 1
    audio: str = "none"
    normalize: str = "clip"

    @property
    def processing_speed(self) -> float:
        """Frames processed per second of wall time (not the video's frame rate)."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


# -- checks that need no model ---------------------------------------------------


def _split(value) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        out += [s.strip() for s in str(item).split(",") if s.strip()]
    return out


def check_render_request(
    layers: Sequence[str],
    kinds: Sequence[str],
    *,
    model_id: str,
    simam: str | None,
    simam_position: str = "projection",
) -> None:
    """Checks layers and kinds against a model *id* (no model is built).

    Raises:
      VizAttnError: an unknown kind or layer, ``head`` (pooled: no map), or a
        SimAM kind where the model has no SimAM.
    """
    endpoints = [n for n in _names.endpoint_names(model_id) if n != "head"]
    from vizattn.cache import KINDS

    for kind in kinds:
        if kind not in RENDER_KINDS and kind in KINDS:  # captured, but no map per frame
            raise VizAttnError(
                f"kind {kind!r} has no map per frame to draw (`vizattn layers` lists it as a "
                f"capture kind); render draws {', '.join(RENDER_KINDS)}."
            )
        if kind not in RENDER_KINDS:
            raise VizAttnError(
                f"unknown kind {kind!r}; {_names.did_you_mean(kind, RENDER_KINDS)}"
                f"use one of {', '.join(RENDER_KINDS)}."
            )
    for layer in layers:
        if layer == "head":
            raise VizAttnError(
                "layer 'head' is pooled over space and time, so it has no map; "
                f"use a block such as {endpoints[-1].split('_')[0]!r}."
            )
        _names.resolve(layer, endpoints, what="layer")
    for kind in kinds:
        if not kind.startswith("simam"):
            continue
        if simam is None:
            raise VizAttnError(
                f"kind {kind!r} needs SimAM in the model; use --kind activation or gradcam, "
                "or a model with SimAM (--simam MODE)."
            )
        for layer in layers:
            at_stem = layer == "stem"
            if at_stem != (simam_position == "stem"):
                raise VizAttnError(
                    f"layer {layer!r} has no SimAM (SimAM sits at position {simam_position!r}); "
                    f"use --kind activation, or --simam-position "
                    f"{'stem' if at_stem else 'projection'}."
                )


def check_look(
    layers: Sequence[str],
    kinds: Sequence[str],
    *,
    alpha: float = 0.5,
    colormap: str = "inferno",
    normalize: str | None = None,
    layout: str = "overlay",
    chunk: int = 16,
    preset: str | None = None,
) -> None:
    """Checks the drawing options of :func:`render` (no model, no video needed)."""
    from vizattn.overlay import check_drawing
    from vizattn.video import check_preset

    if not layers or not kinds:
        raise VizAttnError("give at least one layer (--layer) and one kind (--kind).")
    resolve_normalize(normalize, kinds)
    check_drawing(layout=layout, alpha=alpha, colormap=colormap)
    if int(chunk) < 1:
        raise VizAttnError(f"chunk must be >= 1 frame, got {chunk!r}.")
    if preset is not None:
        check_preset(preset)


def default_output(video: str, layers: Sequence[str], kinds: Sequence[str]) -> str:
    """``{video stem}_{layers}_{kinds}.mp4`` next to the input."""
    stem, _ = os.path.splitext(os.path.basename(video))
    tag = f"{'+'.join(layers)}_{'+'.join(kinds)}".replace("/", "-")
    return os.path.join(os.path.dirname(os.path.abspath(video)), f"{stem}_{tag}.mp4")


def model_input_size(model, height: int, width: int, resolution: int | None = None):
    """The ``(height, width)`` frames are resized to before the model.

    A model that knows its input size (the demo model, a TFLite model) gets
    exactly that, unless ``resolution`` is given; otherwise the shorter side
    becomes ``resolution`` (default: the released model's) and the aspect ratio
    is kept, in even sizes.
    """
    from vizattn.models import model_info

    info = model_info(model)
    fixed = getattr(info, "input_size", None) if info is not None else None
    if fixed and resolution is None:
        return int(fixed[0]), int(fixed[1])
    model_id = info.model_id if info is not None else "a0"
    resolution = resolution or DEFAULT_RESOLUTION.get(model_id, 172)
    scale = resolution / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)


# -- plumbing --------------------------------------------------------------------


class _Progress:
    """tqdm bars with honest rates: the first (tracing) chunk is excluded from the rate.

    A bar appears after :data:`BAR_DELAY` seconds, so that work done at once (a
    short video's single untraced model call) prints no bar, not one at start
    and again at close.
    """

    def __init__(self, enabled: bool, say: Callable[[str], None]):
        self.enabled, self.say = enabled, say
        self.bar = None

    def start(self, label: str, total: int | None, done: int = 0):
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self.close()
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=label,
            unit="frame",
            file=sys.stderr,
            dynamic_ncols=True,
            smoothing=0.1,
            mininterval=0.25,
            delay=BAR_DELAY,
        )

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def abandon(self) -> None:
        """Removes the bar without its final line (an error or Ctrl-C stopped the work)."""
        if self.bar is not None:
            self.bar.leave = False
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _weights_label(model) -> str:
    from vizattn.models import model_info

    info = model_info(model)
    if info is None:
        return "own model"
    source = info.checkpoint
    if getattr(info, "demo", False) or source == "demo":
        weights = "demo weights"
    elif source in (None, "random"):
        weights = "random weights"
    else:
        weights = os.path.basename(str(source).rstrip("/")) or str(source)
    return f"{info.model_id} {'stream' if info.stream else 'base'} · {weights}"


# -- maps of a video ------------------------------------------------------------


def map_stream(
    model,
    video: str,
    *,
    names: str | Sequence[str] = "block3",
    kinds: str | Sequence[str] = "simam",
    chunk: int = 16,
    size: tuple[int, int] | None = None,
    predictions: bool = False,
    class_index=None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    allow_truncated: bool = False,
    on_message: Callable[[str], None] | None = None,
    eager: bool = False,
) -> Iterator[tuple[list, dict, np.ndarray | None]]:
    """Decodes ``video`` and streams it through ``model``: what :func:`render` draws.

    Decoding runs in its own thread; the model runs through
    :func:`vizattn.capture_stream` (states carried across chunks) and every map
    comes from :meth:`vizattn.Cache.frame_maps`.

    Yields:
      ``(frames, maps, probs)`` per chunk: the decoded :class:`vizattn.video.Frame`
      objects, ``{(layer, kind): float32 [n, h, w]}`` raw maps (channel mean,
      not normalized), and ``[n, classes]`` probabilities (with ``predictions``)
      or ``None``.
    """
    from vizattn import video as vid
    from vizattn.hooks import capture_stream

    layers, kind_list = _split(names), _split(kinds)
    keys = [(layer, k) for layer in layers for k in kind_list]
    wanted = sorted(set(kind_list) | ({"logits"} if predictions else set()))
    reader = vid.VideoReader(video, start=start, end=end, max_frames=max_frames)
    pending: deque = deque()

    def images():
        for frame in reader:
            pending.append(frame)
            yield frame.image

    # Closed in this order, whatever stops the stream: the model's chunks (and the
    # thread that reads ``decoded``), then the decoding thread, then the reader.
    # A video closed while a thread decodes from it crashes the process.
    decoded = threaded(images())
    with reader, contextlib.closing(decoded):
        caches = capture_stream(
            model,
            decoded,
            chunk=int(chunk),
            names=layers,
            kinds=wanted,
            reduce="mean",
            class_index=class_index,
            size=size,
            eager=eager,
        )
        with contextlib.closing(caches):
            for cache in caches:
                n = cache.frames
                frames = [pending.popleft() for _ in range(n)]
                maps = {
                    (layer, k): cache.frame_maps(layer, k, normalize=None)[0] for layer, k in keys
                }
                yield frames, maps, cache.probabilities()[0] if predictions else None
    if reader.truncated and not allow_truncated:
        raise VizAttnError(
            f"{video!r} is truncated or corrupt after {reader.frames_read} frames "
            f"({reader.truncated_reason or 'decode error'}); pass --allow-truncated to "
            "render the frames that decode."
        )
    if reader.truncated and on_message is not None:
        on_message(f"{video!r} is truncated; used the {reader.frames_read} frames that decode.")


# -- render ----------------------------------------------------------------------


def render(
    video: str,
    *,
    model=None,
    checkpoint: str | None = None,
    names: str | Sequence[str] = "block3",
    kind: str | Sequence[str] = "simam",
    output: str | None = None,
    resolution: int | None = None,
    alpha: float = 0.5,
    colormap: str = "inferno",
    normalize: str | None = None,
    layout: str = "overlay",
    predictions: bool = False,
    labels: str | None = None,
    class_index=None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
    preset: str | None = None,
    chunk: int = 16,
    allow_truncated: bool = False,
    progress: bool = True,
    on_message: Callable[[str], None] | None = None,
) -> RenderResult:
    """Writes a heatmap video of the ``kind`` maps of ``names`` over ``video``.

    Args:
      video: input video path (never modified).
      model: a model from :func:`vizattn.load_model` / :func:`vizattn.build_movinet`;
        ``None`` loads one with ``vizattn.load_model(checkpoint)`` (default: the
        bundled demo model).
      checkpoint: used only when ``model`` is ``None``.
      names: endpoint or block (``"block3"``), or several (``layout="grid"``).
      kind: a map kind (``simam``, ``simam_energy``, ``simam_input``,
        ``activation``, ``gradcam``, ``grad_x_act``), or several (grid).
      output: ``.mp4``/``.webm``/``.gif`` file or a folder for PNG frames;
        default ``{stem}_{layer}_{kind}.mp4`` next to the input.
      resolution: the model's input size (shorter side); see :func:`model_input_size`.
      alpha, colormap: how the heatmap is drawn.
      normalize: ``"clip"`` (one scale) or ``"frame"``; ``"auto"``
        or ``None``: :func:`vizattn.cache.default_normalize` (per frame for
        gradient kinds, else per clip).
      layout: ``"overlay"``, ``"side-by-side"`` (frame | raw map) or ``"grid"``.
      predictions: add a strip with the top classes and probabilities over time.
      labels: a file of class names (default: the model's; Kinetics-600 for 600 classes).
      class_index: what gradient kinds explain: an index, a class name, ``"top"``.
      start, end, max_frames: the range to render (seconds, frames).
      fps: output frame rate (default: the input's timing is kept).
      preset: the H.264 encoder's speed preset (default
        :data:`vizattn.video.DEFAULT_PRESET`); slower presets write smaller files.
      chunk: frames per traced model call (a short video runs untraced, in
        longer calls: :func:`eager_chunk`).
      allow_truncated: render the frames of a truncated file instead of failing.
      progress: progress bars on stderr.
      on_message: receives one-line notices (default: printed to stderr).
    """
    from vizattn import overlay as ov
    from vizattn import video as vid
    from vizattn.hooks import endpoints
    from vizattn.labels import class_names
    from vizattn.models import is_stream, load_model, model_info

    say = on_message or (lambda msg: print(f"vizattn: {msg}", file=sys.stderr))
    layers, kinds = _split(names), _split(kind)
    check_look(
        layers, kinds, alpha=alpha, colormap=colormap, normalize=normalize, layout=layout,
        chunk=chunk, preset=preset,
    )  # fmt: skip
    if (len(layers) > 1 or len(kinds) > 1) and layout != "grid":
        layout = "grid"
    # Each kind's scale: "auto" (the default) scales gradient kinds per frame and the
    # others per clip, also side by side in one grid.
    scale_of = {k: resolve_normalize(normalize, [k]) for k in kinds}
    normalize = scale_of[kinds[0]] if len(set(scale_of.values())) == 1 else "auto"
    info = vid.probe(video)
    output = output or default_output(video, layers, kinds)
    vid.check_output_path(output, inputs=[video])

    if model is None:
        say("building model")
        model = load_model(checkpoint, notify=say)
    mi = model_info(model)
    if mi is not None:
        check_render_request(
            layers, kinds, model_id=mi.model_id, simam=mi.simam, simam_position=mi.simam_position
        )
    available = [n for n in endpoints(model) if n != "head"]
    for layer in layers:
        _names.resolve(layer, available, what="layer")
    if not is_stream(model):
        raise VizAttnError(
            "render streams the video and needs a stream model; build it with stream=True."
        )
    size = model_input_size(model, info.height, info.width, resolution)
    class_list = class_names(model, labels_file=labels) if predictions else None
    rng = {"start": start, "end": end, "max_frames": max_frames}
    total = _expected_frames(info, start, end, max_frames)
    bars = _Progress(progress, say)
    t0 = time.perf_counter()
    keys = [(layer, k) for layer in layers for k in kinds]

    model_chunk = eager_chunk(total, chunk, kinds, size)
    eager = model_chunk is not None
    model_chunk = model_chunk or int(chunk)

    def model_pass(label: str | None) -> Iterator[tuple[list, dict, np.ndarray | None]]:
        """The model over the video (with a progress bar called ``label``, if any); its
        callers run it in its own thread (``threaded``)."""
        if eager:
            say("running the model without tracing (a short video)")
        else:
            say("tracing the model (the first chunk is slow)")
        first = True
        done = 0
        for item in map_stream(
            model,
            video,
            names=layers,
            kinds=kinds,
            chunk=model_chunk,
            size=size,
            predictions=predictions,
            class_index=class_index,
            start=start,
            end=end,
            max_frames=max_frames,
            allow_truncated=allow_truncated,
            on_message=say,
            eager=eager,
        ):
            done += len(item[0])
            if label is not None and first:
                first = False
                bars.start(label, total, done)
            elif label is not None:
                bars.update(len(item[0]))
            yield item
        if label is not None:
            bars.close()

    caption = _weights_label(model)
    if len(keys) == 1:
        caption = f"{keys[0][0]} · {keys[0][1]} · {caption}"
    composer = ov.Composer(
        layout=layout,
        alpha=alpha,
        colormap=colormap,
        panels=[f"{layer} · {k}" for layer, k in keys],
        caption=caption,
        scale={"clip": "per clip", "frame": "per frame"}.get(
            normalize, "per clip, gradients per frame"
        ),
        class_names=class_list,
        # Laid out now (probe's display size is the decoded frames'), so that its
        # output size tells how much memory pass 1's kept frames take (_fits).
        frame_size=(info.height, info.width) if info.height and info.width else None,
    )
    out_fps = fps or float(info.fps or 25)

    def base(frame, probs):
        """The output frame without its maps, converted for the encoder when it can be
        painted on as YUV: all that needs no map, so it can run beside the model."""
        canvas = composer.base(frame.image, probs)
        if writer.yuv420 and composer.yuv_ready:
            return writer.prepare(canvas)
        return canvas

    def draw(job) -> tuple[vid.PreparedFrame, float]:
        item, t, maps, probs = job  # item: a decoded frame, or its base() from pass 1
        drawn = base(item, probs) if isinstance(item, vid.Frame) else item
        if isinstance(drawn, vid.PreparedFrame):
            composer.paint_yuv(writer.planes(drawn), maps, to_yuv=writer.to_yuv)
            return drawn, t
        return writer.prepare(composer.paint(drawn, maps)), t

    def scaled(key, maps: np.ndarray) -> np.ndarray:
        """``[n, h, w]`` raw maps of ``key`` -> [0, 1] by its kind's scale."""
        return normalize_maps(maps[None], scale_of[key[1]], zero=key[1] in GRADIENT_KINDS)[0]

    written = 0
    passes = 2 if "clip" in scale_of.values() or _fits(total, composer.size) else 1
    keep_audio = fps is None  # --fps rewrites the timing: the sound would drift
    if fps is not None and getattr(info, "has_audio", False):
        say("audio dropped: --fps changes the timing of the video")
    with (
        vid.VideoWriter(
            output,
            fps=out_fps,
            inputs=[video],
            audio_from=video if keep_audio else None,
            on_notice=say,
            preset=preset or vid.DEFAULT_PRESET,
        ) as writer,
        contextlib.ExitStack() as threads,
    ):
        # Every producer thread is closed on the way out, painting first, then what
        # feeds it, and all before the writer: nothing runs on after an error or
        # Ctrl-C, and no video is closed while a thread still reads it.
        def closed_on_exit(iterator):
            return threads.enter_context(contextlib.closing(iterator))

        # Last out on an error: no bar line printed after the error's own.
        threads.push(lambda error, *_: bars.abandon() if error else None)

        if passes == 2:
            raw: dict = {k: [] for k in keys}
            prob_list: list = []
            # Pass 1's output frames without maps (base()), drawn here while the model
            # runs in its own thread, and kept for pass 2 while they fit.
            kept: list | None = []
            kept_bytes = 0

            for batch, maps, probs in closed_on_exit(threaded(model_pass("pass 1/2: model"), 2)):
                for k in keys:
                    raw[k].append(maps[k])
                if probs is not None:
                    prob_list.append(probs)
                if kept is not None:
                    drawn = [
                        (base(f, None if probs is None else probs[i]), f.time)
                        for i, f in enumerate(batch)
                    ]
                    kept_bytes += sum(_nbytes(d) for d, _ in drawn)
                    if kept_bytes <= KEEP_FRAMES_BYTES:
                        kept.append(drawn)
                    else:
                        kept = None  # decode again in pass 2
            heat = {k: scaled(k, np.concatenate(v)) for k, v in raw.items()}
            all_probs = np.concatenate(prob_list) if prob_list else None

            def jobs():
                if kept is not None:  # no second decode
                    i = 0
                    for chunk_drawn in kept:
                        for drawn, t in chunk_drawn:
                            yield drawn, t, [heat[k][i] for k in keys], None
                            i += 1
                    return
                with (
                    vid.VideoReader(video, **rng) as reader,
                    contextlib.closing(threaded(reader)) as frames,
                ):
                    for i, frame in enumerate(frames):
                        probs = None if all_probs is None else all_probs[i]
                        yield frame, frame.time, [heat[k][i] for k in keys], probs

            encode_label = "pass 2/2: overlay + encode"
        else:
            # The model runs ahead, up to MODEL_AHEAD_BYTES of frames, so that drawing
            # and encoding always have frames for the cores the model leaves idle.
            frame_bytes = max(1, int(info.width or 1) * int(info.height or 1) * 3)
            # Its bar counts frames written, which is what lags.
            items = closed_on_exit(
                threaded(model_pass(None), max(2, MODEL_AHEAD_BYTES // (frame_bytes * model_chunk)))
            )

            def jobs():
                for batch, maps, probs in items:
                    maps = {k: scaled(k, v) for k, v in maps.items()}
                    for i, frame in enumerate(batch):
                        p = None if probs is None else probs[i]
                        yield frame, frame.time, [maps[k][i] for k in keys], p

            encode_label = "render"

        # One thread draws (paints the maps) while this one encodes: x264 has threads
        # of its own, and a second drawing thread made pass 2 slower, not faster.
        first = True
        painted = closed_on_exit(threaded(map(draw, closed_on_exit(jobs())), maxsize=8))
        for image, t in painted:
            writer.write(image, time=None if fps else t)
            written += 1
            if first:  # after the first frame: the model's trace is left out of the rate
                bars.start(encode_label, total, 1)
                first = False
            else:
                bars.update(1)
        if written == 0:
            raise VizAttnError(f"no frames could be decoded from {video!r} in the chosen range.")
    audio = getattr(writer, "audio", "none") if keep_audio else "dropped"
    bars.close()
    return RenderResult(
        output=os.fspath(output),
        frames=written,
        seconds=time.perf_counter() - t0,
        fps=out_fps,
        passes=passes,
        audio=audio,
        normalize=normalize,
    )


#: Seconds before a progress bar appears (work that ends sooner shows none).
BAR_DELAY = 0.5

#: Bytes of decoded frames a one-pass render (``normalize="frame"``, a video too long
#: for :data:`KEEP_FRAMES_BYTES`) lets the model run ahead of drawing and encoding
#: (256 MiB: ~390 frames of 640x360).
MODEL_AHEAD_BYTES = 256 << 20

#: Bytes of output frames without their maps (:meth:`vizattn.overlay.Composer.base`)
#: that a render draws in its first pass, beside the model, and keeps for the second,
#: instead of decoding the video again (1 GiB: about 2,400 frames from 640x360 video,
#: kept as YUV 4:2:0). A ``normalize="frame"`` render runs in two passes only if its
#: frames fit.
KEEP_FRAMES_BYTES = 1 << 30


def _fits(total: int | None, size: tuple[int, int] | None) -> bool:
    """Whether ``total`` output frames of ``size`` (``(height, width)``: the composed
    frame, bigger than the input's in side-by-side and grid layouts), as YUV 4:2:0,
    fit :data:`KEEP_FRAMES_BYTES`."""
    if not total or not size:
        return False
    return total * int(size[0]) * int(size[1]) * 3 // 2 <= KEEP_FRAMES_BYTES


def _nbytes(drawn) -> int:
    """Bytes held by a frame that :func:`render` keeps between its passes."""
    if isinstance(drawn, np.ndarray):
        return drawn.nbytes
    return sum(plane.buffer_size for plane in drawn.frame.planes)


#: Most model calls a render runs eagerly rather than traced. Tracing A0 costs
#: 6-11 s once, then a traced 16-frame call ~0.05 s; an eager call costs ~0.6 s
#: of Python per call plus ~7 ms per frame at 96 px, so eager calls take long chunks.
EAGER_CALLS = 8

#: Pixels (frames x height x width) in one eager model call: 128 frames at 96x96.
EAGER_PIXELS = 128 * 96 * 96


def eager_chunk(
    total: int | None, chunk: int, kinds: Sequence[str], size: tuple[int, int]
) -> int | None:
    """Frames per model call if a render of ``total`` frames is quicker untraced, else None.

    Untraced (eager) calls cost mostly per call, so they take as many frames as
    :data:`EAGER_PIXELS` allows at the model's input ``size`` (at least
    ``chunk``), and the calls are balanced (131 frames: 66 + 65, not 128 + 3,
    so every call advances the progress bar alike); a video of at most
    :data:`EAGER_CALLS` x :data:`EAGER_PIXELS` pixels runs eagerly, whatever
    ``chunk`` is (an untraced frame costs more than a traced one, so only
    tracing's one-off cost makes eager worth it). Stream gradients step frame by
    frame: one call per frame. Chunking does not change the maps (states are
    carried across calls).
    """
    if not total:
        return None
    if any(k in GRADIENT_KINDS for k in kinds):
        return int(chunk) if total <= EAGER_CALLS else None
    pixels = max(1, size[0] * size[1])
    if total * pixels > EAGER_CALLS * EAGER_PIXELS:
        return None
    most = max(int(chunk), EAGER_PIXELS // pixels)
    calls = -(-int(total) // most)
    return -(-int(total) // calls)


def _expected_frames(info, start, end, max_frames) -> int | None:
    n = getattr(info, "frame_count", None)
    if n and info.fps:
        rate = float(info.fps)
        first = int((start or 0) * rate)
        last = int(end * rate) if end is not None else n
        n = max(0, min(n, last) - first)
    if max_frames:
        n = min(n, max_frames) if n else max_frames
    return n or None
