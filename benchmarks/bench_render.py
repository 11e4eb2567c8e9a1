"""Render benchmark: is ``vizattn render`` as fast as its model and its encoder?

One run, measured on a generated 10-second 640x360 clip at 25 fps, A0 stream
with SimAM (frame) after every projection, layer block3:

* model-only: the model (stream, chunks of 16 frames, states carried) on the
  decoded frames, resized to the model's input size, capturing block3 maps;
* encode-only: the same number of frames, overlaid, written as H.264 with the
  render's settings;
* decode-only, for reference;
* render: the whole command path, ``vizattn.render.render`` (two passes with
  ``normalize="clip"``; one pass with ``normalize="frame"``).

Targets: render <= 1.0 x (model-only + encode-only), by overlapping the stages,
and at least 50 frames/s. Run: ``python benchmarks/bench_render.py``.
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
    args = ap.parse_args(argv)

    import vizattn
    from vizattn import overlay as ov
    from vizattn import video as vid
    from vizattn.render import DEFAULT_RESOLUTION, _MapMaker, _model_size, render

    tmp = tempfile.mkdtemp(prefix="vizattn-bench-")
    src = os.path.join(tmp, "clip.mp4")
    make_clip(src, seconds=args.seconds, fps=25)
    info = vid.probe(src)
    print(f"input: {info.width}x{info.height}, {info.frame_count} frames at {float(info.fps)} fps")

    model = vizattn.build_movinet("a0", simam="frame")
    size = _model_size(info.height, info.width, DEFAULT_RESOLUTION["a0"])
    frames = [f.image for f in vid.VideoReader(src)]
    n = len(frames)

    # Warm-up: trace the capture function once (the render's build+trace is excluded too).
    def model_only() -> tuple[float, list]:
        maker = _MapMaker(
            model,
            ["block3"],
            ["simam"],
            stream=True,
            size=size,
            predictions=False,
            chunk=args.chunk,
        )
        t0 = time.perf_counter()
        maps = []
        for i in range(0, n, args.chunk):
            m, _ = maker(frames[i : i + args.chunk])
            maps.append(m[("block3", "simam")])
        return time.perf_counter() - t0, maps

    model_only()
    t_model, maps = model_only()
    heat = np.concatenate(maps)
    heat = (heat - heat.min()) / (heat.max() - heat.min())

    t0 = time.perf_counter()
    for _ in vid.VideoReader(src):
        pass
    t_decode = time.perf_counter() - t0

    t0 = time.perf_counter()
    overlayer = ov.Overlayer(alpha=0.5, colormap="inferno")
    with vid.VideoWriter(os.path.join(tmp, "encode.mp4"), fps=25) as writer:
        for f, m in zip(frames, heat, strict=True):
            writer.write(overlayer(f, m))
    t_encode = time.perf_counter() - t0

    results = {}
    for normalize in ("clip", "frame"):
        out = os.path.join(tmp, f"render_{normalize}.mp4")
        t0 = time.perf_counter()
        render(
            src,
            layer="block3",
            model=model,
            output=out,
            normalize=normalize,
            chunk=args.chunk,
            progress=False,
            on_warning=lambda m: None,
        )
        results[normalize] = time.perf_counter() - t0

    budget = t_model + t_encode
    print(f"\nframes: {n}")
    print(f"{'stage':<28}{'seconds':>9}{'frames/s':>10}")
    for label, t in [
        ("decode-only", t_decode),
        ("model-only", t_model),
        ("encode-only (overlay+H.264)", t_encode),
        ("model + encode", budget),
    ]:
        print(f"{label:<28}{t:9.2f}{n / t:10.1f}")
    for normalize, t in results.items():
        ratio = t / budget
        fps = n / t
        verdict = "PASS" if ratio <= 1.0 and fps >= 50 else "MISS"
        print(
            f"{'render normalize=' + normalize:<28}{t:9.2f}{fps:10.1f}"
            f"   ratio {ratio:.2f}x of model+encode  [{verdict}: <= 1.0x and >= 50 frames/s]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
