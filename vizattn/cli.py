"""The ``vizattn`` command line.

::

    vizattn render VIDEO --layer block3            # heatmap video next to the input
    vizattn layers --model a0 --simam frame        # hook names, kinds and shapes
    vizattn demo                                   # regenerate assets/demo.mp4
    vizattn check-causal --simam clip              # does anything read the future?

Nothing heavy is imported before the arguments are parsed, so ``--help``
answers at once. TensorFlow's log noise is off unless ``-v`` is given. Bad
input gets one line on stderr and exit code 2 (``-v`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

__all__ = ["main"]

MODEL_IDS = ("a0", "a1", "a2", "a3", "a4", "a5")
SIMAM_MODES = ("frame", "cumulative", "window", "clip")
RENDER_KINDS = ("simam", "simam_energy", "simam_input", "activation", "gradcam")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="a0", choices=MODEL_IDS, help="MoViNet variant (default a0)")
    g.add_argument(
        "--checkpoint",
        help="Model Garden checkpoint (dir, .tar.gz, URL, 'official') "
        "or Keras weight file; without it weights are random",
    )
    g.add_argument(
        "--simam",
        default="frame",
        choices=(*SIMAM_MODES, "none"),
        help="SimAM mode inserted in every block (default frame; 'none' for plain)",
    )
    g.add_argument(
        "--simam-position",
        default="projection",
        choices=("projection", "feature", "stem"),
        help="where SimAM goes",
    )
    g.add_argument("--tada", choices=("v1", "v2"), help="add causal TAdaConv to every block")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument(
        "--stream",
        dest="stream",
        action="store_true",
        default=True,
        help="streaming model, frame by frame with states (default)",
    )
    mode.add_argument(
        "--clip", dest="stream", action="store_false", help="base 3D model on clip chunks"
    )
    g.add_argument("--num-classes", type=int, default=600, help="classifier size (default 600)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vizattn",
        description="See and prove what attention does inside streaming MoViNet models.",
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser(
        "render",
        help="write a heatmap video of what a layer attends to",
        description="Overlay per-frame maps of a layer on the video and write them as a video. "
        "Output format follows the extension: .mp4 (H.264, yuv420p), .webm, .gif, "
        "or a folder of PNG frames.",
    )
    r.add_argument("video", help="input video file")
    r.add_argument(
        "--layer",
        action="append",
        default=None,
        help="endpoint or block prefix: block3, block3_layer1, stem (repeat or "
        "comma-separate for --layout grid; default block3)",
    )
    r.add_argument(
        "--kind",
        default="simam",
        help=f"map kind, comma-separated for grid: {', '.join(RENDER_KINDS)} (default simam)",
    )
    r.add_argument(
        "-o", "--output", help="output path (default {stem}_{layer}_{kind}.mp4 next to the input)"
    )
    _add_model_options(r)
    r.add_argument(
        "--resolution",
        type=int,
        help="model input size (shorter side); default depends on the model",
    )
    look = r.add_argument_group("look")
    look.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity (default 0.5)")
    look.add_argument("--colormap", default="inferno", help="matplotlib colormap name")
    look.add_argument(
        "--normalize",
        default="clip",
        choices=("clip", "frame"),
        help="one scale for the whole clip (default) or per frame",
    )
    look.add_argument("--layout", default="overlay", choices=("overlay", "side-by-side", "grid"))
    look.add_argument(
        "--predictions", action="store_true", help="add a strip with the top predictions over time"
    )
    look.add_argument("--labels", help="text file with one class name per line")
    rng = r.add_argument_group("range")
    rng.add_argument("--start", type=float, help="start time in seconds")
    rng.add_argument("--end", type=float, help="end time in seconds")
    rng.add_argument("--max-frames", type=int, help="at most this many frames")
    rng.add_argument("--fps", type=float, help="output frame rate (default: the input's)")
    r.add_argument("--chunk", type=int, default=16, help="frames per model call (default 16)")
    r.add_argument(
        "--allow-truncated",
        action="store_true",
        help="render the frames of a truncated or corrupt file instead of failing",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.add_argument("-v", "--verbose", action="store_true", help="tracebacks and TF logs")

    lay = sub.add_parser("layers", help="list hook names, kinds and shapes of a model")
    _add_model_options(lay)
    lay.add_argument("--resolution", type=int, default=172, help="input size for the shapes")
    lay.add_argument("--frames", type=int, default=2, help="frames for the shapes")
    lay.add_argument("-v", "--verbose", action="store_true")

    d = sub.add_parser("demo", help="regenerate the demo clip and its object masks")
    d.add_argument("--out", default="assets", help="output folder (default assets)")
    d.add_argument("--seconds", type=float, default=4.0)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("-v", "--verbose", action="store_true")

    sub.add_parser(
        "check-causal",
        help="measure which input frames each output frame depends on",
        add_help=False,
    )
    return p


def _fail(message: str, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    print(f"vizattn: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vizattn`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check-causal":
        from vizattn import causal

        return causal.main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from vizattn import __version__

        print(f"vizattn {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    verbose = getattr(args, "verbose", False)
    from vizattn import _tf

    _tf.quiet(verbose)
    from vizattn.errors import VizAttnError

    try:
        if args.command == "render":
            from vizattn.render import render_cli

            return render_cli(args)
        if args.command == "layers":
            return _layers(args)
        if args.command == "demo":
            from vizattn.demo import make_demo

            video, masks = make_demo(args.out, seconds=args.seconds, seed=args.seed)
            print(f"wrote {video} and {masks}")
            return 0
    except VizAttnError as e:
        return _fail(str(e), verbose)
    except KeyboardInterrupt:
        print("vizattn: interrupted; no partial output was left.", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as e:
        return _fail(f"{e.__class__.__name__}: {e}", verbose)
    return 0


def _layers(args) -> int:
    from vizattn.capture import capture
    from vizattn.models import build_movinet

    model = build_movinet(
        args.model,
        stream=args.stream,
        simam=None if args.simam == "none" else args.simam,
        simam_position=args.simam_position,
        tada=args.tada,
        num_classes=args.num_classes,
        checkpoint=args.checkpoint,
    )
    import numpy as np

    clip = np.zeros((1, args.frames, args.resolution, args.resolution, 3), np.uint8)
    cache = capture(model, clip, stream=False)
    width = max(len(n) for n in cache)
    print(
        f"# model {args.model} {'stream' if args.stream else 'base'}, "
        f"clip [1, {args.frames}, {args.resolution}, {args.resolution}, 3]"
    )
    print(f"{'name':<{width}}  {'kind':<15} shape")
    for name in sorted(cache):
        kind = name.rsplit("/", 1)[-1]
        print(f"{name:<{width}}  {kind:<15} {tuple(cache[name].shape)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
