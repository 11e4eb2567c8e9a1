"""Build cost: ``vizattn.build_movinet`` against Model Garden's own build of the same variant.

vizattn's ``VizMovinet`` runs Model Garden's own ``_build_network`` once, which
creates vizattn's block subclasses (SimAM / TAdaConv inside) where it would
create its own. Measured for MoViNet-A0 stream with
frame SimAM (the demo model's variant), in interleaved rounds after one warm-up
build of each (imports, first-use caches), median wall seconds.

Target: ``build_movinet`` <= 1.2 x Model Garden. Run: ``python benchmarks/bench_build.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--model", default="a0")
    args = ap.parse_args(argv)

    import gc

    from official.projects.movinet.modeling import movinet, movinet_model

    from vizattn import models

    def model_garden():
        config = dict(models.STREAM_CONFIG, use_positional_encoding=False, use_external_states=True)
        backbone = movinet.Movinet(args.model, **config)
        return movinet_model.MovinetClassifier(backbone, num_classes=600, output_states=True)

    def vizattn_build():
        return models.build_movinet(args.model, simam="frame")

    def vizattn_tada():
        return models.build_movinet(args.model, simam="frame", tada="v1")

    cases = {
        "Model Garden Movinet": model_garden,
        "build_movinet simam=frame": vizattn_build,
        "build_movinet simam+tada": vizattn_tada,
    }
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(args.rounds):
        order = list(cases)[r % 3 :] + list(cases)[: r % 3]
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["Model Garden Movinet"])
    print(f"MoViNet-{args.model.upper()} stream, {args.rounds} interleaved rounds, median wall s")
    for name, t in times.items():
        ratio = statistics.median(t) / base
        verdict = (
            "" if name.startswith("Model") else f"  [{'PASS' if ratio <= 1.2 else 'MISS'}: <= 1.2]"
        )
        print(f"{name:<28}{statistics.median(t):7.2f} s  {ratio:5.2f} x{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
