"""vizattn.metrics: every score on hand-made maps with known answers, baselines, sanity check."""

from __future__ import annotations

import numpy as np
import pytest

from vizattn import metrics
from vizattn.errors import VizAttnError

T, H, W = 5, 40, 48
SIDE = 8  # object width in pixels


def _scene(seed: int):
    """Masks ``[T, H, W]`` of one square object at a random place per frame."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((T, H, W), bool)
    for t in range(T):
        y = rng.integers(0, H - SIDE)
        x = rng.integers(0, W - 2 * SIDE)  # room to shift right by one width
        masks[t, y : y + SIDE, x : x + SIDE] = True
    return masks


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_perfect_map_scores_one(seed):
    masks = _scene(seed)
    perfect = masks.astype(np.float32) * 3.0 - 1.0  # any scale
    assert metrics.pointing_game(perfect, masks, tolerance=0).all == 1.0
    assert metrics.auroc(perfect, masks).all == 1.0
    assert metrics.energy_inside(np.maximum(perfect, 0), masks).all == pytest.approx(1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_inverted_map_scores_zero(seed):
    masks = _scene(seed)
    inverted = 1.0 - masks.astype(np.float32)
    assert metrics.pointing_game(inverted, masks, tolerance=0).all == 0.0
    assert metrics.auroc(inverted, masks).all == 0.0
    assert metrics.energy_inside(inverted, masks).all == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_map_scores_chance(seed):
    masks = _scene(seed)
    area = masks.mean(axis=(1, 2)).mean()
    for constant in (np.zeros((T, H, W)), np.full((T, 4, 4), 7.0)):
        assert metrics.auroc(constant, masks).all == pytest.approx(0.5)
        assert metrics.energy_inside(constant, masks).all == pytest.approx(area)
        # ties are split evenly: the expected hit of a random pick among the maxima
        assert metrics.pointing_game(constant, masks, tolerance=0).all == pytest.approx(area)


@pytest.mark.parametrize("seed", SEEDS)
def test_map_shifted_by_one_object_width(seed):
    masks = _scene(seed)
    shifted = np.roll(masks, SIDE, axis=-1).astype(np.float32)
    assert metrics.pointing_game(shifted, masks, tolerance=0).all == 0.0
    # its plateau of maxima: the columns within SIDE / 2 pixels of the target count
    assert metrics.pointing_game(shifted, masks, tolerance=SIDE / 2).all == 0.5
    assert metrics.energy_inside(shifted, masks).all == 0.0
    n_obj, n_neg = SIDE * SIDE, H * W - SIDE * SIDE
    # target pixels (0) tie with the background's zeros and lose to the shifted square
    expected = (n_neg - n_obj) / (2 * n_neg)
    assert metrics.auroc(shifted, masks).all == pytest.approx(expected)


@pytest.mark.parametrize("distance", [1, 3, 6])
def test_pointing_game_tolerance_is_a_pixel_distance(distance):
    masks = np.zeros((1, 20, 20), bool)
    masks[0, 10, 5] = True
    m = np.zeros((1, 20, 20), np.float32)
    m[0, 10, 5 + distance] = 1.0
    assert metrics.pointing_game(m, masks, tolerance=distance).all == 1.0
    assert metrics.pointing_game(m, masks, tolerance=distance - 0.5).all == 0.0


def _auroc_pairs(values: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = values[labels], values[~labels]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


@pytest.mark.parametrize("seed", range(4))
def test_auroc_equals_the_pairwise_formula(seed):
    rng = np.random.default_rng(seed)
    maps = rng.integers(0, 4, size=(2, 3, 6, 7)).astype(np.float32)  # many ties
    masks = rng.random((2, 3, 6, 7)) < 0.3
    got = metrics.auroc(maps, masks).per_frame
    for b in range(2):
        for t in range(3):
            expected = _auroc_pairs(maps[b, t].ravel(), masks[b, t].ravel())
            assert got[b, t] == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_rank_scores_ignore_scale_and_offset(seed):
    rng = np.random.default_rng(seed)
    masks = _scene(seed)
    m = rng.random((T, 10, 12))
    for fn in (metrics.auroc, metrics.pointing_game):
        a = fn(m, masks).per_frame
        np.testing.assert_allclose(fn(5.0 * m - 2.0, masks).per_frame, a)


def test_maps_are_resized_to_the_masks():
    masks = np.zeros((2, 32, 32), bool)
    masks[:, :16, :16] = True  # the top-left quadrant
    coarse = np.zeros((2, 2, 2), np.float32)
    coarse[:, 0, 0] = 1.0
    assert metrics.pointing_game(coarse, masks, tolerance=0).all == 1.0
    assert metrics.auroc(coarse, masks).all > 0.9
    assert metrics.auroc(coarse[:, ::-1, ::-1], masks).all < 0.5


def test_empty_masks_do_not_count_and_onset_splits():
    masks = _scene(0)
    masks[0] = False
    good = masks.astype(np.float32)
    maps = np.where(np.arange(T)[:, None, None] >= 3, good, 1 - good)  # right from frame 3
    score = metrics.auroc(maps, masks, onset=3)
    assert np.isnan(score.per_frame[0, 0]) and score.frames == T - 1
    assert score.after_onset == 1.0
    assert score.all == pytest.approx(2 / (T - 1))
    assert metrics.auroc(maps, masks).after_onset is None


def test_batches_broadcast_and_scores_pool():
    masks = _scene(1)
    rng = np.random.default_rng(0)
    maps = rng.random((3, T, 8, 8))
    score = metrics.energy_inside(maps, masks)
    assert score.per_frame.shape == (3, T)
    single = [metrics.energy_inside(maps[b], masks) for b in range(3)]
    pooled = metrics.Score.concat(single)
    assert pooled.all == pytest.approx(score.all)
    assert pooled.frames == 3 * T


def test_bad_inputs_fail_with_one_line():
    masks = _scene(0)
    with pytest.raises(VizAttnError, match="frames"):
        metrics.auroc(np.zeros((T + 1, 4, 4)), masks)
    with pytest.raises(VizAttnError, match="NaN"):
        metrics.auroc(np.full((T, 4, 4), np.nan), masks)
    with pytest.raises(VizAttnError, match="shape"):
        metrics.pointing_game(np.zeros((4, 4)), masks)
    with pytest.raises(VizAttnError, match="tolerance"):
        metrics.pointing_game(np.zeros((T, 4, 4)), masks, tolerance=-1)
    with pytest.raises(VizAttnError, match="onset"):
        metrics.auroc(np.zeros((T, 4, 4)), masks, onset=T)


def test_spearman_of_monotone_maps():
    rng = np.random.default_rng(3)
    a = rng.random((2, 3, 5, 5))
    np.testing.assert_allclose(metrics.spearman(a, np.exp(3 * a)), 1.0)
    np.testing.assert_allclose(metrics.spearman(a, -a), -1.0)
    np.testing.assert_array_equal(metrics.spearman(a, np.zeros_like(a)), 0.0)  # lost its ranking
    assert np.isnan(metrics.spearman(np.ones_like(a), np.zeros_like(a))).all()


# -- baselines -------------------------------------------------------------------


def test_center_baseline_peaks_in_the_middle():
    c = metrics.center_baseline((3, 21, 31))
    assert c.shape == (3, 21, 31)
    assert np.unravel_index(np.argmax(c[0]), c[0].shape) == (10, 15)
    np.testing.assert_allclose(c, c[:, ::-1, ::-1], rtol=1e-6)
    masks = np.zeros((3, 21, 31), bool)
    masks[:, 8:13, 12:19] = True
    assert metrics.pointing_game(c, masks, tolerance=0).all == 1.0


def test_noise_baseline_follows_its_seed():
    a = metrics.noise_baseline((2, 8, 8), seed=1)
    assert a.shape == (2, 8, 8) and a.min() >= 0 and a.max() < 1
    np.testing.assert_array_equal(a, metrics.noise_baseline((2, 8, 8), seed=1))
    assert not np.array_equal(a, metrics.noise_baseline((2, 8, 8), seed=2))


def test_frame_difference_finds_the_mover():
    clip = np.full((4, 32, 32, 3), 90, np.uint8)
    for t in range(4):
        clip[t, 10:16, 4 + 3 * t : 10 + 3 * t] = 250  # a square moving right
    d = metrics.frame_difference(clip)
    assert d.shape == (4, 32, 32)
    assert not d[0].any()  # no previous frame: zeros
    masks = np.zeros((4, 32, 32), bool)
    for t in range(4):
        masks[t, 10:16, 4 + 3 * t : 10 + 3 * t] = True
    assert metrics.pointing_game(d[1:], masks[1:], tolerance=2).all == 1.0
    static = metrics.frame_difference(np.repeat(clip[:1], 3, axis=0)[None])
    assert static.shape == (1, 3, 32, 32) and not static.any()


@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_is_the_mask_on_a_grid(seed):
    masks = _scene(seed)
    np.testing.assert_array_equal(metrics.oracle(masks, (H, W)), masks.astype(np.float32))
    grid = metrics.oracle(masks, (H // 8, W // 8))
    assert grid.shape == (T, H // 8, W // 8)
    assert grid.min() >= 0 and grid.max() <= 1
    np.testing.assert_allclose(grid.mean(axis=(1, 2)), masks.mean(axis=(1, 2)), rtol=1e-6)
    odd = metrics.oracle(masks, (7, 5))  # cells that do not divide the frame
    np.testing.assert_allclose(odd.mean(axis=(1, 2)), masks.mean(axis=(1, 2)), rtol=1e-5)
    assert metrics.auroc(grid, masks).all > 0.9


# -- randomization check, with a stand-in model ------------------------------------


class _Variable:
    def __init__(self, name: str, value: np.ndarray):
        self.name, self.value = name, np.array(value, np.float32)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value) -> None:
        self.value[...] = value


class _Model:
    """What randomization_check needs: ``variables`` with ``name``, ``numpy`` and ``assign``."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.variables = [
            _Variable("stem/conv/kernel:0", rng.normal(size=(3, 3))),
            _Variable("block0_layer0/bneck/kernel:0", rng.normal(size=(4, 4))),
            _Variable("block1_layer0/bneck/kernel:0", rng.normal(size=(4, 4))),
            _Variable("block1_layer1/bneck/kernel:0", rng.normal(size=(2,))),
            _Variable("classifier_head/head/kernel:0", rng.normal(size=(T, 8, 8))),
        ]


