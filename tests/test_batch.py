"""``vizattn.beam_pipeline``: the Beam batch over videos matches one machine's plain loop.

One pipeline run uses the DirectRunner with two worker processes
(``multi_processing``), the way a user spreads a batch over cores; every other
run is in-process. The model is a tiny randomized MoViNet-A0 built from a seed,
so each worker process builds identical weights.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time

import numpy as np
import pytest

pytest.importorskip("apache_beam", reason="needs the scale extra: pip install 'vizattn[scale]'")

from vizattn import beam_pipeline as bp  # noqa: E402
from vizattn.errors import VizAttnError  # noqa: E402

CHECKPOINT = "random"
BUILD = {"model_id": "a0", "simam": "frame", "tada": "v1", "num_classes": 10, "seed": 0}
KINDS = ("simam", "simam_energy", "tada", "logits")
CHUNK = 4  # 8 frames -> 2 model calls per video
FRAMES, SIZE, VIDEOS = 8, 64, 8
MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def _write_masks(path, frames: int, label: int) -> None:
    masks = np.zeros((frames, 32, 32), np.uint8)
    masks[:, 8:20, 10:24] = 1
    masks[:, 24:30, 2:8] = 2
    np.savez(
        path,
        masks=masks,
        names=np.array(["square", "bar"]),
        fps=np.float64(8),
        target=np.int64(1),
        label=np.int64(label),
        onset=np.int64(2),
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """8 tiny videos (2 in a subfolder), one corrupt file, a list with labels, 2 masks files."""
    from vizattn import testing, video

    root = tmp_path_factory.mktemp("batch")
    (root / "videos" / "sub").mkdir(parents=True)
    paths = []
    for i in range(VIDEOS):
        folder = root / "videos" / ("sub" if i >= 6 else "")
        path = folder / f"clip{i}.mp4"
        video.write_video(path, testing.synthetic_clip(frames=FRAMES, size=SIZE, seed=i)[0], fps=8)
        paths.append(str(path))
    corrupt = root / "videos" / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (root / "masks").mkdir()
    _write_masks(root / "masks" / "clip0.npz", FRAMES, label=3)
    _write_masks(root / "masks" / "clip1.npz", FRAMES, label=5)
    labels = {2: "4", 3: "class 7", 4: "9"}  # an index, a name, an index
    lines = ["path,label"]
    for i, p in enumerate(paths):
        rel = os.path.relpath(p, root)
        lines.append(f"{rel},{labels.get(i, '')}")
    lines.append(os.path.relpath(corrupt, root) + ",")
    (root / "list.csv").write_text("\n".join(lines) + "\n")
    return {
        "root": root,
        "paths": paths,
        "corrupt": str(corrupt),
        "list": str(root / "list.csv"),
        "labels": {paths[i]: int(v.split()[-1]) for i, v in labels.items()}
        | {paths[0]: 3, paths[1]: 5},
    }


def _read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _run(dataset, out, **kwargs):
    options = {
        "checkpoint": CHECKPOINT,
        "build_options": BUILD,
        "chunk": CHUNK,
        "kinds": KINDS,
        "masks_dir": str(dataset["root"] / "masks"),
    }
    return bp.run_batch(dataset["list"], out, **{**options, **kwargs})


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    """The batch on two worker processes, timed."""
    out = tmp_path_factory.mktemp("out")
    start = time.perf_counter()
    result = _run(dataset, out, pipeline_args=MULTI)
    return {"out": out, "result": result, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="module")
def loop(dataset):
    """The plain Python loop: the same model, ``vizattn.capture`` on every video.

    Streaming in chunks of ``CHUNK`` frames like the pipeline, so the in-process
    runs below reuse this model and its traced function (streaming values do
    not depend on the chunk; ``tests/test_capture.py`` checks that).
    """
    import vizattn
    from vizattn import video

    model, _ = bp._get_model(
        CHECKPOINT, tuple(sorted(BUILD.items()))
    )  # also serves in-process runs
    caches = {}
    for path in dataset["paths"]:
        frames, _ = video.read_all(path)
        caches[path] = vizattn.capture(
            model, frames, kinds=list(KINDS), stream=True, reduce="mean", chunk=CHUNK
        )
    return caches


def _close(a: float, b: float, rel: float = 1e-5) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-7)


def test_multi_worker_batch_matches_the_plain_loop(dataset, first_run, loop):
    from vizattn import load_cache, metrics

    out, result = first_run["out"], first_run["result"]
    print(f"multi_processing batch of {VIDEOS + 1} files: {first_run['seconds']:.1f} s")
    rows = {r["path"]: r for r in _read_csv(out / "per_video.csv")}
    assert set(rows) == set(dataset["paths"])
    failures = _read_csv(out / "failures.csv")
    assert [f["path"] for f in failures] == [dataset["corrupt"]]
    assert failures[0]["reason"] and "\n" not in failures[0]["reason"]

    counters = result["counters"]
    assert counters["videos_done"] == VIDEOS and counters["videos_failed"] == 1
    assert counters["videos_skipped"] == 0
    assert counters["frames"] == VIDEOS * FRAMES
    assert counters["model_calls"] == VIDEOS * math.ceil(FRAMES / CHUNK)
    assert 1 <= counters["model_builds"] <= 2  # once per worker process at most
    assert result["videos"] == {"done": VIDEOS, "skipped": 0, "failed": 1, "frames": VIDEOS * 8}

    for path, cache in loop.items():
        row = rows[path]
        probs = cache.probabilities()[0, -1]
        assert int(row["predicted"]) == int(np.argmax(probs))
        assert _close(float(row["probability"]), float(probs.max()))
        top = [int(t.split(":")[0]) for t in row["top_k"].split()]
        assert top == list(np.argsort(-probs, kind="stable")[:5])
        saved = load_cache(row["cache"])
        for hook in cache:
            np.testing.assert_allclose(saved[hook], cache[hook], rtol=1e-4, atol=1e-5)
        blocks = {}
        for hook in cache.names():
            kind = hook.rsplit("/", 1)[1]
            if kind in ("simam", "simam_energy", "tada"):
                block = hook.split("_layer")[0]
                blocks.setdefault((kind, block), []).append(np.asarray(cache[hook]).ravel())
        assert blocks
        for (kind, block), parts in blocks.items():
            expected = float(np.concatenate(parts).astype(np.float64).mean())
            assert _close(float(row[f"{kind}_mean/{block}"]), expected), (path, kind, block)
        label = dataset["labels"].get(path)
        assert row["label"] == ("" if label is None else str(label))
        if label is not None:
            assert row["correct"] == str(int(row["predicted"]) == label).lower()

    # Metrics where a masks file matches the stem, equal to vizattn.metrics on the loop's maps.
    masked = [p for p in dataset["paths"] if os.path.basename(p) in ("clip0.mp4", "clip1.mp4")]
    target = np.load(dataset["root"] / "masks" / "clip0.npz")["masks"] == 1
    for path in masked:
        maps = loop[path].frame_maps("block3", "simam", normalize=None)
        for name in bp.METRICS:
            expected = getattr(metrics, name)(maps, target, onset=2)
            assert _close(float(rows[path][f"{name}/block3/simam"]), expected.all, 1e-4)
            assert _close(
                float(rows[path][f"{name}_after_onset/block3/simam"]), expected.after_onset, 1e-4
            )
    unmasked = [p for p in dataset["paths"] if p not in masked]
    assert all(rows[p]["pointing_game/block3/simam"] == "" for p in unmasked)


def test_aggregates_equal_numpy_over_all_captures(dataset, first_run):
    from vizattn import load_cache

    out = first_run["out"]
    summary = json.loads((out / "summary.json").read_text())
    rows = _read_csv(out / "per_video.csv")
    caches = {r["path"]: load_cache(r["cache"]) for r in rows}
    hooks = sorted(next(iter(caches.values())).names())
    stat_hooks = [h for h in hooks if h.rsplit("/", 1)[1] in ("simam", "simam_energy", "tada")]
    assert sorted(summary["layers"]) == stat_hooks

    def check(entry, values, kind):
        values = np.asarray(values, np.float64)
        assert entry["count"] == values.size
        assert _close(entry["mean"], values.mean(), 1e-6)
        assert _close(entry["std"], values.std(), 1e-6)
        edges = bp.BINS[kind]
        assert entry["hist"] == np.histogram(values, edges)[0].tolist()
        assert entry["below"] == int((values < edges[0]).sum())
        assert entry["above"] == int((values > edges[-1]).sum())
        assert summary["bins"][kind] == pytest.approx(edges.tolist())

    for hook in stat_hooks:
        values = np.concatenate([np.ravel(c[hook]) for c in caches.values()])
        check(summary["layers"][hook], values, hook.rsplit("/", 1)[1])
    for key, entry in summary["blocks"].items():
        block, kind = key.split("/")
        values = [
            np.ravel(c[h])
            for c in caches.values()
            for h in stat_hooks
            if h.startswith(block + "_") and h.endswith("/" + kind)
        ]
        check(entry, np.concatenate(values), kind)

    # Per predicted class: the same numbers over that class's videos only.
    by_class: dict[str, list[str]] = {}
    for r in rows:
        by_class.setdefault(r["predicted"], []).append(r["path"])
    assert sorted(summary["by_predicted_class"]) == sorted(by_class)
    cls, paths = max(by_class.items(), key=lambda kv: len(kv[1]))
    entry = summary["by_predicted_class"][cls]
    assert entry["videos"] == len(paths)
    values = np.concatenate(
        [
            np.ravel(caches[p][h])
            for p in paths
            for h in stat_hooks
            if h.startswith("block3_") and h.endswith("/simam_energy")
        ]
    )
    check(entry["blocks"]["block3/simam_energy"], values, "simam_energy")

    labelled = [r for r in rows if r["label"]]
    assert summary["videos_with_label"] == len(labelled)
    assert _close(summary["accuracy"], np.mean([r["correct"] == "true" for r in labelled]), 1e-9)
    pg = [float(r["pointing_game/block3/simam"]) for r in rows if r["pointing_game/block3/simam"]]
    assert summary["metrics"]["pointing_game/block3/simam"]["count"] == len(pg) == 2
    assert _close(summary["metrics"]["pointing_game/block3/simam"]["mean"], np.mean(pg), 1e-9)
    for name in summary["figures"]:
        assert (out / name).stat().st_size > 1000


def test_rerun_does_no_model_work_and_force_redoes_it(dataset, first_run, loop, tmp_path):
    out = first_run["out"]
    before = {p: os.stat(p).st_mtime_ns for p in (out / "caches").iterdir()}
    rows_before = _read_csv(out / "per_video.csv")
    again = _run(dataset, out)  # in-process
    c = again["counters"]
    assert (c["model_calls"], c["model_builds"], c["frames"], c["videos_done"]) == (0, 0, 0, 0)
    assert (c["videos_skipped"], c["videos_failed"]) == (VIDEOS, 1)
    assert {p: os.stat(p).st_mtime_ns for p in (out / "caches").iterdir()} == before
    rows_after = _read_csv(out / "per_video.csv")
    strip = lambda rows: sorted(tuple(v for k, v in r.items() if k != "status") for r in rows)  # noqa: E731
    assert strip(rows_after) == strip(rows_before)
    assert {r["status"] for r in rows_after} == {"skipped"}

    # force: two videos captured again with the model the loop memoized (no build).
    forced = bp.run_batch(
        dataset["paths"][:2],
        out,
        checkpoint=CHECKPOINT,
        build_options=BUILD,
        chunk=CHUNK,
        kinds=KINDS,
        force=True,
    )
    assert forced["counters"]["model_calls"] == 2 * math.ceil(FRAMES / CHUNK)
    assert forced["counters"]["model_builds"] == 0
    assert forced["videos"]["done"] == 2


def test_failed_save_leaves_no_partial_cache(dataset, loop, tmp_path, monkeypatch):
    """A failure while saving a cache leaves no file, so the re-run captures that video again."""
    from vizattn import files

    def broken_write(path, write, *, mode="wb"):
        with files.atomic_path(path) as tmp, open(tmp, mode) as f:
            write(f)
            raise OSError("disk full")

    monkeypatch.setattr("vizattn.cache.atomic_write", broken_write)
    inputs = [*dataset["paths"][:2], dataset["corrupt"]]
    result = bp.run_batch(
        inputs, tmp_path, checkpoint=CHECKPOINT, build_options=BUILD, chunk=CHUNK, kinds=KINDS
    )
    assert result["counters"]["videos_failed"] == 3
    assert result["counters"]["model_builds"] == 0  # the loop's model, memoized in-process
    assert list((tmp_path / "caches").iterdir()) == []
    reasons = {r["reason"] for r in _read_csv(tmp_path / "failures.csv")}
    # One line naming the output and the OS's reason, never the temporary file.
    assert any(r.startswith("cannot write") and "(disk full)" in r for r in reasons), reasons
    assert not any(".tmp" in r for r in reasons)


def test_ctrl_c_stops_the_batch_and_leaves_no_beam_temps(dataset, loop, tmp_path, monkeypatch):
    """Ctrl-C inside TensorFlow can surface as another error ("Concurrent access?"), which
    the per-video handler used to record as a failed video before the job went on and
    exited 0. After Ctrl-C the batch stops: KeyboardInterrupt, and none of Beam's
    temporary folders left behind (complete caches of finished videos may stay)."""

    def interrupted_save(path, write, *, mode="wb"):
        bp._INTERRUPTED.set()  # what the SIGINT handler of run_batch does
        raise AssertionError("Concurrent access?")

    monkeypatch.setattr("vizattn.cache.atomic_write", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        bp.run_batch(
            dataset["paths"][:2], tmp_path, checkpoint=CHECKPOINT, build_options=BUILD,
            chunk=CHUNK, kinds=KINDS,
        )  # fmt: skip
    assert not [n for n in os.listdir(tmp_path) if n.startswith("beam-temp")]
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inputs": "{root}/nothing/*.mp4"}, "no videos in the glob"),
        ({"inputs": "{root}/missing.csv"}, "does not exist"),
        ({"runner": "WarpRunner"}, "unknown runner 'WarpRunner'"),
        ({"kinds": ["simam", "attention"]}, "unknown kind 'attention'"),
        ({"masks_dir": "{root}/no-masks"}, "masks folder"),
        ({"build_options": {"simam": "frame", "colour": 1}}, "unknown build option 'colour'"),
        ({"chunk": 0}, "chunk and top_k"),
        ({"pipeline_args": ["--direct_num_worker=2"]}, "unknown pipeline option"),
    ],
)
def test_bad_arguments_fail_fast(dataset, tmp_path, kwargs, match):
    kwargs = {
        k: v.format(root=dataset["root"]) if isinstance(v, str) else v for k, v in kwargs.items()
    }
    inputs = kwargs.pop("inputs", dataset["list"])
    models = dict(bp._MODELS)
    start = time.perf_counter()
    with pytest.raises(VizAttnError, match=match) as info:
        bp.run_batch(inputs, tmp_path / "out", checkpoint=CHECKPOINT, **kwargs)
    assert time.perf_counter() - start < 10
    assert "\n" not in str(info.value)
    assert models == bp._MODELS  # nothing was built
    assert not (tmp_path / "out" / "summary.json").exists()


def test_read_inputs_forms(dataset):
    root = dataset["root"]
    folder = bp.read_inputs(str(root / "videos"))
    assert sorted(i.path for i in folder) == sorted(dataset["paths"] + [dataset["corrupt"]])
    listed = bp.read_inputs(dataset["list"])
    assert [i.path for i in listed] == [*dataset["paths"], dataset["corrupt"]]
    assert [i.label for i in listed][:5] == [None, None, "4", "class 7", "9"]
    globbed = bp.read_inputs(str(root / "videos" / "clip*.mp4"))
    assert [i.path for i in globbed] == sorted(dataset["paths"][:6])
    twice = bp.read_inputs([dataset["paths"][0], dataset["paths"][0]])
    assert len(twice) == 1


def test_stats_merge_in_any_order_equals_numpy():
    rng = np.random.default_rng(0)
    for kind in ("simam_energy", "simam", "tada", None):
        values = rng.gamma(2.0, 0.4, size=5000) * (1 if kind != "simam" else 0.3)
        values[:3] = [np.nan, np.inf, -1.0]
        cuts = np.sort(rng.choice(values.size, size=7, replace=False))
        parts = [bp.Stats.of(p, kind) for p in np.split(values, cuts)]
        rng.shuffle(parts)
        left = bp.Stats()
        for p in parts:
            left = left.merge(p)
        tree = bp._merge_all([bp._merge_all(parts[:3]), bp._merge_all(parts[3:])])
        finite = values[np.isfinite(values)]
        for merged in (left, tree):
            assert merged.count == finite.size and merged.nonfinite == 2
            assert _close(merged.mean, finite.mean(), 1e-12)
            assert _close(merged.variance, finite.var(), 1e-10)
            assert (merged.min, merged.max) == (finite.min(), finite.max())
            if kind is not None:
                edges = bp.BINS[kind]
                assert merged.hist.tolist() == np.histogram(finite, edges)[0].tolist()
                inside = merged.hist.sum() + merged.below + merged.above
                assert inside == finite.size


def test_cache_names_are_stable_and_option_dependent():
    key = {"chunk": 4, "kinds": ["simam"]}
    a = bp.cache_name("gs://b/v/clip.mp4", key)
    assert a == bp.cache_name("gs://b/v/clip.mp4", dict(reversed(list(key.items()))))
    assert a.startswith("clip-") and a.endswith(".npz")
    assert a != bp.cache_name("gs://b/w/clip.mp4", key)
    assert a != bp.cache_name("gs://b/v/clip.mp4", {**key, "chunk": 8})


def test_cli_batch_failures_are_one_vizattn_line(capsys):
    """A video that fails in ``vizattn batch`` is said as one ``vizattn: PATH failed: WHY``
    line (nothing with -q), not in logging's ``WARNING:vizattn:`` format."""
    import logging

    from vizattn import cli

    said: list[str] = []
    logger = logging.getLogger("vizattn")
    with cli._logs_to(said.append):
        logger.warning("%s failed: %s", "/v/bad.mp4", "not a video file:\n  pass an .mp4")
    logger.warning("after the command")  # the handler is gone again
    assert said == ["/v/bad.mp4 failed: not a video file: pass an .mp4"]
    assert "WARNING:vizattn" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--checkpoint", "nothere.tflite"], "checkpoint 'nothere.tflite' does not exist"),
        (["--names", "block9"], "unknown layer 'block9'; did you mean"),
        (["--seed", "-1"], "--seed -1 is not a seed"),
    ],
)
def test_cli_batch_settings_fail_once_before_any_video(dataset, tmp_path, capsys, flags, words):
    """A setting that is wrong for every video fails once, up front: one line, exit 2,
    no output folder (it was one 'failed' line per video, exit 1, and CSV files)."""
    from vizattn import cli

    out = tmp_path / "out"
    code = cli.main(["batch", str(dataset["list"]), "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and words in err, err
    assert not out.exists()
