"""Gradient kinds (``gradcam``, ``grad_x_act``): shapes, targets, streaming, causality.

One randomized A0 stream model (cumulative SimAM + TAdaConv v2) at 64 x 64,
8 frames, batch 2. :func:`vizattn.gradcam` is ``capture(kinds=["gradcam"])`` plus
:meth:`Cache.frame_maps`, so these tests exercise the capture pipeline.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from vizattn import Cache, hooks
from vizattn.errors import VizAttnError
from vizattn.hooks import capture, capture_stream, gradcam, predict
from vizattn.models import as_clip
from vizattn.testing import synthetic_clip

CLASSES = 10


@pytest.fixture(scope="module")
def model(movinet):
    return movinet(simam="cumulative", tada="v2")  # randomized; shared with other test files


@pytest.fixture(scope="module")
def clip():
    a = synthetic_clip(frames=8, size=64, seed=1)
    b = synthetic_clip(frames=8, size=64, seed=2)
    return as_clip(np.concatenate([a, b], axis=0))  # [2, 8, 64, 64, 3]


@pytest.fixture(scope="module")
def raw(model, clip):
    """Raw (unnormalized) clip-mode maps of block3 for the predicted classes."""
    return gradcam(model, clip, "block3", normalize=None)


@pytest.fixture(scope="module")
def raw_stream(model, clip):
    return gradcam(model, clip, "block3", stream=True, normalize=None)


def _classifier_vars(model):
    """The kernel [..., classes] and bias [classes] of the classifier."""
    head = [v for v in model.variables if "classifier" in v.name and v.shape[-1] == CLASSES]
    assert len(head) == 2, [v.name for v in head]
    return head


def test_shapes_and_normalization(model, clip, raw):
    assert raw.shape == (2, 8, 4, 4) and raw.dtype == np.float32  # block3 at 64 x 64
    assert raw.min() >= 0 and raw.max() > 0  # ReLU'd, not all zero
    per_clip = gradcam(model, clip, "block3")
    np.testing.assert_allclose(per_clip, raw / raw.max(axis=(1, 2, 3), keepdims=True), rtol=1e-6)
    assert np.allclose(per_clip.max(axis=(1, 2, 3)), 1.0)
    per_frame = gradcam(model, clip, "block3", normalize="frame")
    frame_max = per_frame.max(axis=(2, 3))
    assert np.all(np.isclose(frame_max, 1.0) | (frame_max == 0.0))
    with pytest.raises(
        VizAttnError, match=r"unknown normalize 'minmax'; use 'auto', 'clip', 'frame'"
    ):
        gradcam(model, clip, "block3", normalize="minmax")


def test_list_of_layers_resized_to_largest(model, clip):
    maps = gradcam(model, clip, ["stem", "block3_layer1"], normalize=None)
    assert maps.shape == (2, 8, 32, 32)  # the stem's resolution
    assert np.isfinite(maps).all() and maps.max() > 0


def test_block_prefix_is_the_average_of_its_layers(model, clip, raw):
    """block3 = mean of block3_layer0..3 (same size here), and the target is the prediction."""
    cache = capture(model, clip, names="block3", kinds=["gradcam", "grad_x_act"])
    layers = [cache[f"block3_layer{i}/gradcam"] for i in range(4)]
    np.testing.assert_allclose(raw, np.mean(layers, axis=0), rtol=1e-6)
    predicted = np.argmax(predict(model, clip), axis=-1)
    assert np.array(cache.metadata["targets"])[:, 0].tolist() == predicted.tolist()
    for i in range(4):  # gradient x activation is finer than Grad-CAM, and also >= 0
        gxa = cache[f"block3_layer{i}/grad_x_act"]
        assert gxa.shape == layers[i].shape and gxa.min() >= 0
        assert not np.allclose(gxa, layers[i])


def test_class_index_is_respected(model, clip, raw):
    by_class = [
        gradcam(model, clip, "block3", class_index=k, normalize=None) for k in range(CLASSES)
    ]
    predicted = np.argmax(predict(model, clip), axis=-1)
    for item in range(2):
        # The default map is the predicted class's map ...
        np.testing.assert_array_equal(by_class[predicted[item]][item], raw[item])
        # ... and classes differ (ReLU may zero a class on a random model: compare the rest).
        live = [k for k in range(CLASSES) if by_class[k][item].any()]
        assert len(live) >= 2, live
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                assert not np.allclose(by_class[a][item], by_class[b][item]), (a, b)
    # One class per batch item.
    mixed = gradcam(model, clip, "block3", class_index=[3, 7], normalize=None)
    np.testing.assert_array_equal(mixed[0], by_class[3][0])
    np.testing.assert_array_equal(mixed[1], by_class[7][1])
    with pytest.raises(VizAttnError, match=r"class_index 10 is out of range; the model has 10"):
        gradcam(model, clip, "block3", class_index=10)
    with pytest.raises(VizAttnError, match=r"class_index has 3 entries for a batch of 2"):
        gradcam(model, clip, "block3", class_index=[0, 1, 2])


def test_zero_gradient_gives_zero_map(model, clip):
    """A class whose logit does not depend on the activation has an all-zero map (no NaN)."""
    kernel, bias = _classifier_vars(model)
    saved = kernel.numpy(), bias.numpy()
    try:
        k = np.array(saved[0])
        k[..., 4] = 0.0
        kernel.assign(k)  # logit 4 is now the constant bias: zero gradient everywhere
        for normalize in ("clip", "frame", None):
            maps = gradcam(model, clip, "block3", class_index=4, normalize=normalize)
            assert np.array_equal(maps, np.zeros_like(maps)), normalize
        # Classes whose logit still depends on the activation give normalized, non-zero maps
        # (ReLU may zero some classes on a random model, so look for one that is not).
        peaks = [gradcam(model, clip, "block3", class_index=c).max() for c in (0, 1, 2, 3, 5)]
        assert 1.0 in peaks
        stream = gradcam(model, clip, "block3", class_index=4, stream=True)
        assert not stream.any()
    finally:
        kernel.assign(saved[0])
        bias.assign(saved[1])


def test_stream_map_ignores_later_frames(model, clip, raw_stream):
    assert raw_stream.shape == (2, 8, 4, 4)
    changed = clip.copy()
    changed[:, 5:] = clip[:, 5:][:, ::-1] * 0.5  # different later frames
    other = gradcam(model, changed, "block3", stream=True, normalize=None)
    np.testing.assert_array_equal(other[:, :5], raw_stream[:, :5])
    assert not np.allclose(other[:, 5:], raw_stream[:, 5:])
    framewise = gradcam(model, changed, "block3", stream=True, normalize="frame")
    reference = gradcam(model, clip, "block3", stream=True, normalize="frame")
    np.testing.assert_array_equal(framewise[:, :5], reference[:, :5])


def test_stream_step_equals_clip_map_of_the_prefix(model, clip, raw, raw_stream):
    """For a causal model, step t's map is the clip map of frame t for the clip ending at t."""
    scale = raw.max()
    np.testing.assert_allclose(raw_stream[:, -1], raw[:, -1], atol=1e-4 * scale)
    first = gradcam(model, clip[:, :1], "block3", normalize=None)
    np.testing.assert_allclose(raw_stream[:, 0], first[:, 0], atol=1e-4 * raw_stream.max())
    # Earlier steps explain earlier predictions, not the clip's: they differ from the clip map.
    assert not np.allclose(raw_stream[:, 0], raw[:, 0], atol=1e-4 * scale)