def _weight_map(model, clip):
    """A map that is the head's weights: it depends on what the model 'learned'."""
    return model.variables[-1].numpy()


def test_randomization_order_and_restoring():
    model = _Model()
    before = [v.numpy() for v in model.variables]
    clip = np.random.default_rng(0).integers(0, 255, (T, 8, 8, 3)).astype(np.uint8)
    result = metrics.randomization_check(model, clip, _weight_map)
    assert result.stages == ["head", "block1", "block0", "stem"]
    assert abs(result.mean[0]) < 0.3  # the weights' map no longer looks like itself
    for v, b in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)
    motion = metrics.randomization_check(model, clip, lambda m, c: metrics.frame_difference(c))
    np.testing.assert_allclose(motion.mean, 1.0)  # weight-independent: unchanged
    both = metrics.randomization_check(
        model, clip, lambda m, c: {"weights": _weight_map(m, c), "motion": c[..., 0] / 255.0}
    )
    assert set(both) == {"weights", "motion"}
    np.testing.assert_allclose(both["motion"].mean, 1.0)
    np.testing.assert_allclose(both["weights"].mean, result.mean)  # same seed, same permutations

    calls = []

    def failing(m, c):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return _weight_map(m, c)

    with pytest.raises(RuntimeError):
        metrics.randomization_check(model, clip, failing)
    for v, b in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)
    partial = metrics.randomization_check(model, clip, _weight_map, stages=["block1"])
    assert partial.stages == ["head", "block1"]
    with pytest.raises(VizAttnError, match="stage"):
        metrics.randomization_check(model, clip, _weight_map, stages=["block9"])
