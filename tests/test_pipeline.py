"""The one pipeline: every path feeds the model the same tensors, and the CLI's predict.

``predict``, ``capture``, ``capture_stream`` and ``render`` (through
``rendering.map_stream``, which decodes the file itself) all preprocess with
``vizattn.models.as_clip`` and run through ``hooks._step``; these tests record
what reaches the traced function on each path and compare.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from vizattn import cli, hooks, rendering
from vizattn.cache import softmax
from vizattn.models import as_clip
from vizattn.testing import synthetic_clip
from vizattn.video import VideoWriter, read_all

SIZE = (32, 40)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe") / "clip.mp4"
    frames = synthetic_clip(frames=7, size=(48, 64))[0]
    with VideoWriter(path, fps=25) as writer:
        for f in frames:
            writer.write(f)
    return path


@pytest.fixture()
def fed(monkeypatch):
    """Records the float32 input of every model call."""
    seen: list[np.ndarray] = []
    original = hooks._step

    def step(plan, x, states, classes):
        seen.append(np.array(x))
        return original(plan, x, states, classes)

    monkeypatch.setattr(hooks, "_step", step)
    return seen


def test_every_path_feeds_the_model_identical_tensors(movinet, video, fed):
    model = movinet(simam="frame")
    decoded, _ = read_all(video)
    reference = as_clip(decoded, size=SIZE)  # the one preprocessing
    assert reference.shape == (1, 7, *SIZE, 3) and reference.dtype == np.float32
    assert reference.min() >= 0.0 and reference.max() <= 1.0

    def fed_frames() -> np.ndarray:
        out = np.concatenate(fed, axis=1)[:, :7]  # a padded last chunk is cut off
        fed.clear()
        return out

    hooks.predict(model, reference)
    np.testing.assert_array_equal(fed_frames(), reference)
    hooks.capture(model, reference, kinds=["simam"], stream=True, chunk=2)
    np.testing.assert_array_equal(fed_frames(), reference)
    list(hooks.capture_stream(model, decoded, chunk=3, kinds=["logits"], size=SIZE))
    np.testing.assert_array_equal(fed_frames(), reference)
    for _ in rendering.map_stream(model, str(video), names="block3", kinds="simam", chunk=3,
                                  size=SIZE):  # fmt: skip
        pass
    chunks = list(fed)
    np.testing.assert_array_equal(fed_frames(), reference)
    # The last, short chunk is padded (reusing the trace) with its last real frame.
    assert [x.shape[1] for x in chunks] == [3, 3, 3]
    np.testing.assert_array_equal(chunks[-1][:, 1], chunks[-1][:, 0])


def test_predict_command_json_and_every(movinet, video, monkeypatch, capsys):
    model = movinet(simam="frame")
    monkeypatch.setattr(cli, "_load", lambda args, say: model)
    code = cli.main(
        [
            "predict",
            str(video),
            "--top",
            "3",
            "--every",
            "3",
            "--json",
            "--checkpoint",
            "random",
            "--resolution",
            "32",
            "-q",
        ]  # fmt: skip
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert result["frames"] == 7 and len(result["clip"]["top"]) == 3
    assert [row["frame"] for row in result["every"]] == [2, 5]
    probs = [t["probability"] for t in result["clip"]["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    # The clip's top classes are those of predict_stream's last frame.
    x = as_clip(read_all(video)[0], size=(32, 42))
    last = hooks.predict_stream(model, x)[0, -1]
    assert result["clip"]["top"][0]["index"] == int(np.argmax(last))
    # ...with their probabilities: the softmax of those logits, taken once.
    expected = softmax(np.asarray(last, np.float64))
    top = [t["index"] for t in result["clip"]["top"]]
    np.testing.assert_allclose(probs, expected[top], atol=1e-6)


def test_predict_command_bad_arguments(video, capsys):
    assert cli.main(["predict", str(video), "--top", "0", "--checkpoint", "random"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--top 0" in err
