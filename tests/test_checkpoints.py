"""vizattn.checkpoints: restoring Model Garden MoViNet weights by object-graph path.

MoViNet builds are slow (5-10 s each on 2 cores), so the A0 models are built once
per module: ``source`` (stream, internal states, randomized and saved in the
released layout) and ``target`` (stream, external states: its Functional
``layer-N`` numbering is shifted by 43 state inputs). Tests that only exercise
files, archives and downloads use a tiny Dense model.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import tarfile
import types
import urllib.request

import numpy as np
import pytest
import tf_keras

from vizattn import checkpoints
from vizattn.checkpoints import RestoreSummary, load_checkpoint
from vizattn.errors import VizAttnError

tf = checkpoints.tf

STREAM = dict(
    causal=True,
    conv_type="2plus1d",
    se_type="2plus3d",
    activation="hard_swish",
    gating_activation="hard_sigmoid",
)
CLIP_SHAPE = [1, 4, 32, 32, 3]
_SEEDS = itertools.count(100)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert msg.endswith("."), msg
    return msg


def _build(model_id="a0", *, external_states, num_classes=600, backbone=None):
    from official.projects.movinet.modeling import movinet, movinet_model

    if backbone is None:
        backbone = movinet.Movinet(model_id, use_external_states=external_states, **STREAM)
    return movinet_model.MovinetClassifier(backbone, num_classes=num_classes, output_states=True)


def _randomize(model, seed):
    """Gives every variable a distinct random value (BN statistics and rezero scales included)."""
    rng = np.random.default_rng(seed)
    for v in model.variables:
        shape, name = v.shape, v.name
        if any(k in name for k in ("moving_variance", "gamma", "scale")):
            value = rng.uniform(0.5, 1.5, shape)
        elif any(k in name for k in ("moving_mean", "beta", "bias")):
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = v.numpy() * rng.uniform(0.5, 1.5, shape)
        v.assign(value.astype(v.dtype.as_numpy_dtype))


def _logits(model, clip):
    if model.backbone.use_external_states:
        states = model.init_states(tf.shape(clip))
        return model({**states, "image": clip})[0].numpy()
    return model({"image": clip})[0].numpy()


@contextlib.contextmanager
def _attached(layer, name, value):
    """Sets ``layer.<name> = value`` for the block, then removes it from checkpoints too.

    (tf_keras' ``Layer.__delattr__`` forgets the weight but keeps the checkpoint
    dependency, so a plain ``del`` would leak into later saves and restores.)
    """
    setattr(layer, name, value)
    try:
        yield value
    finally:
        delattr(layer, name)
        layer._delete_tracking(name)


def _tar(path, members):
    """Writes a tar.gz from (TarInfo, bytes | None) pairs."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip():
    return tf.random.stateless_uniform(CLIP_SHAPE, seed=(1, 2))


@pytest.fixture(scope="module")
def source(tmp_path_factory, clip):
    """A randomized A0 stream model saved the way the released checkpoints are."""
    model = _build(external_states=False)
    _randomize(model, seed=1)
    root = tmp_path_factory.mktemp("release")
    ckpt_dir = root / "movinet_a0_stream"
    prefix = tf.train.Checkpoint(model=model).save(str(ckpt_dir / "ckpt"))
    archive = root / "movinet_a0_stream.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(ckpt_dir, arcname="movinet_a0_stream")
    return types.SimpleNamespace(
        model=model,
        logits=_logits(model, clip),
        dir=ckpt_dir,
        prefix=prefix,
        archive=archive,
        root=root,
    )


@pytest.fixture(scope="module")
def target():
    """A fresh A0 stream model with external states (shifted ``layer-N`` numbering)."""
    return _build(external_states=True)


@pytest.fixture()
def scrambled(target, clip, source):
    """``target`` with weights unlike the source's, so a restore has something to prove."""
    _randomize(target, seed=next(_SEEDS))
    assert not np.allclose(_logits(target, clip), source.logits, atol=1e-3)
    return target


@pytest.fixture()
def tiny(tmp_path):
    """A small tf_keras model and a checkpoint of it with different values."""

    def make():
        model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3)])
        return model

    saved = make()
    for v in saved.variables:
        v.assign(np.arange(np.prod(v.shape), dtype="float32").reshape(v.shape) + 1)
    ckpt_dir = tmp_path / "tiny_ckpt"
    tf.train.Checkpoint(model=saved).save(str(ckpt_dir / "ckpt"))
    return types.SimpleNamespace(model=make(), saved=saved, dir=ckpt_dir)


