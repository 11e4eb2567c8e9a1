"""The ``vizattn`` command line: one module, one set of model options for every command.

::

    vizattn render VIDEO --layer block3            # heatmap video next to the input
    vizattn predict VIDEO --top 5 --every 25       # what the model sees, as it streams
    vizattn evaluate VIDEO --masks MASKS.npz       # do the maps point at the evidence?
    vizattn check-causal --simam clip              # does anything read the future?
    vizattn layers                                 # hook names, kinds and shapes
    vizattn train-demo --out DIR                   # re-make the bundled demo model
    vizattn batch 'videos/*.mp4' --out DIR         # a whole data set (Apache Beam)
    vizattn demo                                   # re-make assets/demo.mp4 and its masks

Model options, the same flags and defaults everywhere: ``--checkpoint`` (default:
the bundled demo model; ``random`` for random weights; or a Model Garden
checkpoint, a Keras weight file or an official ``.tflite``), ``--model``,
``--simam``, ``--simam-position``, ``--tada``, ``--base``, ``--num-classes``,
``--seed``. Architecture flags without ``--checkpoint`` build that variant with
random weights.

Every check that needs no model runs before a model is built: input readable,
output folder writable, format supported, output not the input, layer and kind
known for the model, checkpoint present. Nothing heavy is imported before the
arguments are parsed, so ``--help`` answers at once. TensorFlow's log noise is off
unless ``-v``. Bad input gets one line on stderr and exit code 2 (``-v`` shows
the traceback); Ctrl-C exits 130 and leaves no partial output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator

from vizattn.errors import VizAttnError

__all__ = ["main"]

MODEL_IDS = ("a0", "a1", "a2", "a3", "a4", "a5")
SIMAM_MODES = ("frame", "cumulative", "window", "clip")
MAP_KINDS = ("simam", "simam_energy", "simam_input", "activation", "gradcam", "grad_x_act")
#: Smallest ``--resolution``: MoViNet downsamples by 32 (A0 at 32x32 gives its last
#: block 1x1 maps); a smaller input only pads that one pixel, and the maps of every
#: block are mostly padding.
MIN_RESOLUTION = 32
RESOLUTION_HELP = (
    f"model input size, the shorter side in pixels (at least {MIN_RESOLUTION}; default: "
    "the model's)"
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message}\n")


# -- shared options --------------------------------------------------------------


def _model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (the same for every command)")
    g.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="weights: a Model Garden checkpoint (dir, .tar.gz, prefix), a Keras weight file, "
        "an official MoViNet .tflite, 'random', or 'demo' (default: the bundled demo model, "
        "or random weights when architecture flags are given)",
    )
    g.add_argument("--model", choices=MODEL_IDS, help="MoViNet variant (default a0)")
    g.add_argument(
        "--simam",
        choices=(*SIMAM_MODES, "none"),
        help="SimAM mode in every block (default frame; 'none' for plain MoViNet)",
    )
    g.add_argument(
        "--simam-position",
        choices=("projection", "feature", "stem"),
        help="where SimAM goes (default projection)",
    )
    g.add_argument("--tada", choices=("v1", "v2", "none"), help="causal TAdaConv in every block")
    g.add_argument(
        "--base",
        action="store_true",
        help="the base 3D model (not causal; default: the streaming model)",
    )
    g.add_argument("--num-classes", type=int, help="classifier size (default 600)")
    g.add_argument("--seed", type=int, help="with random weights: randomize them with this seed")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks and TensorFlow logs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or notices")


#: ``--chunk``'s help, per command: what the option does there.
CHUNK_HELP = {
    "render": "frames per model call (default 16; render runs a short video untraced, "
    "in fewer, longer calls)",
    "predict": "frames per model call (default 16); the stream states are carried from call "
    "to call, so the predictions do not depend on it",
    "evaluate": "not used by evaluate, which runs the whole range through the model in one "
    "call (memory grows with --max-frames or --end)",
}


def _range_options(p: argparse.ArgumentParser, command: str) -> None:
    g = p.add_argument_group("range")
    g.add_argument("--start", type=float, help="start time in seconds")
    g.add_argument("--end", type=float, help="end time in seconds")
    g.add_argument("--max-frames", type=int, help="at most this many frames")
    g.add_argument("--chunk", type=int, default=16, help=CHUNK_HELP[command])
    g.add_argument(
        "--allow-truncated",
        action="store_true",
        help="use the frames of a truncated or corrupt file instead of failing",
    )


def _size_arg(text: str) -> tuple[int, int]:
    """``"96"`` or ``"96x128"`` -> ``(height, width)``; argparse reports anything else."""
    h, _, w = text.lower().partition("x")
    try:
        size = (int(h), int(w or h))
    except ValueError:
        size = (0, 0)
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; pass N or HxW, e.g. 172x172")
    return size


def _cycles_arg(text: str) -> tuple[int, ...]:
    """``"1400,700"`` -> ``(1400, 700)``; argparse reports what is not integers
    (``training.train_demo`` checks the counts themselves)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of step counts; pass e.g. 1400,700"
        ) from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vizattn",
        description="See and prove what attention does inside streaming MoViNet models.",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser(
        "render",
        help="write a heatmap video of what a layer attends to",
        description="Overlay per-frame maps of a layer on the video and write them as a video. "
        "The output format follows the extension: .mp4 (H.264, yuv420p), .webm, .gif, "
        "or a folder of PNG frames.",
    )
    r.add_argument("video", help="input video file")
    r.add_argument(
        "--layer",
        action="append",
        help="endpoint or block: block3, block3_layer1, stem (repeat or comma-separate for a "
        "grid; default block3)",
    )
    r.add_argument(
        "--kind",
        default="simam",
        help=f"map kind, comma-separated for a grid: {', '.join(MAP_KINDS)} (default simam)",
    )
    r.add_argument(
        "-o",
        "--output",
        help="output path: .mp4 (or .m4v, .mov, .mkv), .webm, .gif, or a folder for PNG "
        "frames (end it with '/'; a "
        "path without extension is taken as a folder too) (default {stem}_{layer}_{kind}.mp4)",
    )
    r.add_argument("--resolution", type=int, help=RESOLUTION_HELP)
    look = r.add_argument_group("look")
    look.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity (default 0.5)")
    look.add_argument("--colormap", default="inferno", help="matplotlib colormap name")
    look.add_argument(
        "--normalize",
        default="auto",
        choices=("auto", "clip", "frame"),
        help="one scale for the whole clip, or one per frame; auto (the default): per "
        "frame for gradcam and grad_x_act, whose first stream steps have far larger "
        "gradients, per clip for the rest",
    )
    look.add_argument("--layout", default="overlay", choices=("overlay", "side-by-side", "grid"))
    look.add_argument(
        "--predictions", action="store_true", help="add a strip with the top classes over time"
    )
    look.add_argument("--labels", help="text file with one class name per line")
    look.add_argument(
        "--class",
        dest="class_index",
        help="class that gradcam/grad_x_act explain: an index or a name (default: the prediction)",
    )
    look.add_argument("--fps", type=float, help="output frame rate (default: the input's)")
    look.add_argument(
        "--preset",
        metavar="PRESET",
        help="H.264 speed preset: ultrafast, superfast, veryfast, ... (x264's); slower "
        "presets write smaller files (default superfast; veryfast: ~30%% smaller, ~1.6x "
        "the encoding time)",
    )
    _range_options(r, "render")
    _model_options(r)
    _common(r)

    pr = sub.add_parser(
        "predict",
        help="print the top classes of a video (quick check of weights and preprocessing)",
        description="Stream a video through the model and print its top classes with "
        "probabilities, for the whole clip and, with --every N, every N frames.",
    )
    pr.add_argument("video", help="input video file")
    pr.add_argument("--top", type=int, default=5, help="how many classes (default 5)")
    pr.add_argument("--every", type=int, help="also print the top classes every N frames")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pr.add_argument("--labels", help="text file with one class name per line")
    pr.add_argument("--resolution", type=int, help=RESOLUTION_HELP)
    _range_options(pr, "predict")
    _model_options(pr)
    _common(pr)

    ev = sub.add_parser(
        "evaluate",
        help="measure where maps point against ground-truth masks",
        description="Compare map kinds and blocks against object masks (pointing game, energy "
        "inside, AUROC), beside a centre, noise and frame-difference baseline and the per-block "
        "oracle.",
    )
    ev.add_argument("video", help="input video file")
    ev.add_argument("--masks", required=True, help="masks .npz (masks, names, target, ...)")
    ev.add_argument("--json", metavar="PATH", help="also write the table as JSON ('-': stdout)")
    ev.add_argument("--layer", action="append", help="blocks to evaluate (default: all)")
    ev.add_argument("--kind", help="comma-separated map kinds (default: all)")
    ev.add_argument(
        "--class",
        dest="class_index",
        help="class the gradient maps explain (default: the masks' label, else the prediction)",
    )
    ev.add_argument(
        "--tolerance", type=int, default=4, help="pointing-game tolerance in mask pixels"
    )
    ev.add_argument(
        "--deletion", action="store_true", help="also run temporal deletion/insertion (slower)"
    )
    ev.add_argument("--steps", type=int, default=8, help="deletion/insertion steps (default 8)")
    _range_options(ev, "evaluate")
    _model_options(ev)
    _common(ev)

    cc = sub.add_parser(
        "check-causal",
        help="measure which input frames each output frame depends on",
        description="Measure which input frames each output frame of a MoViNet endpoint "
        "depends on, and say whether anything reads the future. Exit code 0 if causal, 1 if "
        "something leaks, 2 for bad input.",
    )
    cc.add_argument("--layer", help="endpoint or block to check (default: the last block)")
    cc.add_argument("--frames", type=int, default=8, help="frames in the test clip (default 8)")
    cc.add_argument("--size", type=int, default=32, help="height and width (default 32)")
    cc.add_argument("--tol", type=float, default=1e-6, help="influence above this counts")
    cc.add_argument("--method", default="perturb", choices=("perturb", "grad"))
    cc.add_argument(
        "--randomize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="check a randomized copy, so every module reaches the output (default: on for "
        "random weights, off for trained ones)",
    )
    _model_options(cc)
    _common(cc)

    lay = sub.add_parser("layers", help="list hook names, kinds and shapes of a model")
    lay.add_argument(
        "--resolution",
        type=int,
        help=f"input size for the shapes (default: the size the weights expect, such as a "
        f"TFLite file's, else 64; at least {MIN_RESOLUTION})",
    )
    lay.add_argument("--frames", type=int, default=2, help="frames for the shapes")
    _model_options(lay)
    _common(lay)

    td = sub.add_parser(
        "train-demo",
        help="train the demo model (MoViNet-A0 stream + SimAM on the moving-shapes task)",
    )
    td.add_argument("--out", required=True, help="output folder for the model bundle")
    td.add_argument("--steps", type=int, help="training steps, one learning-rate cycle")
    td.add_argument(
        "--cycles",
        type=_cycles_arg,
        help="steps per learning-rate cycle, e.g. 1400,700 (warm restarts at half the peak); "
        "default: the bundled model's recipe",
    )
    td.add_argument("--seed", type=int, default=0, help="data and weight seed (default 0)")
    td.add_argument("--size", type=int, help="frame size in pixels")
    td.add_argument("--frames", type=int, help="frames per clip")
    td.add_argument("--batch", type=int, help="clips per step")
    td.add_argument("--lr", type=float, help="peak learning rate (default 0.002)")
    td.add_argument("--rezero", type=float, help="initial ReZero scale of every block (default 1)")
    td.add_argument("--init", help="a train-demo folder to continue from")
    td.add_argument("--eval-clips", type=int, help="held-out clips measured at the end")
    _common(td)

    b = sub.add_parser(
        "batch",
        help="capture and summarize a whole folder of videos with Apache Beam",
        description="Run the model over many videos with Apache Beam (pip install "
        "'vizattn[scale]'): one cache per video, per-video summaries, per-layer and per-class "
        "aggregates, failures.csv for bad videos.",
    )
    b.add_argument("inputs", help="a glob, a folder, or a .txt/.csv list of paths (and labels)")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--masks-dir", help="folder of masks .npz named like the videos")
    b.add_argument("--kinds", help="comma-separated kinds (default simam,simam_energy,tada,logits)")
    b.add_argument("--names", help="comma-separated layers (default: all)")
    b.add_argument("--size", type=_size_arg, help="resize frames to N or HxW before the model")
    b.add_argument("--chunk", type=int, default=16, help="frames per model call (default 16)")
    b.add_argument("--reduce", default="mean", choices=("mean", "norm", "max", "none"))
    b.add_argument("--top-k", type=int, default=5, help="predictions kept per video")
    b.add_argument(
        "--runner",
        default="DirectRunner",
        help="Beam runner: DirectRunner, FlinkRunner, SparkRunner, DataflowRunner",
    )
    b.add_argument("--force", action="store_true", help="redo videos whose cache exists")
    _model_options(b)
    _common(b)

    d = sub.add_parser("demo", help="re-make the demo clip and its object masks")
    d.add_argument("--out", default="assets", help="output folder (default assets)")
    d.add_argument("--seed", type=int, help="clip seed (default: the bundled clip's)")
    _common(d)
    return p


# -- model from the options ------------------------------------------------------


def _architecture(args) -> dict:
    """The architecture flags the user gave (``None`` where not given)."""
    simam = getattr(args, "simam", None)
    tada = getattr(args, "tada", None)
    return {
        "model_id": getattr(args, "model", None),
        "stream": False if getattr(args, "base", False) else None,
        "simam": "" if simam is None else (None if simam == "none" else simam),
        "simam_position": getattr(args, "simam_position", None),
        "tada": None if tada in (None, "none") else tada,
        "num_classes": getattr(args, "num_classes", None),
    }


_ARCH_FLAGS = ("model", "simam", "simam_position", "tada", "num_classes")


def _weights(args) -> str:
    """``demo``, ``random`` or a path: what ``--checkpoint`` (or its absence) means."""
    if args.checkpoint:
        return args.checkpoint
    given = any(getattr(args, k, None) is not None for k in _ARCH_FLAGS) or args.base
    return "random" if given else "demo"


#: Seeds ``--seed`` takes (NumPy's and TensorFlow's generators: no negative seeds).
SEED_MAX = 2**32 - 1


def _at_least(flag: str, value, least: float, then: str = "") -> None:
    """One line naming ``flag`` when its ``value`` (``None``: not given) is below ``least``:
    ``"{flag} {value} must be >= {least}{then}."``."""
    if value is not None and value < least:
        raise VizAttnError(f"{flag} {value} must be >= {least}{then}.")


def _check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise VizAttnError(
            f"--seed {seed} is not a seed; pass a whole number from 0 to {SEED_MAX}, e.g. --seed 0."
        )


#: The flag behind each architecture option, for messages.
_ARCH_FLAG_NAMES = {
    "model_id": "--model",
    "stream": "--base",
    "simam": "--simam",
    "simam_position": "--simam-position",
    "tada": "--tada",
    "num_classes": "--num-classes",
}


def _flag_text(key: str, value) -> str:
    """``--model a2``, ``--base``, ``--simam none``: an architecture option as typed."""
    flag = _ARCH_FLAG_NAMES[key]
    if key == "stream":
        return flag
    return f"{flag} {'none' if value is None else value}"


def _is_tflite_file(weights: str) -> bool:
    return weights.lower().endswith(".tflite") and os.path.isfile(os.path.expanduser(weights))


def _tflite_info(args):
    """:func:`vizattn.tflite.inspect_tflite` of ``--checkpoint`` (read once; imports
    TensorFlow's TFLite schema, but builds no model)."""
    info = getattr(args, "_tflite", None)
    if info is None:
        from vizattn.tflite import inspect_tflite

        info = args._tflite = inspect_tflite(os.path.expanduser(args.checkpoint))
    return info


def _model_spec(args) -> dict:
    """What the model will be, known without building it (for the early checks)."""
    _check_seed(getattr(args, "seed", None))
    count = getattr(args, "num_classes", None)
    _at_least("--num-classes", count, 1, "; leave it out for 600")
    weights = _weights(args)
    arch = _architecture(args)
    if weights == "demo":
        from vizattn.demo_bundle import demo_build_options, demo_clashes

        spec = dict(demo_build_options())
        # load_model's test, with the flags the user typed in the message.
        clash = [_flag_text(k, v) for k, v in demo_clashes(arch)]
        if clash:
            raise VizAttnError(
                f"the bundled demo model is fixed (MoViNet-{spec['model_id']} "
                f"{'stream' if spec.get('stream', True) else 'base'}, SimAM "
                f"{spec.get('simam') or 'none'}, {spec.get('num_classes')} classes), so "
                f"{', '.join(clash)} cannot apply; pass --checkpoint random (or your own "
                "checkpoint) to build that variant."
            )
    elif weights == "random":
        spec = {"model_id": "a0", "stream": True, "simam": "frame", "simam_position": "projection"}
    else:  # trained weights: no SimAM unless asked; the model id may come from the file
        spec = {"model_id": "a5", "stream": True, "simam": None, "simam_position": "projection"}
    for key, value in arch.items():
        if key == "simam":
            if value != "":
                spec["simam"] = value
        elif value is not None:
            spec[key] = value
    if weights not in ("demo", "random") and "://" not in weights and weights != "official":
        path = os.path.expanduser(weights)
        prefix_files = [path + ".index"]
        if not os.path.exists(path) and not any(os.path.exists(f) for f in prefix_files):
            raise VizAttnError(
                f"checkpoint {weights!r} does not exist; pass a checkpoint directory, a .tar.gz, "
                "a Keras weight file, a .tflite file, 'random' or 'demo'."
            )
    if _is_tflite_file(weights) and any(arch[k] is not None for k in _TFLITE_FIXED):
        info = _tflite_info(args)  # the file says what the model is: a flag may contradict
        clash = info.contradictions({k: arch[k] for k in _TFLITE_FIXED})
        if clash:
            key, value, _ = clash[0]
            raise VizAttnError(
                f"{_flag_text(key, value)} contradicts {weights}, which holds a "
                f"MoViNet-{info.model_id} stream model with {info.num_classes} classes; "
                f"drop {_ARCH_FLAG_NAMES[key]} to build the model the file describes."
            )
        spec.update(model_id=info.model_id, stream=True, num_classes=info.num_classes)
    return spec


#: What a TFLite file fixes (and a flag can contradict).
_TFLITE_FIXED = ("model_id", "stream", "num_classes")


def _known_classes(args, spec: dict) -> tuple[list[str] | None, bool]:
    """The class names, as far as they are known without building the model.

    Returns ``(names, exact)``: ``exact`` when ``names`` are the model's classes
    (the bundled demo model, random weights, a TFLite file, each with ``--labels``
    if given, checked against the class count); ``--labels`` alone when the count
    is not known before the model is built (``exact`` False); else ``(None, False)``.
    Reading ``--labels`` here also checks that it is a readable text file.
    """
    from vizattn.labels import class_names, read_labels

    weights = _weights(args)
    own = None
    if weights == "demo":
        from vizattn.demo_bundle import demo_description

        own = demo_description().get("class_names")
        count = spec.get("num_classes") or (len(own) if own else None)
    elif weights == "random":
        count = spec.get("num_classes") or 600
    elif _is_tflite_file(weights) and (args.labels or getattr(args, "class_index", None)):
        count = _tflite_info(args).num_classes
    else:
        count = None
    labels = getattr(args, "labels", None)
    if labels:
        return read_labels(labels, count), count is not None
    if count is None:
        return None, False
    if own is not None and len(own) == count:
        return list(own), True
    return class_names(count), True


def _early_class(args, spec: dict):
    """``--class`` checked (and a name turned into its index) without building the model,
    where the class names are known; else as given. Also checks ``--labels``."""
    from vizattn.labels import resolve_class

    value = _class_arg(getattr(args, "class_index", None))
    names, exact = _known_classes(args, spec)
    if value is None or names is None:
        return value
    if exact or isinstance(value, str):  # a name in --labels: its index in that file
        return resolve_class(value, names)
    return value


def _load(args, say):
    weights = _weights(args)
    arch = _architecture(args)
    if weights == "demo" and not args.checkpoint:
        arch = {k: ("" if k == "simam" else None) for k in arch}
    seed = getattr(args, "seed", None)
    if weights == "random" and seed is None and args.command == "check-causal":
        seed = 0
    say("building model")  # before TensorFlow's import, which alone takes seconds
    from vizattn.models import load_model

    return load_model(weights, **arch, seed=seed, notify=say)


# -- commands --------------------------------------------------------------------


def _render(args, say) -> int:
    from vizattn import rendering
    from vizattn import video as vid

    layers = rendering._split(args.layer or ["block3"])
    kinds = rendering._split(args.kind)
    _check_numbers(args)
    rendering.check_look(
        layers,
        kinds,
        alpha=args.alpha,
        colormap=args.colormap,
        normalize=args.normalize,
        layout=args.layout,
        chunk=args.chunk,
        preset=args.preset,
    )
    info = vid.probe(args.video)
    _check_start(args, info)
    output = args.output or rendering.default_output(args.video, layers, kinds)
    vid.check_output_path(output, inputs=[args.video])
    spec = _model_spec(args)
    _check_stream(spec, "render")
    rendering.check_render_request(
        layers,
        kinds,
        model_id=spec["model_id"],
        simam=spec.get("simam"),
        simam_position=spec.get("simam_position") or "projection",
    )
    class_index = _early_class(args, spec)  # also checks --labels
    del info
    if _png_folder_without_slash(output):
        say(f"writing PNG frames into folder {output!r} (no extension)")
    # All this process does now is stream the video: small kernels, one thread each,
    # the chunks run in overlapping pieces (vizattn._tf.one_thread_per_kernel).
    from vizattn import _tf

    _tf.one_thread_per_kernel()
    model = _load(args, say)
    result = rendering.render(
        args.video,
        model=model,
        names=layers,
        kind=kinds,
        output=output,
        resolution=args.resolution,
        alpha=args.alpha,
        colormap=args.colormap,
        normalize=args.normalize,
        layout=args.layout,
        predictions=args.predictions,
        labels=args.labels,
        class_index=class_index,
        start=args.start,
        end=args.end,
        max_frames=args.max_frames,
        fps=args.fps,
        preset=args.preset,
        chunk=args.chunk,
        allow_truncated=args.allow_truncated,
        progress=not args.quiet,
        on_message=say,
    )
    print(
        f"wrote {result.output} ({result.frames} frames; processing speed "
        f"{result.processing_speed:.1f} frames/s)"
    )
    return 0


def _class_arg(value):
    if value is None:
        return None
    return int(value) if value.strip().lstrip("-").isdigit() else value


def _check_numbers(args) -> None:
    """The numeric options of render, predict and layers that need neither the video
    nor the model: checked first, each error naming the flag."""
    import math

    resolution = getattr(args, "resolution", None)
    if resolution is not None and resolution < MIN_RESOLUTION:
        raise VizAttnError(
            f"--resolution {resolution} is too small: MoViNet downsamples by {MIN_RESOLUTION}; "
            f"pass --resolution {MIN_RESOLUTION} or more, or leave it out."
        )
    fps = getattr(args, "fps", None)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise VizAttnError(
            f"--fps {fps:g} is not a frame rate; pass a number > 0, e.g. --fps 25, or leave "
            "it out to keep the input's timing."
        )
    if not hasattr(args, "start"):
        return
    start, end = args.start, args.end
    if start is not None and not (math.isfinite(start) and start >= 0):
        raise VizAttnError(
            f"--start {start:g} is not a time in the video; pass seconds >= 0, e.g. --start 0."
        )
    if end is not None and not (math.isfinite(end) and end > 0):
        raise VizAttnError(f"--end {end:g} is not a time in the video; pass seconds > 0.")
    if start is not None and end is not None and start >= end:
        raise VizAttnError(
            f"--start {start:g} is not before --end {end:g}, so the range is empty; pass a "
            "start before the end."
        )
    _at_least(
        "--max-frames", args.max_frames, 1,
        "; pass --max-frames 1 or more, or leave it out for every frame",
    )  # fmt: skip
    _at_least("--chunk", args.chunk, 1, " frame (default 16)")


def _check_start(args, info) -> None:
    """``--start`` against the probed duration (``--end`` beyond it just means to the end)."""
    duration = getattr(info, "duration", None)
    if args.start is not None and duration and args.start >= duration:
        raise VizAttnError(
            f"--start {args.start:g} is past the end of {args.video!r} ({duration:.2f} s); "
            f"pass a start before {duration:.2f} s."
        )


def _check_stream(spec: dict, command: str) -> None:
    if not spec.get("stream", True):
        raise VizAttnError(
            f"{command} streams the video through the model, frame by frame, and needs a "
            "stream model; drop --base."
        )


def _png_folder_without_slash(output: str) -> bool:
    """``-o out``: no extension, no trailing '/', not an existing folder: PNG frames."""
    text = os.fspath(output)
    return (
        not text.endswith(("/", os.sep))
        and not os.path.isdir(text)
        and not os.path.splitext(os.path.basename(text))[1]
    )


def _predict(args, say) -> int:
    from vizattn import video as vid

    _at_least("--top", args.top, 1)
    _at_least("--every", args.every, 1, " frame")
    _check_numbers(args)
    info = vid.probe(args.video)
    _check_start(args, info)
    spec = _model_spec(args)
    _check_stream(spec, "predict")
    _known_classes(args, spec)  # checks --labels (and its length, where the model's is known)
    model = _load(args, say)
    import numpy as np

    from vizattn.cache import LOGITS_NAME
    from vizattn.hooks import capture_stream
    from vizattn.labels import class_names, top_k
    from vizattn.rendering import _expected_frames, eager_chunk, model_input_size

    names = class_names(model, labels_file=args.labels)
    size = model_input_size(model, info.height, info.width, args.resolution)
    # A short video runs untraced, in longer calls, as render runs it (same values).
    total = _expected_frames(info, args.start, args.end, args.max_frames)
    chunk = eager_chunk(total, args.chunk, ["logits"], size)
    logits = []  # top_k takes logits and gives their softmax
    stamps: list[tuple[int, float]] = []  # (index in the video, time in s) of every frame
    rng = {"start": args.start, "end": args.end, "max_frames": args.max_frames}

    def frames(reader):
        for frame in reader:
            stamps.append((int(frame.index), float(frame.time)))
            yield frame

    with vid.VideoReader(args.video, **rng) as reader:
        for cache in capture_stream(
            model,
            frames(reader),
            chunk=chunk or args.chunk,
            kinds=["logits"],
            size=size,
            eager=chunk is not None,
        ):
            logits.append(cache[LOGITS_NAME][0])
        if reader.truncated and not args.allow_truncated:
            raise VizAttnError(
                f"{args.video!r} is truncated after {reader.frames_read} frames "
                f"({reader.truncated_reason}); pass --allow-truncated to use what decodes."
            )
    z = np.concatenate(logits)  # [time, classes]

    def entry(t: int) -> dict:
        """The prediction after the range's ``t``-th frame: that frame's number in the
        video and its timestamp (the decoded frame's own, so --start and variable frame
        rates are right)."""
        index, time = stamps[t]
        return {
            "frame": index,
            "time": round(time, 3),
            "top": [
                {"class": name, "index": int(i), "probability": round(float(q), 6)}
                for name, i, q in top_k(z[t], args.top, names)
            ],
        }

    result = {"video": args.video, "frames": int(len(z)), "clip": entry(len(z) - 1)}
    if args.every:
        result["every"] = [entry(t) for t in range(args.every - 1, len(z), args.every)]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.video}: {len(z)} frames; top {args.top} after the last frame:")
    for item in result["clip"]["top"]:
        print(f"  {item['probability']:7.4f}  {item['class']}  ({item['index']})")
    for row in result.get("every", []):
        tops = ", ".join(f"{x['class']} {x['probability']:.3f}" for x in row["top"][:3])
        print(f"  frame {row['frame']:>5} ({row['time']:6.2f} s): {tops}")
    return 0


