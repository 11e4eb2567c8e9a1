"""vizattn.evaluation on a tiny randomized A0: the whole table, masks files, model metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vizattn import demo, evaluation, metrics
from vizattn.errors import VizAttnError

FRAMES, SIZE = 6, 64


@pytest.fixture(scope="module")
def model(movinet):
    return movinet(simam="frame")


@pytest.fixture(scope="module")
def task():
    return demo.task_clip(demo.heldout_seeds(1, start=7)[0], size=SIZE, frames=FRAMES, onset=2)


@pytest.fixture(scope="module")
def masks_file(task, tmp_path_factory):
    path = tmp_path_factory.mktemp("masks") / "clip_masks.npz"
    np.savez(
        path,
        masks=task.masks,
        names=np.array(task.names),
        fps=np.float64(25.0),
        target=np.int64(task.target),
        label=np.int64(task.label),
        onset=np.int64(task.onset),
    )
    return path


@pytest.fixture(scope="module")
def table(model, task, masks_file):
    return evaluation.evaluate(model, task.frames, evaluation.load_masks(masks_file))


def test_table_has_every_row(table):
    blocks = [f"block{i}" for i in range(5)]
    expected = {(k, b) for b in blocks for k in ("oracle", *evaluation.KINDS)}
    expected |= {(k, None) for k in evaluation.BASELINES}
    assert {(r.kind, r.block) for r in table.rows} == expected
    assert len(table.rows) == len(expected)
    for r in table.rows:
        assert set(r.scores) == {"pointing_game", "energy_inside", "auroc"}
        for s in r.scores.values():
            assert s.per_frame.shape == (1, FRAMES)
            values = s.per_frame[np.isfinite(s.per_frame)]
            assert values.size and ((values >= 0) & (values <= 1)).all()
            assert s.after is not None and s.after.sum() == FRAMES - 2


def test_oracle_rows_are_the_ceiling_of_their_resolution(table):
    # the full-resolution oracle would score 1; coarser grids lose, never gain, AUROC
    aurocs = [table.row("oracle", f"block{i}").value("auroc", "all") for i in range(5)]
    assert aurocs[0] > 0.95
    assert aurocs[4] <= aurocs[0] + 1e-9


def test_text_and_json(table, tmp_path):
    text = table.to_text()
    body = [line for line in text.splitlines() if line[:1].strip()]
    for r in table.rows:
        label = evaluation._LABELS.get(r.kind, r.kind)
        assert any(line.startswith(label) and (r.block or "-") in line for line in body), r.name
    assert "centre baseline" in text
    assert "gradcam vs oracle" in text and all(f"block{i} " in text for i in range(5))
    data = table.to_dict()
    json.dumps(data, allow_nan=False)
    assert len(data["rows"]) == len(table.rows)
    path = table.save_json(tmp_path / "table.json")
    with open(path) as f:
        assert json.load(f) == json.loads(json.dumps(data))


def test_combine_pools_frames(table):
    both = evaluation.ExplanationTable.combine([table, table])
    assert both.clips == 2
    for a, b in zip(table.rows, both.rows, strict=True):
        for m in a.scores:
            assert b.scores[m].frames == 2 * a.scores[m].frames
            np.testing.assert_allclose(b.value(m), a.value(m))


def test_below_centre_is_reported_plainly():
    s = metrics.Score(np.array([[0.2, 0.4]]))
    good = metrics.Score(np.array([[0.9, 0.9]]))
    rows = [
        evaluation.Row("centre", None, "baseline", {"auroc": good}),
        evaluation.Row("simam", "block3", "model", {"auroc": s}),
        evaluation.Row("gradcam", "block3", "model", {"auroc": metrics.Score(np.ones((1, 2)))}),
    ]
    table = evaluation.ExplanationTable(rows)
    assert [r.name for r in table.below_centre()] == ["simam block3"]
    assert "does NOT beat the centre baseline on any metric: simam block3" in table.to_text()


def test_deletion_insertion_curves(model, task):
    maps = metrics.oracle(task.masks == task.target, (8, 8))
    result = metrics.deletion_insertion(model, task.frames, maps, steps=2, onset=task.onset)
    assert result.deletion.shape == result.insertion.shape == (3, FRAMES)
    assert ((result.deletion >= 0) & (result.deletion <= 1)).all()
    # nothing removed = everything revealed, and the reverse
    np.testing.assert_allclose(result.deletion[0], result.insertion[-1], atol=1e-5)
    np.testing.assert_allclose(result.deletion[-1], result.insertion[0], atol=1e-5)
    assert result.fractions[0] == 0 and result.fractions[-1] == 1
    assert result.deletion_auc.shape == (FRAMES,)
    scores = result.scores()
    assert scores["deletion_auc"].after_onset is not None
    with pytest.raises(VizAttnError, match="one map per frame"):
        metrics.deletion_insertion(model, task.frames, maps[:-1])


def test_randomization_check_leaves_the_model_alone(model, task):
    before = [v.numpy() for v in model.variables]

    def maps(m, clip):
        got = evaluation.model_maps(m, clip, class_index=task.label)
        return {"gradcam": got[("gradcam", "block1")], "activation": got[("activation", "block1")]}

    result = metrics.randomization_check(model, task.frames, maps, stages=["head"])
    assert set(result) == {"gradcam", "activation"}
    assert result["gradcam"].stages == ["head"]
    # A forward map below the randomized head cannot change at all...
    np.testing.assert_allclose(result["activation"].correlations[0].per_frame, 1.0, atol=1e-3)
    # ...a gradient map can. Its correlation is NaN only in a frame where the trained
    # and the randomized map are both constant: a randomized model's Grad-CAM can be
    # all zero after its ReLU (seen once in a full run).
    rho = result["gradcam"].correlations[0].per_frame
    assert (np.isnan(rho) | ((rho >= -1) & (rho <= 1))).all()
    for v, b in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)


def test_load_masks(tmp_path, masks_file, task):
    m = evaluation.load_masks(masks_file)
    assert (m.target, m.label, m.onset, m.fps) == (task.target, task.label, task.onset, 25.0)
    np.testing.assert_array_equal(m.target_mask(), task.masks == task.target)
    bare = tmp_path / "bare.npz"
    np.savez(bare, masks=task.masks)
    plain = evaluation.load_masks(bare)
    assert plain.target is None and plain.onset is None
    np.testing.assert_array_equal(plain.target_mask(), task.masks > 0)

    def fails(match, **arrays):
        path = tmp_path / "bad.npz"
        np.savez(path, **arrays)
        with pytest.raises(VizAttnError, match=match):
            evaluation.load_masks(path)

    fails("no 'masks'", names=np.array(["a"]))
    fails(r"\[time, height, width\]", masks=task.masks[0])
    fails("never occurs", masks=task.masks, target=np.int64(9))
    fails("onset", masks=task.masks, onset=np.int64(FRAMES))
    with pytest.raises(VizAttnError, match="does not exist"):
        evaluation.load_masks(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(VizAttnError, match="cannot read"):
        evaluation.load_masks(junk)


def test_evaluate_rejects_mismatches(model, task):
    with pytest.raises(VizAttnError, match="frames"):
        evaluation.evaluate(model, task.frames, task.masks[:-1])
    with pytest.raises(VizAttnError, match="unknown block"):
        evaluation.evaluate(model, task.frames, task.masks, blocks=["block9"])
    with pytest.raises(VizAttnError, match="unknown map kind"):
        evaluation.evaluate(model, task.frames, task.masks, kinds=["saliency"])


def test_masks_select_cuts_frames_and_shifts_the_onset(task):
    m = evaluation.Masks(task.masks, target=task.target, label=task.label, onset=2)
    part = m.select([1, 2, 3])
    np.testing.assert_array_equal(part.masks, task.masks[1:4])
    assert (part.onset, part.target, part.label) == (1, task.target, task.label)
    assert m.select([3, 4]).onset == 0  # the range starts after the onset
    assert m.select([0, 1]).onset is None  # the range ends before it
    with pytest.raises(VizAttnError, match="not all in the masks' 6 frames"):
        m.select([4, 5, 6])


def test_masks_label_is_used_only_when_the_model_has_that_class(model, task, masks_file):
    # 'vizattn demo' masks name moving-shapes classes; the test model's are 'class 0'..'class 9'
    assert evaluation.load_masks(masks_file).class_names == demo.CLASS_NAMES
    assert evaluation._model_label(model, evaluation.Masks(task.masks, label=3)) == (3, None)
    named = evaluation.Masks(task.masks, label=3, class_names=("a", "b", "c", "Class_7"))
    assert evaluation._model_label(model, named) == (7, None)  # by name, not by index

    def run(class_names):
        m = evaluation.Masks(
            task.masks, target=task.target, label=task.label, class_names=class_names
        )
        return evaluation.evaluate(model, task.frames, m, blocks="block1", kinds="gradcam")

    table = run(demo.CLASS_NAMES)
    name = demo.CLASS_NAMES[task.label]
    assert table.options["class_index"] == "top"
    assert "gradients explain the predicted class per frame" in table.to_text()
    assert (
        f"the masks' label {name!r} is not a class of this model; gradients explain the "
        "prediction" in table.notes
    )
    names = [f"class {i}" for i in (5, 6, 7, 8)]
    table = run(tuple(names))
    assert table.options["class_index"] == int(names[task.label][6:])
    assert "gradients explain the true label" in table.to_text() and not table.notes


@pytest.fixture(scope="module")
def video(task, tmp_path_factory):
    from vizattn.video import VideoWriter

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with VideoWriter(path, fps=25) as writer:
        for image in task.frames:
            writer.write(image)
    return path


def _evaluate_json(argv, model, monkeypatch, capsys):
    from vizattn import cli

    monkeypatch.setattr(cli, "_load", lambda args, say: model)
    code = cli.main(["evaluate", *map(str, argv), "--layer", "block1", "--kind", "simam,gradcam"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err  # stdout holds only the JSON


def test_cli_json_to_stdout_and_masks_cut_to_the_range(
    model, video, masks_file, monkeypatch, capsys
):
    data, err = _evaluate_json(
        [video, "--masks", masks_file, "--json", "-", "--max-frames", "4"],
        model,
        monkeypatch,
        capsys,
    )
    assert data["options"]["frames"] == 4
    auroc = next(r for r in data["rows"] if r["kind"] == "oracle")["metrics"]["auroc"]
    assert (auroc["frames"], auroc["frames_after_onset"]) == (4, 2)  # onset 2: frames 2, 3
    assert "explanation quality" in err  # the table goes to stderr
    assert "vizattn: scoring simam, gradcam in block1 on 4 frames" in err  # before the slow part
    assert any(
        "is not a class of this model; gradients explain the prediction" in n for n in data["notes"]
    )
    # frames at 0.04 .. 0.16 s are frames 1..4: the onset moves to the second of them
    data, err = _evaluate_json(
        [video, "--masks", masks_file, "--json", "-", "--start", "0.04", "--end", "0.2", "-q"],
        model,
        monkeypatch,
        capsys,
    )
    auroc = next(r for r in data["rows"] if r["kind"] == "oracle")["metrics"]["auroc"]
    assert (auroc["frames"], auroc["frames_after_onset"]) == (4, 3)
    assert "vizattn:" not in err
