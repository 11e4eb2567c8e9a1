"""How much does capturing cost next to predicting, on the one streaming core?

A0 stream model with SimAM "frame" after every projection (randomized weights,
so nothing is trivially zero), one clip of 1 x 50 x 172 x 172 x 3, streamed in
chunks of 16 frames with states carried. Three things, measured in interleaved
rounds after a warm-up call of each (so no tracing is timed):

(a) ``predict_stream(model, clip)``: per-frame logits;
(b) ``capture_stream(model, clip, kinds=["simam"], reduce="mean")`` (every
    chunk's cache consumed): the target is at most 1.1 x (a);
(c) ``capture(model, clip)``: every kind, unreduced; time and bytes returned.

Peak memory is the rise of the process's resident-set high-water mark
(``VmHWM``) during one warm call, reset before each call through
``/proc/self/clear_refs`` (Linux); where that is unavailable, the rise of
``ru_maxrss`` over the whole run is reported instead.

    python benchmarks/bench_capture.py [--rounds 5] [--frames 50] [--size 172]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time


def _hwm_kb() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_kb() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rise_mb(fn) -> float | None:
    """Runs ``fn()`` once; returns how far the RSS peak rose above the RSS before (MB)."""
    if not _reset_peak():
        fn()
        return None
    before = _rss_kb()
    fn()
    peak = _hwm_kb()
    return None if before is None or peak is None else (peak - before) / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--size", type=int, default=172)
    args = p.parse_args(argv)

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    from vizattn._tf import import_tf

    tf = import_tf()
    from vizattn.hooks import capture, capture_stream, predict_stream
    from vizattn.models import build_movinet
    from vizattn.testing import randomize, synthetic_clip

    t0 = time.perf_counter()
    model = build_movinet("a0", stream=True, simam="frame", num_classes=600)
    randomize(model)
    build_s = time.perf_counter() - t0
    clip = synthetic_clip(frames=args.frames, size=args.size)

    def predict():
        return predict_stream(model, clip, chunk=16)

    def simam_mean():
        caches = list(capture_stream(model, clip, chunk=16, kinds=["simam"], reduce="mean"))
        return {k: v for c in caches for k, v in c.items()}

    def everything():
        return capture(model, clip)

    cases = {
        "(a) predict_stream": predict,
        "(b) capture_stream simam, mean": simam_mean,
        "(c) capture every kind, unreduced": everything,
    }
    first = {}
    for name, fn in cases.items():  # warm-up: traces once each
        t0 = time.perf_counter()
        out = fn()
        first[name] = time.perf_counter() - t0
        if name.startswith("(c)"):
            total_bytes = sum(a.nbytes for a in out.values())
            n_arrays = len(out)
        if name.startswith("(b)"):
            n_simam = len(out)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    peaks = {name: peak_rise_mb(fn) for name, fn in cases.items()}
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    base = statistics.median(times["(a) predict_stream"])
    print(
        f"# A0 stream, simam=frame (projection), randomized; clip 1x{args.frames}x{args.size}x"
        f"{args.size}x3; {args.rounds} interleaved rounds; TF {tf.__version__}; "
        f"{os.cpu_count()} CPUs; build {build_s:.1f} s"
    )
    header = (
        f"{'case':<36} {'median s':>9} {'min s':>7} {'x (a)':>6} {'1st call s':>10} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for name in cases:
        med = statistics.median(times[name])
        peak = peaks[name]
        print(
            f"{name:<36} {med:>9.3f} {min(times[name]):>7.3f} {med / base:>6.2f} "
            f"{first[name]:>10.1f} {'n/a' if peak is None else f'{peak:.0f}':>8}"
        )
    ratio = statistics.median(times["(b) capture_stream simam, mean"]) / base
    print(
        f"\n(b) / (a) = {ratio:.2f} (target <= 1.10: {'met' if ratio <= 1.1 else 'NOT met'}); "
        f"(b) returned {n_simam} arrays [B, T, H, W]"
    )
    print(f"(c) returned {n_arrays} arrays, {total_bytes / 2**20:.1f} MiB in all")
    print(
        "peak MB: rise of the RSS high-water mark during one warm call above the RSS before it; "
        f"ru_maxrss rose {(rss1 - rss0) / 1024:.0f} MB over the whole run (import, build, traces)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
