"""Batch benchmark: what do Beam workers buy over a plain loop, and where does the time go?

One run on generated videos (default: 16 videos of 64 frames at 172x172, the
size MoViNet-A0 stream was trained at), model MoViNet-A0 stream with SimAM
(frame) and TAdaConv (v1), random weights from a seed, capturing SimAM
attention and energy, TAdaConv alpha and logits, channel-mean reduced,
chunks of 16 frames. Three ways, each from a cold process (model built and
traced inside the measurement, as a user's run would):

* loop: a plain Python loop in one process -- decode (``vizattn.video.read_all``),
  ``vizattn.capture_stream``, ``Cache.save``, ``summarize_cache``;
* beam 1 worker: ``run_batch`` on the DirectRunner, in-process (``direct_num_workers=1``);
* beam N workers: ``run_batch`` with ``--direct_num_workers=N
  --direct_running_mode=multi_processing``.

Each way runs in its own subprocess, so every one pays the TensorFlow import
and the model build. The table gives wall time, speed-up against the loop and
the time per stage (summed over workers, from the pipeline's timing counters).

Run: ``python benchmarks/bench_batch.py`` (about 5-10 min on 2 cores);
``--videos 4 --frames 16`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

BUILD = {"model_id": "a0", "simam": "frame", "tada": "v1", "seed": 0}
KINDS = ["simam", "simam_energy", "tada", "logits"]


def make_videos(folder: str, count: int, frames: int, size: int) -> None:
    from vizattn import testing, video

    for i in range(count):
        clip = testing.synthetic_clip(frames=frames, size=size, seed=i)[0]
        video.write_video(os.path.join(folder, f"video{i:02d}.mp4"), clip, fps=25)


def run_loop(folder: str, out: str, chunk: int) -> dict:
    """The plain loop, timed by stage (runs in a fresh process)."""
    start = time.perf_counter()
    import vizattn
    from vizattn import beam_pipeline as bp
    from vizattn import video

    times = {"import": time.perf_counter() - start}
    t = time.perf_counter()
    model = bp._load_model("random", dict(BUILD))
    times["build"] = time.perf_counter() - t
    times.update(decode=0.0, capture=0.0, save=0.0, first=None)
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(folder)):
        t = time.perf_counter()
        frames, _ = video.read_all(os.path.join(folder, name))
        times["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        caches = list(
            vizattn.capture_stream(model, frames, chunk=chunk, kinds=KINDS, reduce="mean")
        )
        times["capture"] += time.perf_counter() - t
        if times["first"] is None:
            times["first"] = times["capture"]  # the first video traces the model
        t = time.perf_counter()
        cache = vizattn.Cache.concat(caches)
        cache.save(os.path.join(out, name + ".npz"))
        bp.summarize_cache(cache)
        times["save"] += time.perf_counter() - t
    times["wall"] = time.perf_counter() - start
    return times


def run_beam(folder: str, out: str, chunk: int, workers: int) -> dict:
    start = time.perf_counter()
    from vizattn import beam_pipeline as bp

    args = ["--direct_num_workers=1"]
    if workers > 1:
        args = [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    result = bp.run_batch(
        os.path.join(folder, "*.mp4"),
        out,
        checkpoint="random",
        build_options=BUILD,
        chunk=chunk,
        kinds=KINDS,
        pipeline_args=args,
        force=True,
    )
    c = result["counters"]
    return {
        "wall": time.perf_counter() - start,
        "build": c["ms_build"] / 1000,
        "decode": c["ms_decode"] / 1000,
        "capture": c["ms_capture"] / 1000,
        "first": c["ms_first_capture"] / 1000,
        "save": c["ms_save"] / 1000,
        "builds": c["model_builds"],
        "frames": c["frames"],
    }


def _child(argv: list[str]) -> dict:
    """Runs one way in a fresh interpreter and returns its JSON line."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise SystemExit(f"child {argv} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--size", type=int, default=172)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", nargs=4, metavar=("WAY", "FOLDER", "OUT", "WORKERS"))
    args = ap.parse_args(argv)

    if args.child:
        way, folder, out, workers = args.child
        if way == "loop":
            times = run_loop(folder, out, args.chunk)
        else:
            times = run_beam(folder, out, args.chunk, int(workers))
        print(json.dumps(times))
        return 0

    tmp = tempfile.mkdtemp(prefix="vizattn-bench-batch-")
    folder = os.path.join(tmp, "videos")
    os.makedirs(folder)
    t = time.perf_counter()
    make_videos(folder, args.videos, args.frames, args.size)
    print(
        f"{args.videos} videos of {args.frames} frames at {args.size}x{args.size} "
        f"(made in {time.perf_counter() - t:.1f} s); A0 stream, SimAM frame + TAdaConv v1, "
        f"chunk {args.chunk}; {os.cpu_count()} CPUs"
    )
    rows = [("loop", _child(["loop", folder, os.path.join(tmp, "loop"), "1"]))]
    for n in args.workers:
        way = f"beam {n} worker" + ("s" if n > 1 else "")
        rows.append((way, _child(["beam", folder, os.path.join(tmp, f"beam{n}"), str(n)])))
    base = rows[0][1]["wall"]
    total = args.videos * args.frames
    print()
    print(
        f"{'way':<16}{'wall s':>8}{'speed-up':>10}{'frames/s':>10}"
        f"{'build s':>9}{'decode s':>10}{'model s':>9}{'1st video':>11}{'save s':>8}"
    )
    for way, r in rows:
        print(
            f"{way:<16}{r['wall']:>8.1f}{base / r['wall']:>9.2f}x{total / r['wall']:>10.1f}"
            f"{r['build']:>9.1f}{r['decode']:>10.1f}{r['capture']:>9.1f}{r['first']:>11.1f}"
            f"{r['save']:>8.1f}"
        )
    print(
        "\nbuild/decode/model/save: seconds summed over workers; '1st video' is the part of "
        "'model' spent on\neach worker's first video, which traces the model. The rest of a "
        "wall time is importing\nTensorFlow, starting workers and Beam's own stages."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
