"""What causal SimAM and TAdaConv cost inside MoViNet-A0 stream.

Times one full-clip forward pass (the model called in a ``tf.function``
with zero initial states, i.e. what ``vizattn.predict`` runs) of MoViNet-A0 stream on a
``1 x 50 x 172 x 172 x 3`` clip, for the plain network and for each module variant.
Every model is built once, randomized (:func:`vizattn.testing.randomize`), traced and
warmed up; then the variants are timed in interleaved rounds (the order rotates every
round; each sample is the mean of ``--repeat`` back-to-back calls) so that noise from
a shared machine hits all of them alike. The table reports the median sample, the
fastest one, frames per second, and the median's ratio to the plain network, with
PASS/MISS against the overhead targets.

    python benchmarks/bench_foundation.py              # 15 rounds x 3 calls
    python benchmarks/bench_foundation.py --rounds 31  # steadier medians

Absolute seconds depend on the machine and its load; the ratios are what matter.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

#: (label, build_movinet keyword arguments, max ratio to plain or None)
VARIANTS = [
    ("plain", {}, None),
    ("simam frame", {"simam": "frame"}, 1.10),
    ("simam cumulative", {"simam": "cumulative"}, 1.15),
    ("simam window=4", {"simam": "window", "simam_options": {"window": 4}}, 1.15),
    ("tada v1", {"tada": "v1"}, 1.10),
    ("tada v2 (info)", {"tada": "v2"}, None),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="back-to-back calls per timing sample (3)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per model (2)")
    parser.add_argument("--frames", type=int, default=50, help="clip frames (50)")
    parser.add_argument("--size", type=int, default=172, help="clip height and width (172)")
    parser.add_argument("--model-id", default="a0", help="MoViNet model id (a0)")
    args = parser.parse_args(argv)
    if min(args.rounds, args.repeat, args.warmup) < 1:
        parser.error("--rounds, --repeat and --warmup must be >= 1")
    return args


def _forward(model):
    """The model's forward pass, traced: ``run(clip, states) -> (logits, states)``."""
    from vizattn import models

    @models.tf.function(reduce_retracing=True)
    def run(image, states):
        return model({**states, "image": image}, training=False)

    return run


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    from vizattn import models, testing

    tf = models.tf
    shape = (1, args.frames, args.size, args.size, 3)
    clip = tf.constant(models.as_clip(testing.synthetic_clip(frames=args.frames, size=args.size)))

    print(f"MoViNet-{args.model_id.upper()} stream, clip {'x'.join(map(str, shape))}, "
          f"{args.rounds} rounds x {args.repeat} calls (median of per-round means), "
          f"{args.warmup} warm-up calls")  # fmt: skip
    print(f"python {platform.python_version()}, tensorflow {tf.__version__}, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at start")  # fmt: skip

    runs = {}
    for label, kwargs, _ in VARIANTS:
        t0 = time.perf_counter()
        model = models.build_movinet(args.model_id, num_classes=600, **kwargs)
        testing.randomize(model, seed=0)
        run = _forward(model)
        states = models.init_states(model, shape)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            logits, _ = run(clip, states)
            logits.numpy()
        print(f"  {label:<18} built in {built:5.1f} s, traced + warmed up in "
              f"{time.perf_counter() - t0:5.1f} s", flush=True)  # fmt: skip
        runs[label] = (run, states)

    times: dict[str, list[float]] = {label: [] for label in runs}
    labels = list(runs)
    for r in range(args.rounds):
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            run, states = runs[label]
            t0 = time.perf_counter()
            for _ in range(args.repeat):
                logits, _ = run(clip, states)
                logits.numpy()
            times[label].append((time.perf_counter() - t0) / args.repeat)
        print(f"  round {r + 1}/{args.rounds} done", flush=True)

    plain = statistics.median(times["plain"])
    print()
    header = f"{'variant':<18} {'median s':>9} {'min s':>7} {'frames/s':>9} {'x plain':>8}  target"
    print(header)
    print("-" * len(header))
    missed = 0
    for label, _, target in VARIANTS:
        med = statistics.median(times[label])
        ratio = med / plain
        verdict = ""
        if target is not None:
            ok = ratio <= target
            missed += not ok
            verdict = f"<= {target:.2f}x {'PASS' if ok else 'MISS'}"
        print(f"{label:<18} {med:9.3f} {min(times[label]):7.3f} {args.frames / med:9.1f} "
              f"{ratio:7.3f}x  {verdict}")  # fmt: skip
    total = time.perf_counter() - t_start
    print(f"\nload average {os.getloadavg()[0]:.2f} at end; total {total:.0f} s")
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
