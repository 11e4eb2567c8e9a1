"""The command line's own checks and outputs, without a model: every bad option of
``predict``, ``layers`` and ``demo`` fails in one line before any model is built (or
anything is written), ``predict --every`` prints the frames' own numbers and times, and
the help says what each option does for its command.

Tests that need the model's output hand the CLI a stand-in (``cli._load`` and
``hooks.capture_stream`` replaced): what is tested is the CLI's plumbing, not MoViNet's.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from vizattn import cli, hooks
from vizattn.cache import LOGITS_NAME
from vizattn.errors import VizAttnError
from vizattn.labels import read_labels
from vizattn.video import VideoWriter


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """12 frames at 10 fps (1.2 s)."""
    path = tmp_path_factory.mktemp("cli") / "clip.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps=10) as writer:
        for _ in range(12):
            writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return path


@pytest.fixture()
def no_model(monkeypatch):
    def fail(args, say):
        raise AssertionError("a model was built before the input checks")

    monkeypatch.setattr(cli, "_load", fail)


def _fails_in_one_line(argv, capsys, folder, expected: str) -> str:
    before = sorted(os.listdir(folder))
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("vizattn: error: "), err
    assert "Traceback" not in err
    assert expected in err, err
    assert not re.search(r"\w=", err.split("error: ", 1)[1]), "names an API argument"
    assert sorted(os.listdir(folder)) == before, "something was left behind"
    return err


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--labels", "{binary}"], "not a text file of class names"),
        (["--labels", "{missing}"], "cannot read labels file"),
        (["--labels", "{three}"], "has 3 names but the model has 4 classes"),
        (["--start", "3", "--end", "2"], "--start 3 is not before --end 2"),
        (["--start", "-0.5"], "--start -0.5"),
        (["--start", "2"], "past the end of"),  # the clip lasts 1.2 s
        (["--end", "0"], "--end 0"),
        (["--max-frames", "0"], "--max-frames 1 or more"),
        (["--chunk", "0"], "--chunk 0"),
        (["--resolution", "1"], "--resolution 32 or more"),
        (["--resolution", "0"], "--resolution 32 or more"),
        (["--resolution", "-5"], "--resolution 32 or more"),
        (["--base"], "drop --base"),
        (["--checkpoint", "random", "--seed", "-1"], "--seed -1 is not a seed"),
        (["--checkpoint", "random", "--num-classes", "0"], "--num-classes 0"),
        (["--checkpoint", "demo", "--simam", "none"], "--simam none cannot apply"),
    ],
)
def test_predict_checks_every_option_before_the_model(
    options, expected, video, tmp_path, capsys, no_model
):
    (tmp_path / "three.txt").write_text("a\nb\nc\n")  # the demo model has 4 classes
    paths = {"binary": str(video), "missing": str(tmp_path / "nope.txt")}
    paths["three"] = str(tmp_path / "three.txt")
    options = [o.format(**paths) for o in options]
    _fails_in_one_line(["predict", str(video), *options], capsys, tmp_path, expected)


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--resolution", "-5"], "--resolution 32 or more"),
        (["--resolution", "0"], "--resolution 32 or more"),
        (["--resolution", "16"], "--resolution 32 or more"),
        (["--frames", "0"], "--frames 0 must be >= 1"),
        (["--checkpoint", "random", "--seed", "-3"], "--seed -3 is not a seed"),
    ],
)
def test_layers_checks_its_options_before_the_model(options, expected, tmp_path, capsys, no_model):
    _fails_in_one_line(["layers", *options], capsys, tmp_path, expected)


def test_check_causal_and_batch_reject_a_negative_seed(tmp_path, capsys, no_model):
    _fails_in_one_line(
        ["check-causal", "--checkpoint", "random", "--seed", "-1"], capsys, tmp_path, "--seed -1"
    )
    argv = ["batch", str(tmp_path / "*.mp4"), "--out", str(tmp_path / "out"), "--seed", "-1"]
    _fails_in_one_line(argv, capsys, tmp_path, "--seed -1")


def test_demo_rejects_a_negative_seed_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "dneg"
    _fails_in_one_line(["demo", "--seed", "-1", "--out", str(out)], capsys, tmp_path, "--seed -1")
    assert not out.exists()


def test_labels_file_must_be_text(tmp_path, video):
    with pytest.raises(VizAttnError, match="not a text file of class names"):
        read_labels(video)
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"walk\x00run\n")  # decodes as UTF-8, but is not text
    with pytest.raises(VizAttnError, match="not a text file of class names"):
        read_labels(nul)
    with pytest.raises(VizAttnError, match="cannot read labels file"):
        read_labels(tmp_path)  # a folder
    good = tmp_path / "good.txt"
    good.write_text("walk\n\n  run \n")
    assert read_labels(good, 2) == ["walk", "run"]


class _StandIn:
    """What predict needs of a model: a number of classes."""

    _num_classes = 3


@pytest.fixture()
def fake_model(monkeypatch):
    """Predict runs on a stand-in: logits that say which frame of the range they follow."""
    monkeypatch.setattr(cli, "_load", lambda args, say: _StandIn())

    def capture_stream(model, frames, *, chunk, kinds, size, eager=False):
        batch: list = []
        for seen, _ in enumerate(frames):
            batch.append(seen)
            if len(batch) == chunk:
                yield {LOGITS_NAME: np.eye(3)[np.array(batch) % 3][None] * 5}
                batch = []
        if batch:
            yield {LOGITS_NAME: np.eye(3)[np.array(batch) % 3][None] * 5}

    monkeypatch.setattr(hooks, "capture_stream", capture_stream)


def test_predict_every_prints_the_frames_own_numbers_and_times(video, capsys, fake_model):
    """--start 0.5 at 10 fps: the range is frames 5..11 (0.5 s to 1.1 s); every 2nd
    frame of it is frame 6 (0.6 s), 8 and 10, not 1, 3, 5 at 0.2, 0.4, 0.6 s."""
    argv = ["predict", str(video), "--start", "0.5", "--every", "2", "--top", "1"]
    argv += ["--chunk", "3", "--resolution", "32", "--checkpoint", "random", "-q"]
    assert cli.main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 7
    assert [(r["frame"], r["time"]) for r in result["every"]] == [(6, 0.6), (8, 0.8), (10, 1.0)]
    assert (result["clip"]["frame"], result["clip"]["time"]) == (11, 1.1)
    # Each row is the prediction after that frame (the stand-in's top class: range index % 3).
    assert [r["top"][0]["index"] for r in result["every"]] == [1, 0, 2]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "frame     6 (  0.60 s)" in out and "frame    10 (  1.00 s)" in out


def test_chunk_help_says_what_chunk_does_for_each_command():
    commands = cli._parser()._subparsers._group_actions[0].choices

    def chunk_help(name: str) -> str:
        (action,) = [a for a in commands[name]._actions if "--chunk" in a.option_strings]
        return action.help

    assert "render" in chunk_help("render")
    for name in ("predict", "evaluate"):
        assert "render" not in chunk_help(name), name
    assert "do not depend on it" in chunk_help("predict")
    assert "not used" in chunk_help("evaluate")


@pytest.mark.parametrize("output, notice", [("out", True), ("out/", False), ("out.gif", False)])
def test_output_without_extension_says_it_writes_png_frames(
    output, notice, video, tmp_path, capsys, monkeypatch
):
    """``-o out`` (no extension) writes a folder of PNG frames: said before the work
    starts (the model here stops the render at once, so nothing is written)."""

    def stop(args, say):
        raise VizAttnError("stopped before the model")

    monkeypatch.setattr(cli, "_load", stop)
    target = f"{tmp_path}/{output}"  # (a Path would drop the trailing '/')
    code = cli.main(["render", str(video), "-o", target, "--checkpoint", "random"])
    err = capsys.readouterr().err
    assert code == 2 and "stopped before the model" in err
    line = f"vizattn: writing PNG frames into folder {target!r} (no extension)"
    assert (line in err.splitlines()) == notice, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--steps", "0", "--deletion"], "--steps 0 must be >= 1"),
        (["--kind", "simma"], "unknown map kind 'simma'; did you mean 'simam'"),
        (["--tolerance", "-1"], "--tolerance -1 must be >= 0 pixels"),
        (["--max-frames", "0"], "--max-frames 0 must be >= 1"),
    ],
)
def test_evaluate_options_fail_before_the_video_is_read(
    video, tmp_path, capsys, no_model, options, expected
):
    """They failed after 'this takes a while' and the clip was decoded, some naming
    internal arguments (``batch_size``)."""
    masks = tmp_path / "masks.npz"
    np.savez(masks, masks=np.zeros((12, 48, 64), np.uint8))
    argv = ["evaluate", str(video), "--masks", str(masks), *options]
    _fails_in_one_line(argv, capsys, tmp_path, expected)


def test_check_causal_on_head_says_why(tmp_path, capsys, no_model):
    _fails_in_one_line(
        ["check-causal", "--layer", "head"], capsys, tmp_path, "'head' is pooled over time"
    )