def _evaluate(args, say) -> int:
    import numpy as np

    from vizattn import video as vid
    from vizattn.evaluation import KINDS, evaluate, load_masks
    from vizattn.names import did_you_mean

    _check_numbers(args)
    _at_least("--tolerance", args.tolerance, 0, " pixels (default 4)")
    _at_least("--steps", args.steps, 1, " (default 8)")
    from vizattn.rendering import _split

    for kind in _split(args.kind or ""):
        if kind not in KINDS:
            raise VizAttnError(
                f"unknown map kind {kind!r}; {did_you_mean(kind, KINDS)}use one of "
                f"{', '.join(KINDS)} (comma-separated)."
            )
    vid.probe(args.video)
    masks = load_masks(args.masks)
    if args.json and args.json != "-":
        _check_writable(args.json, inputs=[args.video, args.masks])
    _model_spec(args)
    rng = {"start": args.start, "end": args.end, "max_frames": args.max_frames}
    images, indices, total = [], [], 0
    with vid.VideoReader(args.video, **rng) as reader:
        for frame in reader:
            total += frame.image.nbytes
            if total > 2**30:
                raise VizAttnError(
                    f"clip too long to evaluate at once: {args.video!r} needs more than 1024 "
                    "MiB; pass --max-frames or --end."
                )
            images.append(frame.image)
            indices.append(frame.index)
        if reader.truncated and not args.allow_truncated:
            raise VizAttnError(
                f"{args.video!r} is truncated after {reader.frames_read} frames "
                f"({reader.truncated_reason}); pass --allow-truncated to use what decodes."
            )
    frames = np.stack(images)
    if any(v is not None for v in rng.values()) or reader.truncated:
        # The masks are per frame of the whole clip: keep the frames the range kept.
        whole, masks = masks, masks.select(indices)
        if whole.onset is not None and masks.onset is None:
            say(
                f"frames {indices[0]}..{indices[-1]} end before the onset (frame "
                f"{whole.onset}): no after-onset scores"
            )
    model = _load(args, say)
    from vizattn.models import model_info

    info = model_info(model)
    options = {"class_index": _class_arg(args.class_index)} if args.class_index else {}
    blocks, kinds = _split(args.layer) or None, _split(args.kind) or None
    say(
        f"scoring {', '.join(kinds) if kinds else 'every map kind'} in "
        f"{', '.join(blocks) if blocks else 'every block'} on {len(frames)} frames"
        + (" with deletion/insertion" if args.deletion else "")
        + "; this takes a while"
    )
    table = evaluate(
        model,
        frames,
        masks,
        blocks=blocks,
        kinds=kinds,
        tolerance=args.tolerance,
        deletion=args.deletion,
        steps=args.steps,
        size=getattr(info, "input_size", None),
        **options,
    )
    if args.json == "-":  # stdout holds only the JSON; the table goes to stderr
        print(table.to_text(), file=sys.stderr)
        print(json.dumps(table.to_dict(), indent=2))
        return 0
    print(table.to_text())
    if args.json:
        table.save_json(args.json)
        say(f"wrote {args.json}")
    return 0


