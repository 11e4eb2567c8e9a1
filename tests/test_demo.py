"""Tests for vizattn.demo: the synthetic clip and its ground-truth masks."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vizattn.demo import OBJECT_NAMES, demo_frames, make_demo
from vizattn.errors import VizAttnError
from vizattn.video import probe, read_all

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_same_seed_same_clip_other_seed_differs():
    frames_a, masks_a, names = demo_frames(seconds=1, fps=10, size=(64, 96), seed=3)
    frames_b, masks_b, _ = demo_frames(seconds=1, fps=10, size=(64, 96), seed=3)
    np.testing.assert_array_equal(masks_a, masks_b)
    np.testing.assert_array_equal(frames_a, frames_b)
    frames_c, masks_c, _ = demo_frames(seconds=1, fps=10, size=(64, 96), seed=4)
    assert not np.array_equal(masks_a, masks_c)
    assert not np.array_equal(frames_a, frames_c)
    assert names == OBJECT_NAMES == ("circle", "square", "triangle")


def test_masks_cover_every_object_and_the_triangle_enters_midway():
    frames, masks, names = demo_frames(seconds=2, fps=10, size=(80, 128), seed=0)
    assert masks.dtype == np.uint8 and masks.shape == (20, 80, 128)
    assert set(np.unique(masks)) == {0, 1, 2, 3}
    present = np.stack([(masks == k).any(axis=(1, 2)) for k in range(1, len(names) + 1)])
    assert present[:2].sum(axis=1).min() >= 18  # circle and square are (nearly) always visible
    assert not present[2, :10].any() and present[2, 11:].all()  # the triangle enters midway
    # Objects move: the circle's centre is not fixed.
    ys, xs = np.nonzero(masks[0] == 1)
    ye, xe = np.nonzero(masks[-1] == 1)
    assert abs(xs.mean() - xe.mean()) + abs(ys.mean() - ye.mean()) > 5
    # Masks line up with the drawn colours.
    circle = frames[masks == 1]
    assert (circle[:, 0] > 200).all() and (circle[:, 1] < 80).all()


def test_make_demo_writes_matching_video_and_masks(tmp_path):
    video, masks_path = make_demo(tmp_path / "out", seconds=1, fps=10, size=(64, 96), seed=1)
    assert video == tmp_path / "out" / "demo.mp4" and masks_path.name == "demo_masks.npz"
    data = np.load(masks_path)
    masks = data["masks"]
    assert list(data["names"]) == list(OBJECT_NAMES) and float(data["fps"]) == 10.0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
    assert count == len(masks) == 10
    frames, info = read_all(video)
    assert frames.shape[:3] == masks.shape
    assert info.fps == 10
    # The decoded video still shows the red circle where the mask says it is.
    red = frames[masks == 1].astype(int)
    assert red[:, 0].mean() > 180 and red[:, 1].mean() < 100
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo.mp4", "demo_masks.npz"]


def test_make_demo_rejects_odd_size(tmp_path):
    with pytest.raises(VizAttnError) as e:
        make_demo(tmp_path, size=(63, 96))
    assert "\n" not in str(e.value) and str(e.value).endswith(".")


def test_shipped_assets_are_consistent_and_small():
    video, masks_file = ASSETS / "demo.mp4", ASSETS / "demo_masks.npz"
    assert video.stat().st_size + masks_file.stat().st_size < 2 * 2**20
    masks = np.load(masks_file)["masks"]
    info = probe(video)
    assert info.frame_count == len(masks)
    assert (info.height, info.width) == masks.shape[1:]
    _, expected, _ = demo_frames()  # the assets were made with the defaults
    np.testing.assert_array_equal(masks, expected)
