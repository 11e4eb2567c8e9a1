"""Explanation-quality benchmark: do the demo model's maps point where the evidence is?

One run of :func:`vizattn.evaluation.evaluate` over ``--clips`` held-out clips of
the moving-shapes task (:mod:`vizattn.demo`), with the bundled demo model
(:func:`vizattn.training.load_demo_model`): every map kind (SimAM attention,
SimAM energy, activation norm, Grad-CAM, gradient x activation) in every
block, the baselines (centre, noise, frame difference) and each block's oracle,
scored with the pointing game, the energy inside the target and the AUROC, over
all frames and after the onset. The clips are drawn at the model's input size
and length from held-out seeds ``heldout_seeds(clips, start=--start)`` (default
start 20 000: a block that training never saw and its held-out accuracy check
does not use); nothing is tuned on them.

Optional: ``--deletion N`` adds temporal deletion/insertion areas on the first
``N`` clips (slow: ``2 * (steps + 1)`` streamed clips per row);
``--randomization N`` runs the cascading randomization check on the first ``N``
clips for every model map kind in every block (one model run per stage), with
frame difference as the weight-independent reference.

Targets (issue 9): the best model-based map reaches a pointing game >= 0.7
(after onset) in some block; Grad-CAM is reported against the oracle in every
block; every map kind beats the centre baseline on at least one metric, or the
table says plainly that it does not.

Run: ``python benchmarks/bench_explain.py [--clips 16] [--json explain.json]
[--figures DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=16, help="held-out clips (default 16)")
    parser.add_argument("--start", type=int, default=20_000, help="first held-out seed offset")
    parser.add_argument("--model-dir", default=None, help="a train_demo folder (default: bundled)")
    parser.add_argument("--tolerance", type=float, default=4.0, help="pointing-game px")
    parser.add_argument("--deletion", type=int, default=0, metavar="N", help="clips with del/ins")
    parser.add_argument("--steps", type=int, default=8, help="deletion/insertion steps")
    parser.add_argument("--randomization", type=int, default=1, metavar="N")
    parser.add_argument("--json", default="bench_explain.json", help="output JSON path")
    parser.add_argument("--figures", default=None, help="folder for PDF figures")
    args = parser.parse_args(argv)

    from vizattn import demo, evaluation, metrics, training
    from vizattn.models import model_info

    started = time.perf_counter()
    model = training.load_demo_model(args.model_dir)
    meta = training.read_model_json(args.model_dir or training.DEMO_MODEL_DIR)
    info = model_info(model)
    size = tuple(int(s) for s in (info.input_size or meta["input_size"]))
    frames = int(meta.get("frames", 16))
    seeds = demo.heldout_seeds(args.clips, start=args.start)
    print(
        f"demo model ({meta['build']}), {len(seeds)} held-out clips {size[0]}x{size[1]}x{frames}, "
        f"seeds {seeds.start}..{seeds.stop - 1}",
        flush=True,
    )
    tables, randomizations, curves = [], [], None
    correct = []
    for i, seed in enumerate(seeds):
        clip = demo.task_clip(seed, size=size, frames=frames)
        t0 = time.perf_counter()
        table = evaluation.evaluate(
            model,
            clip.frames,
            clip.masks,
            target=clip.target,
            label=clip.label,
            onset=clip.onset,
            tolerance=args.tolerance,
            deletion=i < args.deletion,
            steps=args.steps,
        )
        tables.append(table)
        logits = __import__("vizattn").predict_stream(model, clip.frames)[0]
        correct.append(bool(logits[-1].argmax() == clip.label))
        if i < args.randomization:
            blocks, kinds = table.options["blocks"], table.options["kinds"]

            def maps(m, c, label=clip.label, blocks=blocks, kinds=kinds):
                out = {
                    f"{k} {b}": v
                    for (k, b), v in evaluation.model_maps(
                        m, c, blocks=blocks, kinds=kinds, class_index=label
                    ).items()
                }
                out["frame_difference"] = metrics.frame_difference(c)
                return out

            randomizations.append(
                metrics.randomization_check(model, clip.frames, maps, onset=clip.onset)
            )
        if i == 0 and args.figures:
            best = table.best("pointing_game")
            cam = evaluation.model_maps(
                model, clip.frames, blocks=best.block, kinds=best.kind, class_index=clip.label
            )[(best.kind, best.block)]
            curves = (
                best.name,
                metrics.deletion_insertion(
                    model, clip.frames, cam, target=clip.label, steps=args.steps, onset=clip.onset
                ),
            )
        print(
            f"  clip {i + 1}/{len(seeds)} seed {seed}: {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    combined = evaluation.ExplanationTable.combine(tables)
    print()
    print(combined.to_text())

    checks = _targets(combined)
    print()
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}: {detail}")
    sanity = {}
    if randomizations:
        sanity = _mean_randomization(randomizations)
        print(f"\nrandomization check (Spearman with trained maps, {len(randomizations)} clip(s))")
        stages = next(iter(sanity.values()))["stages"]
        print(f"{'map':<28}" + "".join(f"{s:>8}" for s in stages))
        for label, r in sanity.items():
            cells = "".join(f"{v:>8.2f}" if v is not None else f"{'-':>8}" for v in r["mean"])
            print(f"{label:<28}{cells}")
    print(f"\naccuracy at the last frame on these clips: {np.mean(correct):.3f}")
    seconds = time.perf_counter() - started
    print(f"total {seconds:.0f} s")

    record = {
        "model": {"build": meta["build"], "input_size": list(size), "frames": frames},
        "seeds": {"first": seeds.start, "last": seeds.stop - 1, "count": len(seeds)},
        "accuracy_last_frame": float(np.mean(correct)),
        "table": combined.to_dict(),
        "targets": [{"target": n, "pass": ok, "detail": d} for n, ok, d in checks],
        "randomization": sanity,
        "seconds": round(seconds, 1),
    }
    from vizattn.files import atomic_write

    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    atomic_write(args.json, lambda f: f.write(text), mode="w")
    print(f"wrote {args.json}")
    if args.figures:
        _figures(args.figures, combined, sanity_results=randomizations, curves=curves)
    return 0


def _targets(table) -> list[tuple[str, bool, str]]:
    best = table.best("pointing_game")
    value = best.value("pointing_game") if best else float("nan")
    blocks = sorted({r.block for r in table.rows if r.source == "oracle"})
    cams = {r.block for r in table.rows if r.kind == "gradcam"}
    below = table.below_centre()
    return [
        (
            "best model-based pointing game >= 0.7 (after onset)",
            bool(value >= 0.7),
            f"{best.name if best else '-'} {value:.2f}",
        ),
        (
            "Grad-CAM reported against the oracle in every block",
            cams == set(blocks),
            ", ".join(
                f"{b} {table.row('gradcam', b).value('pointing_game'):.2f}/"
                f"{table.row('oracle', b).value('pointing_game'):.2f}"
                for b in blocks
                if b in cams
            ),
        ),
        (
            "every map kind beats the centre baseline on >= 1 metric (or says so)",
            True,
            "all do" if not below else "does NOT: " + ", ".join(r.name for r in below),
        ),
    ]


def _mean_randomization(results: list[dict]) -> dict:
    out = {}
    for label in results[0]:
        stages = results[0][label].stages
        per_clip = np.array([r[label].mean for r in results])  # [clips, stages]
        with np.errstate(all="ignore"):
            mean = np.nanmean(per_clip, axis=0) if np.isfinite(per_clip).any() else per_clip[0]
        out[label] = {
            "stages": list(stages),
            "mean": [None if not np.isfinite(v) else round(float(v), 4) for v in mean],
        }
    return out


def _figures(folder: str, table, *, sanity_results, curves) -> None:
    from vizattn import figures, metrics

    os.makedirs(folder, exist_ok=True)
    for metric in table.metrics:
        figures.save(figures.metric_bars(table, metric), os.path.join(folder, f"{metric}.pdf"))
    if sanity_results:
        first = sanity_results[0]
        chosen = {k: v for k, v in first.items() if k.startswith(("gradcam", "grad_x_act"))}
        chosen["frame_difference"] = first["frame_difference"]
        figures.save(
            figures.randomization_correlations(chosen, width="two"),
            os.path.join(folder, "randomization.pdf"),
        )
    if curves is not None:
        name, result = curves
        assert isinstance(result, metrics.DeletionInsertion)
        figures.save(
            figures.deletion_insertion_curves(result, title=name),
            os.path.join(folder, "deletion_insertion.pdf"),
        )
    print(f"figures in {folder}")


if __name__ == "__main__":
    sys.exit(main())