def _check_writable(path: str, *, inputs=()) -> None:
    target = os.path.abspath(path)
    if any(os.path.abspath(i) == target for i in inputs):
        raise VizAttnError(f"output {path!r} is also an input; pass another output path.")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise VizAttnError(f"folder {folder!r} does not exist; create it or pass another path.")
    if not os.access(folder, os.W_OK):
        raise VizAttnError(f"folder {folder!r} is not writable; pass another output path.")


def _check_causal(args, say) -> int:
    if args.frames < 2:
        raise VizAttnError(f"--frames {args.frames} is too few; use at least 2.")
    if args.size < 8:
        raise VizAttnError(f"--size {args.size} is too small; use at least 8 (e.g. 32).")
    if not args.tol >= 0:
        raise VizAttnError(f"--tol {args.tol} must be >= 0.")
    spec = _model_spec(args)
    if args.layer is not None:
        from vizattn.names import endpoint_names, resolve

        if args.layer == "head":
            raise VizAttnError(
                "layer 'head' is pooled over time, so it has no frames to check; leave "
                "--layer out for the last block, or pass one such as 'block4'."
            )
        resolve(args.layer, [n for n in endpoint_names(spec["model_id"]) if n != "head"])
    weights = _weights(args)
    randomize = args.randomize if args.randomize is not None else weights == "random"
    model = _load(args, say)
    from vizattn.causal import check_causal

    report = check_causal(
        model,
        (1, args.frames, args.size, args.size, 3),
        tol=args.tol,
        method=args.method,
        seed=args.seed or 0,
        endpoint=args.layer,
        randomize=randomize,
    )
    print(f"# weights: {weights}{' (checked a randomized copy)' if randomize else ''}")
    print(report.to_text(values=args.verbose))
    return 0 if report.causal else 1


