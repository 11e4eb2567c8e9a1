"""Render benchmark: does ``vizattn render`` reach the CPU-bound limit of its stages?

One run on a generated 10-second 640x360 clip at 25 fps (250 frames), MoViNet-A0
stream with SimAM (frame) after every projection, layer block3, kind simam.

The model, the overlay and the encoder compete for the same cores, so
overlapping them cannot beat the sum of their CPU time. Each stage is measured
alone in *process CPU seconds* (``time.process_time``: user + system, all
threads), per frame:

* decode: reading every frame (``vizattn.video.VideoReader``);
* model: ``vizattn.capture_stream`` on the decoded frames (chunks of 16, states
  carried, block3 SimAM reduced over channels): what render runs;
* overlay + H.264: ``vizattn.overlay.Composer`` and ``VideoWriter``, as render
  draws: ``Composer.base`` (the frame without its map), ``VideoWriter.prepare``
  (to YUV 4:2:0), ``Composer.paint_yuv`` (the map), H.264.

The limit is ``cores / (sum of CPU seconds per frame)`` frames/s. Render
(``normalize="clip"``, the default, and ``"frame"``: both run the model and draw
each frame's base first, then paint and encode, as the frames fit in memory) is
timed in wall seconds, model build and first trace excluded (warm-up render).
Each stage's and each render's wall time and cores busy (CPU s / wall s) are
printed too: a render can beat the limit only by keeping every core busy.
Every figure is the median of ``--rounds`` (3) interleaved rounds of all five
measurements, so that a slow spell of the machine hits each alike.
Everything runs as ``vizattn render`` does: one thread per TensorFlow kernel
(``--tf-threads default`` for TensorFlow's default), the model's chunks in
overlapping pieces (``vizattn.hooks.PIECES``).
Target: render >= 0.9 x the limit. Run: ``python benchmarks/bench_render.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def make_clip(path: str, *, seconds: float, fps: int, size=(360, 640)) -> None:
    from vizattn.video import VideoWriter

    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    background = ((np.sin(xx / 17.0) + np.cos(yy / 11.0)) * 40 + 100).astype(np.uint8)
    with VideoWriter(path, fps=fps) as writer:
        for t in range(int(seconds * fps)):
            frame = np.stack([background, np.roll(background, t, 1), background // 2], -1)
            cy, cx = int(h / 2 + 100 * np.sin(t / 20)), int(w / 2 + 200 * np.cos(t / 25))
            frame[max(0, cy - 30) : cy + 30, max(0, cx - 30) : cx + 30] = (230, 40, 40)
            writer.write(frame)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    ap.add_argument(
        "--tf-threads",
        choices=["one", "default"],
        default="one",
        help="threads per TensorFlow kernel: one, as `vizattn render` runs (the default), "
        "or TensorFlow's default",
    )
    args = ap.parse_args(argv)

    from vizattn import _tf

    if args.tf_threads == "one" and not _tf.one_thread_per_kernel():
        raise SystemExit("TensorFlow already runs kernels on several threads")
    import vizattn
    from vizattn import hooks, rendering
    from vizattn import overlay as ov
    from vizattn import video as vid
    from vizattn.cache import normalize_maps

    tmp = tempfile.mkdtemp(prefix="vizattn-bench-")
    src = os.path.join(tmp, "clip.mp4")
    make_clip(src, seconds=args.seconds, fps=25)
    info = vid.probe(src)
    print(f"input: {info.width}x{info.height}, {info.frame_count} frames at {float(info.fps)} fps")
    print(
        f"TensorFlow threads per kernel: {_tf.intra_op_threads() or 'default'}; "
        f"chunks run in {hooks._pieces()} pieces"
    )

    model = vizattn.build_movinet("a0", simam="frame")
    size = rendering.model_input_size(model, info.height, info.width)
    frames = [f.image for f in vid.VideoReader(src)]
    n = len(frames)

    def cpu(fn):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        return time.process_time() - c0, time.perf_counter() - w0, out

    def decode():
        for _ in vid.VideoReader(src):
            pass

    def run_model():
        maps = []
        for cache in vizattn.capture_stream(
            model, frames, chunk=args.chunk, names="block3", kinds=["simam"], reduce="mean",
            size=size,
        ):  # fmt: skip
            maps.append(cache.frame_maps("block3", "simam", normalize=None)[0])
        return np.concatenate(maps)

    run_model()  # trace once
    heat = normalize_maps(run_model()[None], "clip")[0]

    composer = ov.Composer(
        layout="overlay",
        panels=["block3 · simam"],
        caption="block3 · simam · a0 stream · random weights",
        scale="per clip",
    )

    def encode():
        # As render draws: the frame without its map, converted to YUV 4:2:0, then
        # the map painted on the YUV planes, then H.264.
        with vid.VideoWriter(os.path.join(tmp, "encode.mp4"), fps=25) as writer:
            for f, m in zip(frames, heat, strict=True):
                prepared = writer.prepare(composer.base(f))
                composer.paint_yuv(writer.planes(prepared), [m], to_yuv=writer.to_yuv)
                writer.write(prepared)

    def render(normalize):
        rendering.render(
            src,
            model=model,
            names="block3",
            output=os.path.join(tmp, f"render_{normalize}.mp4"),
            normalize=normalize,
            chunk=args.chunk,
            progress=False,
            on_message=lambda m: None,
        )

    # Warm-up: long enough that render traces (shorter renders run eagerly).
    warm = rendering.EAGER_CALLS * rendering.EAGER_PIXELS // (size[0] * size[1]) + 1
    assert rendering.eager_chunk(warm, args.chunk, ["simam"], size) is None
    rendering.render(src, model=model, output=os.path.join(tmp, "warm.mp4"), progress=False,
                     on_message=lambda m: None, max_frames=warm, chunk=args.chunk)  # fmt: skip

    # Interleaved rounds, so that a slow spell of the machine hits every stage alike;
    # each figure is the median over the rounds.
    tasks = {
        "decode": decode,
        "model": run_model,
        "overlay + H.264": encode,
        "render clip": lambda: render("clip"),
        "render frame": lambda: render("frame"),
    }
    samples: dict = {k: [] for k in tasks}
    for _ in range(args.rounds):
        for name, fn in tasks.items():
            c, w, _ = cpu(fn)
            samples[name].append((c, w))
    median = {k: tuple(np.median(np.array(v), axis=0)) for k, v in samples.items()}
    (c_decode, w_decode), (c_model, w_model), (c_encode, w_encode) = (
        median["decode"],
        median["model"],
        median["overlay + H.264"],
    )
    per_frame = (c_decode + c_model + c_encode) / n
    limit = args.cores / per_frame
    results = {normalize: median[f"render {normalize}"][::-1] for normalize in ("clip", "frame")}

    print(f"\nframes: {n}, cores: {args.cores}, medians of {args.rounds} interleaved rounds")
    print(f"{'stage':<22}{'CPU s':>8}{'CPU ms/frame':>14}{'wall s':>8}{'cores busy':>12}")
    for label, c, w in [
        ("decode", c_decode, w_decode),
        ("model", c_model, w_model),
        ("overlay + H.264", c_encode, w_encode),
    ]:
        print(f"{label:<22}{c:8.2f}{1000 * c / n:14.2f}{w:8.2f}{c / w:12.2f}")
    print(f"{'all three':<22}{per_frame * n:8.2f}{1000 * per_frame:14.2f}")
    print(f"CPU-bound limit: {args.cores} / {per_frame * 1000:.2f} ms = {limit:.1f} frames/s\n")
    for normalize, (t, c) in results.items():
        fps = n / t
        ratio = fps / limit
        verdict = "PASS" if ratio >= 0.9 else "MISS"
        print(
            f"render normalize={normalize:<6} {t:6.2f} s  {fps:6.1f} frames/s  "
            f"{ratio:.2f} x limit  [{verdict}: >= 0.9]  "
            f"({c:.2f} CPU s: {c / t:.2f} of {args.cores} cores busy)"
        )
    # The same ratio within each round (its own stages against its own render):
    # the spread shows how much the machine's noise alone moves it.
    stage_cpu = [
        sum(samples[k][r][0] for k in ("decode", "model", "overlay + H.264"))
        for r in range(args.rounds)
    ]
    for normalize in results:
        walls = [w for _, w in samples[f"render {normalize}"]]
        ratios = [cpu / (args.cores * w) for cpu, w in zip(stage_cpu, walls, strict=True)]
        print(
            f"  normalize={normalize:<6} per round: "
            + " ".join(f"{x:.2f}" for x in ratios)
            + f"  (median {np.median(ratios):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