def test_model_is_left_untouched_and_not_retraced(model, clip, raw):
    assert all("call" not in layer.__dict__ for layer in model._flatten_layers())
    fns = hooks._TRACED[model]
    counts = {k: f.experimental_get_tracing_count() for k, (f, _) in fns.items()}
    again = gradcam(model, clip, "block3", normalize=None)
    np.testing.assert_array_equal(again, raw)
    assert {k: f.experimental_get_tracing_count() for k, (f, _) in fns.items()} == counts


@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_stream_maps_do_not_depend_on_chunks(model, clip, raw_stream, chunk):
    """capture_stream in chunks of 1, 3 (across uneven chunk boundaries) and 8 frames gives
    the frame-by-frame stream maps: step t explains the prediction at step t."""
    caches = list(capture_stream(model, clip, chunk=chunk, names="block3", kinds=["gradcam"]))
    assert [c.metadata["start"] for c in caches] == list(range(0, 8, chunk))
    maps = Cache.concat(caches).frame_maps("block3", "gradcam", normalize=None)
    np.testing.assert_allclose(maps, raw_stream, rtol=1e-5, atol=1e-6 * raw_stream.max())


def test_class_by_name(model, clip, raw):
    from vizattn.models import model_info

    info = model_info(model)
    names = [f"class {i}" for i in range(CLASSES)]
    info.class_names = names
    try:
        by_name = gradcam(model, clip, "block3", class_index="class 3", normalize=None)
        by_index = gradcam(model, clip, "block3", class_index=3, normalize=None)
        np.testing.assert_array_equal(by_name, by_index)
        top = gradcam(model, clip, "block3", class_index="top", normalize=None)
        np.testing.assert_array_equal(top, raw)
        with pytest.raises(VizAttnError, match=r"class 3"):
            gradcam(model, clip, "block3", class_index="clas 3")
    finally:
        info.class_names = None


def test_bad_layers(model, clip):
    with pytest.raises(VizAttnError, match=r"unknown layer 'blok3'; did you mean 'block3'"):
        gradcam(model, clip, "blok3")
    with pytest.raises(VizAttnError, match=r"unknown layer 'block3_layer9'; did you mean"):
        gradcam(model, clip, "block3_layer9")
    with pytest.raises(VizAttnError, match=r"layer 'head' is pooled over space and time"):
        gradcam(model, clip, "head")
    not_a_model = types.SimpleNamespace(layers=[])
    with pytest.raises(VizAttnError, match=r"has no MoViNet endpoints"):
        gradcam(not_a_model, clip, "block3")


def test_base_model(movinet):
    """The base (3D) model: clip layout works, stream=True is refused."""
    base = movinet(stream=False)
    small = synthetic_clip(frames=4, size=32)
    maps = gradcam(base, small, "block2")
    assert maps.shape == (1, 4, 2, 2) and np.isclose(maps.max(), 1.0)
    with pytest.raises(VizAttnError, match=r"streaming needs a stream model"):
        gradcam(base, small, "block2", stream=True)