def _layers(args, say) -> int:
    import numpy as np

    _check_numbers(args)
    _at_least("--frames", args.frames, 1, " (default 2)")
    _model_spec(args)
    model = _load(args, say)
    from vizattn.hooks import capture
    from vizattn.models import model_info

    info = model_info(model)
    if args.resolution:
        height = width = args.resolution
    else:
        height, width = (info.input_size if info and info.input_size else None) or (64, 64)
    clip = np.zeros((1, args.frames, height, width, 3), np.uint8)
    cache = capture(model, clip)
    print(
        f"# model {info.model_id} {'stream' if info.stream else 'base'}, "
        f"clip [1, {args.frames}, {height}, {width}, 3]"
    )
    width = max(len(n) for n in cache)
    print(f"{'name':<{width}}  {'kind':<15} shape")
    for name in sorted(cache):
        kind = name.rsplit("/", 1)[-1]
        print(f"{name:<{width}}  {kind:<15} {tuple(cache[name].shape)}")
    return 0


def _train_demo(args, say) -> int:
    import math

    from vizattn.training import train_demo

    # Checked before the model is built and before --out is created, each naming its flag.
    _check_seed(args.seed)
    for flag, value, least in (
        ("--steps", args.steps, 1),
        ("--size", args.size, MIN_RESOLUTION),
        ("--frames", args.frames, 1),
        ("--batch", args.batch, 1),
        ("--eval-clips", args.eval_clips, 1),
    ):
        _at_least(flag, value, least, "; leave it out for the default")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise VizAttnError(f"--lr {args.lr:g} must be a number > 0, e.g. --lr 0.002.")
    if args.rezero is not None and not math.isfinite(args.rezero):
        raise VizAttnError(f"--rezero {args.rezero:g} must be a finite number, e.g. --rezero 1.")
    if args.init is not None and not os.path.isdir(os.path.expanduser(args.init)):
        raise VizAttnError(f"--init {args.init!r} is not a folder; pass a folder train-demo wrote.")

    options = {
        k: getattr(args, k)
        for k in (
            "steps",
            "cycles",
            "size",
            "frames",
            "batch",
            "lr",
            "rezero",
            "init",
            "eval_clips",
        )
        if getattr(args, k) is not None
    }
    record = train_demo(args.out, seed=args.seed, progress=not args.quiet, **options)
    acc = record.get("heldout_accuracy_last_frame", record.get("accuracy"))
    print(
        f"wrote the demo model to {args.out}" + (f" (held-out accuracy {acc:.3f})" if acc else "")
    )
    return 0