def _same_weights(a, b):
    return all(
        np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.variables, b.variables, strict=True)
    )


# -- released layout -------------------------------------------------------------


def test_released_archive_restores_into_external_states_model(source, scrambled, clip):
    # The point of path matching: layer-N numbering differs between the two models.
    assert len(scrambled.backbone.layers) != len(source.model.backbone.layers)

    summary = load_checkpoint(scrambled, source.archive)

    assert isinstance(summary, RestoreSummary)
    assert summary.restored == len(scrambled.variables) == len(source.model.variables)
    assert summary.complete and summary.kept_init == ()
    assert summary.prefix == "movinet_a0_stream/ckpt-1"
    np.testing.assert_allclose(_logits(scrambled, clip), source.logits, atol=1e-5)
    text = str(summary)
    assert text.splitlines()[0] == (
        f"restored {summary.restored} variables from {source.archive} (movinet_a0_stream/ckpt-1)"
    )
    assert "kept init (vizattn modules): none" in text
    assert repr(summary).startswith(f"RestoreSummary(restored={summary.restored}, kept_init=0,")


@pytest.mark.parametrize("form", ["dir", "prefix", "index_file", "no_index_file", "foreign_path"])
def test_directory_and_prefix_forms(form, source, scrambled, clip, tmp_path):
    if form == "dir":
        arg = source.dir
    elif form == "prefix":
        arg = source.prefix
    elif form == "index_file":
        arg = source.prefix + ".index"
    else:
        copy = tmp_path / "copy"
        shutil.copytree(source.dir, copy)
        if form == "no_index_file":
            (copy / "checkpoint").unlink()
        else:  # the `checkpoint` file names a path on the machine that wrote it
            (copy / "checkpoint").write_text(
                'model_checkpoint_path: "/nonexistent/train/ckpt-1"\n'
                'all_model_checkpoint_paths: "/nonexistent/train/ckpt-1"\n'
            )
        arg = copy
    summary = load_checkpoint(scrambled, arg)
    assert summary.complete
    np.testing.assert_allclose(_logits(scrambled, clip), source.logits, atol=1e-5)


def test_vizattn_module_keeps_init_and_is_reported(source, scrambled, clip):
    block = scrambled.backbone.get_layer("block1_layer0")
    extra = tf_keras.layers.Dense(5, name="extra")
    extra.build((None, 8))
    extra.kernel.assign(np.full(extra.kernel.shape, 0.25, "float32"))
    before = [w.numpy().copy() for w in extra.weights]
    with _attached(block, "_vizattn_extra", extra):
        summary = load_checkpoint(scrambled, source.dir)
    for w, old in zip(extra.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), old)
    assert len(summary.kept_init) == 2
    assert all("block1_layer0/_vizattn_extra/" in name for name in summary.kept_init)
    assert summary.complete
    assert summary.restored == len(scrambled.variables)
    line = next(s for s in str(summary).splitlines() if "kept init" in s)
    assert "2 variables:" in line and "_vizattn_extra/{kernel,bias}" in line, line
    np.testing.assert_allclose(_logits(scrambled, clip), source.logits, atol=1e-5)


def test_unknown_extra_variable_is_a_mismatch(source, scrambled):
    block = scrambled.backbone.get_layer("block2_layer0")
    extra = tf_keras.layers.Dense(2, name="other")
    extra.build((None, 3))
    # Not a _vizattn attribute: the checkpoint should have had it.
    with _attached(block, "my_extra", extra):
        untouched = [v.numpy().copy() for v in scrambled.variables]
        with pytest.raises(VizAttnError) as err:
            load_checkpoint(scrambled, source.dir)
        msg = _one_line(err)
        assert "2 model variables are not in it" in msg and "my_extra" in msg, msg
        # Nothing was assigned on failure.
        for v, old in zip(scrambled.variables, untouched, strict=True):
            np.testing.assert_array_equal(v.numpy(), old)

        summary = load_checkpoint(scrambled, source.dir, strict=False)
    assert summary.restored == len(scrambled.variables)
    assert len(summary.missing) == 2 and not summary.complete
    assert "missing from checkpoint: 2 variables:" in str(summary)


def test_unused_checkpoint_variable_is_a_mismatch(source, target, tmp_path):
    block = source.model.backbone.get_layer("block0_layer0")
    with _attached(block, "leftover", tf.Variable(np.zeros(3, "float32"))):
        prefix = tf.train.Checkpoint(model=source.model).save(str(tmp_path / "ckpt"))
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(target, prefix)
    msg = _one_line(err)
    assert "1 of its variables are unused" in msg and "leftover" in msg, msg
    summary = load_checkpoint(target, prefix, strict=False)
    assert summary.restored == len(target.variables)
    assert len(summary.unused) == 1 and "leftover" in summary.unused[0]


