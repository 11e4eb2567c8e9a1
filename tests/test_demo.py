"""Tests for vizattn.demo: the moving-shapes task, the demo clip and their masks."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vizattn.demo import (
    CLASS_NAMES,
    DEMO_SEED,
    HELDOUT_SEEDS,
    OBJECT_NAMES,
    TRAIN_SEEDS,
    demo_frames,
    heldout_seeds,
    make_demo,
    task_batch,
    task_clip,
    train_seeds,
)
from vizattn.errors import VizAttnError
from vizattn.video import probe, read_all

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# direction of each class as (dx, dy) in image coordinates
_DIRECTION = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_same_seed_same_clip_other_seed_differs():
    a, b, c = (task_clip(s, size=64, frames=6) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert (a.target, a.label, a.onset) == (b.target, b.label, b.onset)
    assert not np.array_equal(a.frames, c.frames) and not np.array_equal(a.masks, c.masks)
    frames_a, masks_a, names = demo_frames(seconds=1, fps=8, size=(64, 96), seed=3)
    frames_b, masks_b, _ = demo_frames(seconds=1, fps=8, size=(64, 96), seed=3)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(masks_a, masks_b)
    assert names == OBJECT_NAMES


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 17, 10**9 + 5])
def test_masks_are_exactly_the_drawn_shapes(seed):
    clip = task_clip(seed, size=(64, 80), frames=5)
    assert clip.masks.dtype == np.uint8 and clip.masks.shape == (5, 64, 80)
    present = set(np.unique(clip.masks).tolist()) - {0}
    assert 3 <= len(present) <= 4 and clip.target in present
    assert present <= set(range(1, len(OBJECT_NAMES) + 1))
    colours = []
    for k in present:
        inside = clip.frames[clip.masks == k]
        colour = np.unique(inside, axis=0)
        assert len(colour) == 1, f"object {k} is not one flat colour"
        # That colour appears exactly where the mask says, in every frame.
        np.testing.assert_array_equal((clip.frames == colour[0]).all(-1), clip.masks == k)
        colours.append(tuple(colour[0]))
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("seed", range(12))
def test_target_moves_only_from_onset_in_its_direction_and_distractors_stay(seed):
    clip = task_clip(seed, size=96, frames=16)
    target = clip.masks == clip.target
    onset = clip.onset
    assert 1 <= onset < 16
    for t in range(1, onset):  # still before the onset
        np.testing.assert_array_equal(target[t], target[0])
    for t in range(onset, 16):  # moving at every frame from the onset on
        assert not np.array_equal(target[t], target[t - 1]), (t, onset)
    shift = _centroid(target[-1]) - _centroid(target[onset - 1])
    dx, dy = _DIRECTION[clip.class_name]
    along = shift @ np.array([dx, dy])
    assert along > 5 and abs(shift @ np.array([dy, dx])) < 1.0
    # Area is kept (rigid motion inside the frame).
    areas = target.sum(axis=(1, 2))
    assert areas.min() > 0.9 * areas.max()
    # Distractors are static.
    for k in set(np.unique(clip.masks).tolist()) - {0, clip.target}:
        assert (clip.masks == k).all(axis=0).sum() == (clip.masks[0] == k).sum() > 0


@pytest.mark.parametrize("seed", range(4))
def test_animated_distractors_spin_or_pulse_in_place_and_the_target_is_unchanged(seed):
    still, busy = (
        task_clip(seed, size=96, frames=12),
        task_clip(seed, size=96, frames=12, animate=1),
    )
    assert (still.target, still.label, still.onset) == (busy.target, busy.label, busy.onset)
    np.testing.assert_array_equal(still.masks == still.target, busy.masks == busy.target)
    others = set(np.unique(busy.masks).tolist()) - {0, busy.target}
    for k in others:
        shapes = busy.masks == k
        assert any(not np.array_equal(shapes[t], shapes[0]) for t in range(12))  # animated
        centres = np.array([_centroid(shapes[t]) for t in range(12)])
        assert np.abs(centres - centres[0]).max() < 1.5  # but going nowhere


def test_labels_balanced_onsets_mixed_and_batches_stack():
    clips, masks, labels, targets, onsets = task_batch(train_seeds(64), size=32, frames=8)
    assert clips.shape == (64, 8, 32, 32, 3) and clips.dtype == np.uint8
    assert masks.shape == (64, 8, 32, 32) and masks.dtype == np.uint8
    assert set(np.unique(targets)) == set(range(1, len(OBJECT_NAMES) + 1))
    assert 0.25 < np.mean(onsets == 1) < 0.75 and onsets.max() > 1 and onsets.max() <= 4
    for i in (0, 5):
        single = task_clip(i, size=32, frames=8)
        np.testing.assert_array_equal(clips[i], single.frames)
        assert (labels[i], targets[i], onsets[i]) == (single.label, single.target, single.onset)
    assert len(CLASS_NAMES) == 4
    for seeds in (train_seeds(400), heldout_seeds(400)):
        counts = np.bincount([task_clip(s, size=32, frames=2).label for s in seeds], minlength=4)
        assert len(counts) == 4 and counts.min() >= 70 and counts.max() <= 130  # 100 +- 3.5 sd


def test_train_and_heldout_seeds_are_disjoint():
    assert TRAIN_SEEDS.stop <= HELDOUT_SEEDS.start
    assert set(train_seeds(50, start=TRAIN_SEEDS.stop - 50)).isdisjoint(heldout_seeds(50))
    assert DEMO_SEED in HELDOUT_SEEDS
    with pytest.raises(VizAttnError):
        train_seeds(10, start=TRAIN_SEEDS.stop - 5)
    with pytest.raises(VizAttnError):
        heldout_seeds(10, start=-1)


def test_the_task_scales_with_the_frame():
    small, large = task_clip(11, size=32, frames=8), task_clip(11, size=192, frames=8)
    assert (small.label, small.target, small.onset) == (large.label, large.target, large.onset)
    for k in set(np.unique(large.masks).tolist()) - {0}:
        a, b = (c.masks[-1] == k for c in (small, large))
        assert abs(a.mean() - b.mean()) < 0.01  # same share of the frame
        np.testing.assert_allclose(_centroid(a) / 32, _centroid(b) / 192, atol=0.04)


def test_task_rejects_bad_arguments():
    for kwargs in ({"size": 16}, {"frames": 1}, {"frames": 8, "onset": 8}, {"onset": 0}):
        with pytest.raises(VizAttnError) as e:
            task_clip(0, **kwargs)
        assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_make_demo_writes_matching_video_and_masks(tmp_path):
    video, masks_path = make_demo(tmp_path / "out", seconds=1, fps=10, size=(64, 96), seed=1)
    assert video == tmp_path / "out" / "demo.mp4" and masks_path.name == "demo_masks.npz"
    data = np.load(masks_path)
    masks = data["masks"]
    assert list(data["names"]) == list(OBJECT_NAMES) and float(data["fps"]) == 10.0
    expected = task_clip(1, size=(64, 96), frames=10, onset=int(data["onset"]))
    np.testing.assert_array_equal(masks, expected.masks)
    assert (int(data["target"]), int(data["label"])) == (expected.target, expected.label)
    assert 1 < int(data["onset"]) < 10
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
    assert count == len(masks) == 10
    frames, info = read_all(video)
    assert frames.shape[:3] == masks.shape
    assert info.fps == 10
    # The decoded video still shows the flat shapes where the masks say they are.
    target = frames[masks == int(data["target"])].astype(int)
    assert np.abs(target - expected.frames[masks == int(data["target"])]).mean() < 20
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo.mp4", "demo_masks.npz"]


def test_make_demo_rejects_odd_size(tmp_path):
    with pytest.raises(VizAttnError) as e:
        make_demo(tmp_path, size=(63, 96))
    assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_a_bad_seed_fails_in_one_line_and_make_demo_creates_nothing(tmp_path):
    for seed in (-1, 2.5, "3"):
        with pytest.raises(VizAttnError, match="seed must be a whole number >= 0") as e:
            task_clip(seed, size=32, frames=2)
        assert "\n" not in str(e.value)
    for bad in ({"seed": -1}, {"seconds": 0}):
        with pytest.raises(VizAttnError):
            make_demo(tmp_path / "out", size=(32, 32), **bad)
        assert not (tmp_path / "out").exists()  # the folder comes after the checks


def test_make_demo_unwritable_folder_names_no_argument(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(VizAttnError, match="cannot create the demo folder") as e:
        make_demo(blocker / "out", seconds=0.2, fps=10, size=(32, 32))
    assert "out_dir" not in str(e.value)


def test_shipped_assets_are_consistent_and_small():
    video, masks_file = ASSETS / "demo.mp4", ASSETS / "demo_masks.npz"
    assert video.stat().st_size + masks_file.stat().st_size < 2 * 2**20
    data = np.load(masks_file)
    masks = data["masks"]
    info = probe(video)
    assert info.frame_count == len(masks) and info.fps == float(data["fps"])
    assert (info.height, info.width) == masks.shape[1:]
    _, expected, _ = demo_frames()  # the assets were made with the defaults
    np.testing.assert_array_equal(masks, expected)
    clip = task_clip(DEMO_SEED, size=masks.shape[1:], frames=len(masks), onset=int(data["onset"]))
    assert (int(data["target"]), int(data["label"])) == (clip.target, clip.label)
    assert len(masks) // 5 < int(data["onset"]) <= len(masks) // 2  # the causal story shows