def _batch(args, say) -> int:
    from vizattn.beam_pipeline import DEFAULT_KINDS, describe, run_batch
    from vizattn.rendering import _split

    _check_seed(args.seed)
    # What needs no model fails here, once, not once per video: the checkpoint exists,
    # the flags fit it, and every --names item is a layer of its model id.
    spec = _model_spec(args)
    if args.names:
        from vizattn import names as _names

        layers = _names.endpoint_names(spec.get("model_id") or "a5")
        for item in _split(args.names):
            _names.resolve(item.split("/", 1)[0], [*layers, "classifier_head"], what="layer")
    arch = {k: v for k, v in _architecture(args).items() if v not in (None, "")}
    if args.simam == "none":
        arch["simam"] = None
    if args.seed is not None:
        arch["seed"] = args.seed
    with _logs_to(say):  # a video that fails: "vizattn: PATH failed: WHY"
        result = run_batch(
            args.inputs,
            args.out,
            checkpoint=_weights(args),
            build_options=arch,
            size=args.size,
            chunk=args.chunk,
            masks_dir=args.masks_dir,
            kinds=_split(args.kinds) or DEFAULT_KINDS,
            names=_split(args.names) or None,
            reduce=None if args.reduce == "none" else args.reduce,
            top_k=args.top_k,
            runner=args.runner,
            pipeline_args=args.beam_args,
            force=args.force,
        )
    print(describe(result))
    counters = result.get("counters", {})
    done = counters.get("videos_done", 0) + counters.get("videos_skipped", 0)
    return 1 if counters.get("videos_failed", 0) and not done else 0