def test_summary_text_is_short_for_many_variables():
    kept = [
        f"viz_movinet/block{b}_layer0/_vizattn_tada/{leaf}"
        for b in range(8)
        for leaf in ("conv_a/kernel", "conv_a/bias", "norm/gamma", "norm/beta", "conv_b/kernel")
    ]
    missing = [f"movinet/block{b}/extra/{w}" for b in range(9) for w in ("kernel", "bias")]
    summary = RestoreSummary(
        source="a.tar.gz",
        prefix="a/ckpt-1",
        restored=389,
        kept_init=tuple(kept),
        missing=tuple(missing),
    )
    lines = str(summary).splitlines()
    assert lines[0] == "restored 389 variables from a.tar.gz (a/ckpt-1)"
    assert lines[1] == (
        "  kept init (vizattn modules): 40 variables in 8 modules: "
        + ", ".join(f"viz_movinet/block{b}_layer0/_vizattn_tada (5 variables)" for b in range(6))
        + ", ... (+2 more)"
    )
    assert lines[2].startswith("  missing from checkpoint: 18 variables: movinet/block0/extra/")
    assert lines[2].endswith("{kernel,bias}, ... (+3 more)")
    assert lines[3] == "  unused in checkpoint: none"
    assert not summary.complete
    assert repr(summary) == (
        "RestoreSummary(restored=389, kept_init=40, missing=18, unused=0, mismatched=0, "
        "format='checkpoint', source='a.tar.gz')"
    )


# -- mismatches ------------------------------------------------------------------


def test_other_num_classes_is_one_line_error(source, target, tmp_path):
    # Shares the source backbone, so only the classifier differs (no extra MoViNet build).
    other = _build(backbone=source.model.backbone, external_states=False, num_classes=7)
    prefix = tf.train.Checkpoint(model=other).save(str(tmp_path / "ckpt"))
    before = [v.numpy().copy() for v in target.variables]

    with pytest.raises(VizAttnError) as err:
        load_checkpoint(target, prefix)
    msg = _one_line(err)
    assert "[1, 1, 2048, 7] in the checkpoint but [1, 1, 2048, 600] in the model" in msg, msg
    assert "num_classes=7" in msg, msg
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(target.variables, before, strict=True))

    summary = load_checkpoint(target, prefix, strict=False)
    assert summary.restored == len(target.variables) - 2
    assert len(summary.mismatched) == 2 and all("_classifier" in m for m in summary.mismatched)
    assert "skipped, shape mismatch" in str(summary)


@pytest.mark.slow
def test_base_checkpoint_into_stream_model_is_one_line_error(target, tmp_path):
    from official.projects.movinet.modeling import movinet, movinet_model

    backbone = movinet.Movinet("a0", causal=False, conv_type="3d", se_type="3d", activation="swish")
    base = movinet_model.MovinetClassifier(backbone, num_classes=600)
    prefix = tf.train.Checkpoint(model=base).save(str(tmp_path / "movinet_a0_base" / "ckpt"))
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(target, tmp_path / "movinet_a0_base")
    msg = _one_line(err)
    assert "model variables are not in it" in msg and "variables are unused" in msg, msg
    assert "different model_id or base/stream variant" in msg, msg
    assert str(tmp_path / "movinet_a0_base") in msg
    assert prefix.endswith("ckpt-1")


def test_unrelated_checkpoint_matches_nothing(target, tiny):
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(target, tiny.dir)
    msg = _one_line(err)
    assert "none of its 2 variables matches" in msg, msg


# -- Keras weight files ------------------------------------------------------------


def test_keras_h5_round_trip(source, scrambled, clip, tmp_path):
    path = tmp_path / "a0_stream.weights.h5"
    source.model.save_weights(str(path))
    summary = load_checkpoint(scrambled, path)
    assert summary.format == "h5" and summary.restored == len(scrambled.variables)
    np.testing.assert_allclose(_logits(scrambled, clip), source.logits, atol=1e-5)


def test_keras_h5_with_other_architecture_is_one_line_error(tiny, tmp_path, target):
    path = tmp_path / "tiny.h5"
    tiny.saved.save_weights(str(path))
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(target, path)
    msg = _one_line(err)
    assert msg.startswith(f"Keras weight file {path} does not fit this model"), msg


def test_save_weights_prefix_is_matched_by_path(source, scrambled, clip, tmp_path):
    # Keras TF-format weights: the object graph is rooted at the model, not under `model/`.
    prefix = tmp_path / "tf_weights" / "weights"
    source.model.save_weights(str(prefix))
    summary = load_checkpoint(scrambled, prefix)
    assert summary.complete and summary.restored == len(scrambled.variables)
    np.testing.assert_allclose(_logits(scrambled, clip), source.logits, atol=1e-5)


def test_layer_index_shift_is_ignored_in_small_functional_models(tmp_path, monkeypatch):
    # Like a stream MoViNet with external states: one more Input shifts `layer-N`
    # by one, so the target's d1 is `layer-3`, which is the source's d2 (same
    # shape). Only skipping `layer-N` edges keeps the pairing right.
    def make(extra_input):
        x = tf_keras.Input((4,), name="x")
        s = tf_keras.Input((4,), name="s") if extra_input else x
        h = tf_keras.layers.Add()([x, s])
        y = tf_keras.layers.Dense(4, name="d2")(tf_keras.layers.Dense(4, name="d1")(h))
        return tf_keras.Model([x, s] if extra_input else x, y)

    src, dst = make(False), make(True)
    for i, v in enumerate(src.variables):
        v.assign(np.full(v.shape, i + 1.0, "float32"))
    prefix = tf.train.Checkpoint(model=src).save(str(tmp_path / "ckpt"))
    assert [layer.name for layer in dst.layers].index("d1") == 3
    assert [layer.name for layer in src.layers].index("d2") == 3
    summary = load_checkpoint(dst, prefix)
    assert summary.complete and summary.restored == 4
    for layer in ("d1", "d2"):
        for a, b in zip(src.get_layer(layer).weights, dst.get_layer(layer).weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())

    # Following `layer-N` edges too would pair d1 with both d1 and d2: refused.
    monkeypatch.setattr(checkpoints, "_SHIFTING_CHILD", checkpoints.re.compile("(?!)"))
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(dst, prefix)
    assert "d1/kernel matches several checkpoint variables" in _one_line(err)


# -- files and archives (tiny model) -----------------------------------------------


def test_tiny_round_trip_from_tgz(tiny, tmp_path):
    archive = tmp_path / "tiny.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny.dir, arcname="tiny")
    assert not _same_weights(tiny.model, tiny.saved)
    summary = load_checkpoint(tiny.model, archive)
    assert summary.restored == 2 and summary.prefix == "tiny/ckpt-1"
    assert _same_weights(tiny.model, tiny.saved)


def test_missing_path_is_one_line_error(tiny, tmp_path):
    missing = tmp_path / "nope" / "movinet_a0_stream.tar.gz"
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, missing)
    msg = _one_line(err)
    assert f"checkpoint {str(missing)!r} does not exist" in msg, msg


def test_unreadable_file_and_archive(tiny, tmp_path):
    junk = tmp_path / "weights.bin"
    junk.write_bytes(b"not weights")
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, junk)
    assert "cannot read" in _one_line(err)

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, broken)
    assert f"could not read archive {broken}" in _one_line(err)


def test_several_checkpoints_need_a_choice(tiny, tmp_path):
    folder = tmp_path / "two"
    ck = tf.train.Checkpoint(model=tiny.saved)
    ck.write(str(folder / "ckpt-1"))
    ck.write(str(folder / "ckpt-2"))
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, folder)
    msg = _one_line(err)
    assert "several checkpoints" in msg and "ckpt-1, ckpt-2" in msg, msg
    assert load_checkpoint(tiny.model, folder / "ckpt-2").restored == 2


def test_checkpoint_file_cannot_point_outside_its_directory(tiny, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    other = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3)])
    tf.train.Checkpoint(model=other).save(str(elsewhere / "ckpt"))
    (tiny.dir / "checkpoint").write_text('model_checkpoint_path: "../elsewhere/ckpt-1"\n')
    summary = load_checkpoint(tiny.model, tiny.dir)
    assert summary.prefix == str(tiny.dir / "ckpt-1")
    assert _same_weights(tiny.model, tiny.saved)