@contextlib.contextmanager
def _logs_to(say: Callable[[str], None]) -> Iterator[None]:
    """Routes the ``vizattn`` logger's warnings to ``say`` (one ``vizattn: ...`` line
    each, none with -q) instead of Python's or Beam's ``WARNING:vizattn:`` format."""

    class Say(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            say(" ".join(record.getMessage().split()))

    logger = logging.getLogger("vizattn")
    handler, propagate = Say(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _demo(args, say) -> int:
    from vizattn.demo import make_demo

    _check_seed(args.seed)  # before make_demo creates --out
    options = {} if args.seed is None else {"seed": args.seed}
    video, masks = make_demo(args.out, **options)
    print(f"wrote {video} and {masks}")
    return 0


COMMANDS = {
    "render": _render,
    "predict": _predict,
    "evaluate": _evaluate,
    "check-causal": _check_causal,
    "layers": _layers,
    "train-demo": _train_demo,
    "batch": _batch,
    "demo": _demo,
}


def _fail(message: str, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    print(f"vizattn: error: {message}", file=sys.stderr)
    return 2


def _os_error(e: OSError) -> str:
    what = e.strerror or str(e) or type(e).__name__
    name = e.filename
    if name and os.path.basename(str(name)).startswith("."):  # our hidden temporary file
        name = os.path.dirname(str(name))
    return f"{what}: {name}" if name else what


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vizattn`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    extra: list[str] = []
    try:
        if argv and argv[0] == "batch":
            args, extra = parser.parse_known_args(argv)  # the rest are Beam pipeline options
        else:
            args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return int(e.code or 0)
    args.beam_args = extra
    if args.version:
        from vizattn import __version__

        print(f"vizattn {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    verbose = getattr(args, "verbose", False)
    quiet = getattr(args, "quiet", False)
    # Model Garden runs on tf-keras; with this set, TensorFlow does not also import
    # Keras 3 (and scikit-learn through it): ~2 s less before the first model.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from vizattn import _tf

    _tf.quiet(verbose)
    if not verbose:  # Beam's routine warnings ("Deleting 1 existing files ...") and the
        # tracebacks of errors vizattn reports itself, in one line
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)

    def say(message: str) -> None:
        if not quiet:
            print(f"vizattn: {message}", file=sys.stderr, flush=True)

    try:
        return COMMANDS[args.command](args, say)
    except VizAttnError as e:
        return _fail(" ".join(str(e).split()), verbose)
    except KeyboardInterrupt:
        print("vizattn: interrupted; no partial output was left.", file=sys.stderr)
        return 130
    except OSError as e:
        return _fail(_os_error(e), verbose)
    except MemoryError:
        smaller = {
            "check-causal": "a smaller --size or fewer --frames",
            "layers": "a smaller --resolution or fewer --frames",
            "train-demo": "a smaller --batch, --size or --frames",
        }.get(args.command, "a shorter range (--max-frames) or --chunk 4")
        return _fail(f"out of memory; use {smaller}.", verbose)


def run() -> None:
    """The ``vizattn`` console script: :func:`main`, then a prompt exit.

    Every output is complete (closed, renamed) when :func:`main` returns, so
    the process ends without tearing TensorFlow's objects down one by one
    (1-2 s after a render).
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