def _file(name):
    return tarfile.TarInfo(name)


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _device(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


@pytest.mark.parametrize(
    "members, bad, why",
    [
        ([(_file("ok/ckpt-1.index"), b"x"), (_file("../evil"), b"x")], "../evil", "'..'"),
        ([(_file("ok/a"), b"x"), (_file("ok/../../evil"), b"x")], "ok/../../evil", "'..'"),
        ([(_file("/tmp/evil"), b"x")], "/tmp/evil", "absolute path"),
        ([(_link("passwd", "/etc/passwd"), None)], "passwd", "absolute path"),
        ([(_link("up", "../../evil"), None)], "up", "outside the archive"),
        ([(_link("d/up", "../.."), None), (_file("d/up/evil"), b"x")], "d/up", "outside"),
        ([(_link("hard", "/etc/passwd", tarfile.LNKTYPE), None)], "hard", "absolute path"),
        ([(_link("hard", "../evil", tarfile.LNKTYPE), None)], "hard", "outside the archive"),
        ([(_device("null"), None)], "null", "device"),
    ],
)
def test_unsafe_archives_are_refused(members, bad, why, tiny, tmp_path, monkeypatch):
    work = tmp_path / "work" / "tmp"
    work.mkdir(parents=True)
    monkeypatch.setattr(checkpoints.tempfile, "tempdir", str(work))
    archive = _tar(tmp_path / "evil.tar.gz", members)
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, archive)
    msg = _one_line(err)
    assert msg.startswith(f"unsafe archive {archive}: member {bad!r}"), msg
    assert why in msg, msg
    # Nothing escaped, and the temporary directory is gone.
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["tmp"]
    assert list(work.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_archive_checks_do_not_reject_internal_links(tiny, tmp_path):
    archive = tmp_path / "linked.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny.dir, arcname="real")
        tar.addfile(_link("alias", "real/checkpoint"))
    summary = load_checkpoint(tiny.model, archive)
    assert summary.restored == 2 and summary.prefix == "real/ckpt-1"


# -- downloads ---------------------------------------------------------------------


def test_offline_url_is_one_line_error(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("VIZATTN_CACHE", str(tmp_path / "cache"))
    url = "http://127.0.0.1:9/movinet_a0_stream.tar.gz"  # discard port: refused at once
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, url)
    msg = _one_line(err)
    assert msg.startswith(f"could not download {url}: "), msg
    assert "pass the local file: checkpoint='movinet_a0_stream.tar.gz'." in msg, msg
    assert not any((tmp_path / "cache").iterdir())  # no partial file left


def _fake_urlopen(payload, *, calls, length=None):
    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(payload) if length is None else length)}

    def urlopen(url, timeout):
        calls.append((url, timeout))
        return Response(payload)

    return urlopen


def test_download_is_cached_and_reused(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("VIZATTN_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny.dir, arcname="tiny")
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", _fake_urlopen(archive.read_bytes(), calls=calls))
    url = "https://example.invalid/x/tiny.tar.gz"
    summary = load_checkpoint(tiny.model, url)
    assert summary.source == url and summary.restored == 2
    assert _same_weights(tiny.model, tiny.saved)
    cached = tmp_path / "cache" / "tiny.tar.gz"
    assert cached.read_bytes() == archive.read_bytes()
    assert sorted(os.listdir(tmp_path / "cache")) == ["tiny.tar.gz"]
    assert len(calls) == 1 and calls[0][1] == checkpoints.DOWNLOAD_TIMEOUT

    load_checkpoint(tiny.model, url)
    assert len(calls) == 1  # served from the cache


def test_truncated_download_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZATTN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", _fake_urlopen(b"abc", calls=[], length=10))
    with pytest.raises(VizAttnError) as err:
        checkpoints.download("https://example.invalid/w.tar.gz")
    assert "got 3 of 10 bytes" in _one_line(err)
    assert list((tmp_path / "cache").iterdir()) == []


def test_official_url_from_arguments_and_from_model(target, tiny, monkeypatch):
    assert checkpoints.official_url("A3", False) == (
        "https://storage.googleapis.com/tf_model_garden/vision/movinet/movinet_a3_base.tar.gz"
    )
    seen = []

    def fake_download(url):
        seen.append(url)
        raise VizAttnError("stop here.")

    monkeypatch.setattr(checkpoints, "download", fake_download)
    with pytest.raises(VizAttnError, match="stop here"):
        load_checkpoint(tiny.model, "official", model_id="a2", stream=True)
    with pytest.raises(VizAttnError, match="stop here"):
        load_checkpoint(target, "official")  # model_id and variant read from the model
    assert [u.rsplit("/", 1)[1] for u in seen] == [
        "movinet_a2_stream.tar.gz",
        "movinet_a0_stream.tar.gz",
    ]

    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, "official", model_id="a9", stream=True)
    assert "model_id 'a9'" in _one_line(err)
    with pytest.raises(VizAttnError) as err:
        load_checkpoint(tiny.model, "official")
    assert "needs model_id and stream" in _one_line(err)
