"""``vizattn render`` end to end: outputs checked through PyAV, bad input, atomic writes.

Renders use one randomized A0 stream model with SimAM (the session's ``movinet``
fixture) at a small model resolution (``--resolution 32``) on tiny generated
videos. Command-line tests hand that model to the CLI by replacing its one
model loader (``cli._load``), so every render reuses one build and one trace;
the checks that must come before any model are tested with the real loader.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from vizattn import cli, rendering
from vizattn.errors import VizAttnError
from vizattn.hooks import capture
from vizattn.models import as_clip
from vizattn.video import VideoWriter, probe

SMALL = ["--resolution", "32", "--chunk", "4", "-q", "--checkpoint", "random"]


def _make_video(path, *, frames=6, size=(48, 64), fps=25, times=None, audio=False, rotate=None):
    """Writes a small H.264 (or per-extension) test video with PyAV directly."""
    h, w = size
    rng = np.random.default_rng(0)
    if audio or rotate is not None or times is not None:
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=fps)
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            if times is not None:
                s.codec_context.time_base = Fraction(1, 1000)
                s.time_base = Fraction(1, 1000)
            if rotate is not None:
                s.set_display_rotation(rotate)
            a = c.add_stream("aac", rate=16000) if audio else None
            for i in range(frames):
                img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                if times is not None:
                    f.pts = int(times[i] * 1000)
                    f.time_base = Fraction(1, 1000)
                for p in s.encode(f):
                    c.mux(p)
                if a is not None:
                    af = av.AudioFrame.from_ndarray(
                        np.zeros((1, 640), np.float32), format="fltp", layout="mono"
                    )
                    af.sample_rate = 16000
                    af.pts = i * 640
                    for p in a.encode(af):
                        c.mux(p)
            for p in s.encode():
                c.mux(p)
            if a is not None:
                for p in a.encode():
                    c.mux(p)
        return path
    with VideoWriter(path, fps=fps) as wr:
        for _ in range(frames):
            wr.write(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    return path


def _read(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f for f in c.decode(s)]
        return {
            "codec": s.codec_context.name,
            "pix_fmt": s.codec_context.pix_fmt,
            "rate": s.average_rate,
            "count": len(frames),
            "size": (frames[0].height, frames[0].width),
            "times": [float(f.time) for f in frames],
        }


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return _make_video(tmp_path_factory.mktemp("in") / "clip.mp4", frames=6, size=(48, 64))


@pytest.fixture()
def model(movinet, monkeypatch):
    """The shared randomized A0 + SimAM model, also what the CLI loads in these tests."""
    m = movinet(simam="frame")
    monkeypatch.setattr(cli, "_load", lambda args, say: m)
    return m


def test_render_mp4_matches_input(video, model, capsys):
    """Frame count, size, frame rate, codec and pixel format of the default output."""
    code, out, err = _run(["render", str(video), "--layer", "block3", *SMALL], capsys)
    assert code == 0, err
    output = video.parent / "clip_block3_simam.mp4"
    assert output.exists() and f"wrote {output}" in out
    assert "processing speed" in out
    got, src = _read(output), _read(video)
    assert got["codec"] == "h264" and got["pix_fmt"] == "yuv420p"
    assert got["count"] == src["count"] == 6
    assert got["rate"] == src["rate"] == 25
    h, w = got["size"]
    assert w == src["size"][1] and h > src["size"][0]  # the frame plus caption and colour bar
    with av.open(str(output)) as a, av.open(str(video)) as b:
        fa = next(a.decode(video=0)).to_ndarray(format="rgb24").astype(int)
        fb = next(b.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(fa[: fb.shape[0]] - fb).mean() > 5  # the heatmap really is overlaid


@pytest.mark.parametrize("eager", [False, True], ids=["traced", "eager"])
def test_render_maps_equal_capture_frame_maps(video, model, eager):
    """What render draws is exactly ``capture(...).frame_maps(...)`` of the same frames,
    streamed in chunks with states carried, for every kind, Grad-CAM included; running
    the model eagerly (short videos) gives the same maps as the traced function."""
    kinds = ["simam", "activation", "gradcam"]
    frames, maps, probs = [], {k: [] for k in kinds}, []
    for batch, chunk_maps, chunk_probs in rendering.map_stream(
        model,
        str(video),
        names="block3",
        kinds=kinds,
        chunk=6 if eager else 4,  # eager renders take long chunks (rendering.eager_chunk)
        size=(64, 64),
        predictions=True,
        eager=eager,
    ):
        frames += [f.image for f in batch]
        for k in kinds:
            maps[k].append(chunk_maps[("block3", k)])
        probs.append(chunk_probs)
    clip = as_clip(np.stack(frames), size=(64, 64))
    cache = capture(
        model,
        clip,
        names=["block3", "classifier_head"],
        kinds=[*kinds, "logits"],
        stream=True,
        chunk=1,
        reduce="mean",
    )
    for k in kinds:
        expected = cache.frame_maps("block3", k, normalize=None)[0]
        got = np.concatenate(maps[k])
        assert got.shape == expected.shape == (6, 4, 4)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(np.concatenate(probs), cache.probabilities()[0], atol=1e-5)


def test_eager_renders_take_long_chunks_and_long_renders_trace():
    """A short render runs untraced in as few calls as the pixel budget allows; a long
    one, or stream gradients over more than a few frames, is traced in ``chunk``s."""
    small, large = (96, 96), (172, 306)
    frames = rendering.EAGER_PIXELS // (96 * 96)
    assert frames >= 100
    assert rendering.eager_chunk(100, 16, ["simam"], small) == 100  # one call
    assert rendering.eager_chunk(frames * rendering.EAGER_CALLS, 16, ["simam"], small) == frames
    assert rendering.eager_chunk(frames * rendering.EAGER_CALLS + 1, 16, ["simam"], small) is None
    # Balanced calls: one frame past a full call gives two calls of half the frames.
    assert rendering.eager_chunk(frames + 1, 16, ["simam"], small) == frames // 2 + 1
    for total in range(1, frames * rendering.EAGER_CALLS + 1, 37):
        per_call = rendering.eager_chunk(total, 16, ["simam"], small)
        calls = -(-total // per_call)
        assert per_call <= frames and calls == -(-total // frames)  # fewest calls...
        assert total - (calls - 1) * per_call >= per_call - calls  # ...no short last one
    few = max(16, rendering.EAGER_PIXELS // (172 * 306))  # fewer frames per call when large
    limit = rendering.EAGER_CALLS * rendering.EAGER_PIXELS // (172 * 306)  # frames, large
    assert rendering.eager_chunk(limit, 16, ["simam"], large) <= few < 100
    assert rendering.eager_chunk(limit + 1, 16, ["simam"], large) is None
    assert rendering.eager_chunk(8, 16, ["simam"], (720, 1280)) == 8  # one call
    # A long --chunk does not make a long video eager: the pixels decide.
    assert rendering.eager_chunk(250, 32, ["simam"], large) is None
    assert rendering.eager_chunk(200, 64, ["simam"], small) == 100
    assert rendering.eager_chunk(300, 200, ["simam"], small) == 150  # --chunk 200: 2 calls
    assert rendering.eager_chunk(rendering.EAGER_CALLS, 16, ["gradcam"], small) == 16
    assert rendering.eager_chunk(rendering.EAGER_CALLS + 1, 16, ["gradcam"], small) is None
    assert rendering.eager_chunk(None, 16, ["simam"], small) is None  # unknown length


@pytest.mark.parametrize("suffix", [".webm", ".gif", ""])
def test_render_other_formats(video, model, tmp_path, capsys, suffix):
    out = tmp_path / f"out{suffix}"
    code, _, err = _run(
        ["render", str(video), "--layer", "block3", "-o", str(out), "--normalize", "frame", *SMALL],
        capsys,
    )
    assert code == 0, err
    if suffix == "":
        pngs = sorted(p.name for p in out.iterdir())
        assert len(pngs) == 6 and all(p.endswith(".png") for p in pngs)
    else:
        got = _read(out)
        assert got["count"] == 6
        assert got["codec"] == {".webm": "vp9", ".gif": "gif"}[suffix]


def test_render_odd_size_rotation_audio_kept(tmp_path, model, capsys):
    """Odd sizes are rounded for H.264, rotation is honored, the audio is kept."""
    src = _make_video(tmp_path / "rot.mp4", frames=5, size=(40, 64), audio=True, rotate=90)
    info = probe(src)
    assert (info.height, info.width) == (64, 40)  # upright after rotation
    out = tmp_path / "rot_out.mp4"
    code, _, err = _run(["render", str(src), "--layer", "block2", "-o", str(out), *SMALL], capsys)
    assert code == 0, err
    got = _read(out)
    assert got["size"][1] == 40 and got["count"] == 5
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1  # remuxed, not dropped

    odd = _make_video(tmp_path / "odd.webm", frames=4, size=(45, 63))
    out2 = tmp_path / "odd_out.mp4"
    code, _, err = _run(
        ["render", str(odd), "--layer", "stem", "--kind", "activation", "-o", str(out2), *SMALL],
        capsys,
    )
    assert code == 0, err
    got = _read(out2)
    assert got["size"][1] == 64 and got["size"][0] % 2 == 0 and got["count"] == 4


def test_render_audio_dropped_is_said(tmp_path, model, capsys):
    src = _make_video(tmp_path / "a.mp4", frames=4, size=(48, 64), audio=True)
    out = tmp_path / "a.gif"
    loud = [a for a in SMALL if a != "-q"]
    code, _, err = _run(["render", str(src), "--layer", "block3", "-o", str(out), *loud], capsys)
    assert code == 0, err
    assert "audio dropped" in err


def test_render_variable_frame_rate_keeps_timing(tmp_path, model, capsys):
    times = [0.0, 0.04, 0.10, 0.12, 0.30, 0.34]
    src = _make_video(tmp_path / "vfr.mp4", frames=6, times=times)
    out = tmp_path / "vfr_out.mp4"
    code, _, err = _run(["render", str(src), "--layer", "block3", "-o", str(out), *SMALL], capsys)
    assert code == 0, err
    got, ref = _read(out), _read(src)
    assert got["count"] == 6
    np.testing.assert_allclose(got["times"], ref["times"], atol=0.011)


def test_render_range_grid_side_by_side_and_predictions(video, model, tmp_path, capsys):
    out = tmp_path / "grid.mp4"
    argv = ["render", str(video), "--layer", "block2,block3", "--kind", "simam,activation"]
    argv += ["--layout", "grid", "--predictions", "--max-frames", "4", "-o", str(out), *SMALL]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    got = _read(out)
    assert got["count"] == 4
    h, w = got["size"]
    assert h > 48 and w > 64  # a grid of tiles plus the prediction strip
    side = tmp_path / "side.mp4"
    argv = ["render", str(video), "--layout", "side-by-side", "-o", str(side), *SMALL]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    assert _read(side)["size"][1] >= 2 * 64  # frame | raw map


def test_gradient_kinds_scale_each_frame_unless_told(video, model, tmp_path, monkeypatch):
    """A stream's first steps have far larger gradients, so one scale per clip would leave
    later Grad-CAM frames black: gradient kinds default to one scale per frame, other
    kinds to one per clip (each on its own in a grid that mixes them); an explicit
    normalize wins. Per clip needs every map
    before the first frame is coloured (two passes); per frame runs two passes too while
    the frames fit in memory (quicker), else one."""

    def run(kind, normalize=None):
        result = rendering.render(
            str(video), model=model, kind=kind, normalize=normalize, progress=False,
            output=str(tmp_path / f"{'_'.join(kind)}_{normalize}.mp4"), on_message=lambda m: None,
        )  # fmt: skip
        return result.normalize, result.passes

    assert run(["gradcam"]) == ("frame", 2)
    assert run(["grad_x_act"]) == ("frame", 2)
    assert run(["simam"]) == ("clip", 2)
    assert run(["simam", "gradcam"]) == ("auto", 2)  # each kind on its own scale
    assert run(["gradcam"], "clip") == ("clip", 2)
    assert run(["simam"], "frame") == ("frame", 2)
    assert run(["gradcam"], "auto") == ("frame", 2)
    # Per frame, the composed frames must fit, not the input's: in just the bytes of the
    # overlay's output frames (the frame, a caption and a colour bar), a grid's do not.
    out = probe(str(tmp_path / "simam_frame.mp4"))
    assert (out.height, out.width) != (probe(str(video)).height, probe(str(video)).width)
    monkeypatch.setattr(
        rendering, "KEEP_FRAMES_BYTES", out.frame_count * out.width * out.height * 3 // 2
    )
    assert run(["simam"], "frame") == ("frame", 2)
    assert run(["simam", "activation"], "frame") == ("frame", 1)
    monkeypatch.setattr(rendering, "KEEP_FRAMES_BYTES", 0)
    assert run(["simam"], "frame") == ("frame", 1)
    assert run(["simam"], "clip") == ("clip", 2)  # decodes the video again


def _producers() -> list[str]:
    """Live threads of vizattn._threads.threaded (decoding, preparing chunks...)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("vizattn-threaded")]


@pytest.mark.parametrize("how", ["error", "consumer stops"])
def test_a_stopped_stream_ends_its_threads_before_it_closes_the_video(model, tmp_path, how):
    """Decoding runs in a thread: closing the video while it decodes crashed the process
    (segmentation fault, 9 renders in 11 with ``--kind gradcam --class nope``). Whatever
    stops the stream, its threads end before the video is closed and the call returns."""
    long = _make_video(tmp_path / "long.mp4", frames=90, size=(48, 64))
    assert _producers() == []
    if how == "error":
        with pytest.raises(VizAttnError, match="unknown class 'nope'"):
            for _ in rendering.map_stream(
                model, str(long), names="block3", kinds="gradcam", chunk=2, class_index="nope"
            ):
                pass
            raise AssertionError("no error")
        assert _producers() == []  # checked while the traceback still holds every frame
    else:
        stream = rendering.map_stream(model, str(long), names="block3", chunk=2)
        frames, _, _ = next(stream)
        assert len(frames) == 2
        assert _producers()  # decoding ahead
        stream.close()
        assert _producers() == []


@pytest.mark.parametrize(
    "normalize, keep", [("clip", True), ("clip", False), ("frame", False)]
)  # two passes with the frames kept, two passes decoding again, one pass
def test_a_render_that_fails_midway_ends_its_threads_and_leaves_nothing(
    model, tmp_path, monkeypatch, normalize, keep
):
    from vizattn import video as vid

    long = _make_video(tmp_path / "long.mp4", frames=90, size=(48, 64))
    if not keep:
        monkeypatch.setattr(rendering, "KEEP_FRAMES_BYTES", 0)
    real_write, written = vid.VideoWriter.write, []

    def failing_write(self, *args, **kwargs):
        if len(written) == 3:
            raise KeyboardInterrupt  # Ctrl-C while encoding
        written.append(1)
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(vid.VideoWriter, "write", failing_write)
    out = tmp_path / "out" / "r.mp4"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        rendering.render(
            str(long), model=model, output=str(out), normalize=normalize, chunk=2,
            progress=False, on_message=lambda m: None,
        )  # fmt: skip
    assert _producers() == []
    assert os.listdir(out.parent) == []


# -- bad input --------------------------------------------------------------------


def _assert_clean_failure(code, err, directory, before):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("vizattn: ")
             or line.startswith("vizattn: error: ")]  # fmt: skip
    errors = [line for line in lines if line.startswith("vizattn: error: ")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    assert sorted(os.listdir(directory)) == before, "partial or temporary output left behind"


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not_video",
        "empty",
        "unknown_layer",
        "unknown_kind",
        "kind_without_maps",
        "output_is_input",
        "unwritable",
        "proc",
        "unsupported_ext",
        "missing_checkpoint",
        "bad_colormap",
        "bad_preset",
        "bad_alpha",
        "no_simam_at_layer",
        "start_after_end",
        "negative_start",
        "start_past_the_video",
        "max_frames_0",
        "chunk_0",
        "fps_0",
        "fps_negative",
        "resolution_too_small",
        "negative_seed",
        "labels_missing",
        "labels_binary",
        "labels_wrong_count",
        "base_model",
        "unknown_class",
        "class_out_of_range",
        "demo_model_variant",
    ],
)
def test_bad_input_one_line_exit_2_before_any_model(tmp_path, capsys, case, video, monkeypatch):
    """Every check that needs no model fails fast, in one line, before a model is built."""

    def no_model(args, say):
        raise AssertionError("a model was built before the input checks")

    monkeypatch.setattr(cli, "_load", no_model)
    work = tmp_path / "w"
    work.mkdir()
    src = work / "in.mp4"
    src.write_bytes(video.read_bytes())
    args = ["render", str(src), "--layer", "block3", *SMALL]
    if case == "missing":
        args[1] = str(work / "nope.mp4")
    elif case == "not_video":
        (work / "notes.mp4").write_text("hello, not a video\n")
        args[1] = str(work / "notes.mp4")
    elif case == "empty":
        (work / "empty.mp4").write_bytes(b"")
        args[1] = str(work / "empty.mp4")
    elif case == "unknown_layer":
        args[3] = "blok3"
    elif case == "unknown_kind":
        args += ["--kind", "attention"]
    elif case == "kind_without_maps":
        args += ["--kind", "se"]
    elif case == "output_is_input":
        args += ["-o", str(src)]
    elif case == "unwritable":
        args += ["-o", str(work / "no" / "such" / "dir" / "out.mp4")]
    elif case == "proc":
        args += ["-o", "/proc/x.mp4"]
    elif case == "unsupported_ext":
        args += ["-o", str(work / "x.avi")]
    elif case == "missing_checkpoint":
        args[-1] = str(work / "no_such.tflite")
    elif case == "bad_colormap":
        args += ["--colormap", "not-a-map"]
    elif case == "bad_preset":
        args += ["--preset", "superfst"]
    elif case == "bad_alpha":
        args += ["--alpha", "50"]
    elif case == "no_simam_at_layer":
        args[3] = "stem"  # SimAM sits after the projections by default, not after the stem
    elif case == "start_after_end":
        args += ["--start", "0.2", "--end", "0.1"]
    elif case == "negative_start":
        args += ["--start", "-1"]
    elif case == "start_past_the_video":
        args += ["--start", "5"]  # the clip lasts 0.24 s
    elif case == "max_frames_0":
        args += ["--max-frames", "0"]
    elif case == "chunk_0":
        args += ["--chunk", "0"]
    elif case == "fps_0":
        args += ["--fps", "0"]
    elif case == "fps_negative":
        args += ["--fps", "-5"]
    elif case == "resolution_too_small":
        args += ["--resolution", "1"]
    elif case == "negative_seed":
        args += ["--seed", "-1"]
    elif case == "labels_missing":
        args += ["--predictions", "--labels", str(work / "nope.txt")]
    elif case == "labels_binary":
        args += ["--predictions", "--labels", str(src)]
    elif case == "labels_wrong_count":  # random weights: 600 classes
        (work / "three.txt").write_text("a\nb\nc\n")
        args += ["--predictions", "--labels", str(work / "three.txt")]
    elif case == "base_model":
        args += ["--base"]
    elif case == "unknown_class":
        args += ["--kind", "gradcam", "--class", "carving ise"]
    elif case == "class_out_of_range":
        args += ["--kind", "gradcam", "--class", "600"]
    elif case == "demo_model_variant":
        args[-1] = "demo"
        args += ["--model", "a2"]
    before = sorted(os.listdir(work))
    data = src.read_bytes()
    code, _, err = _run(args, capsys)
    _assert_clean_failure(code, err, work, before)
    assert src.read_bytes() == data  # the input is never modified
    if case == "unknown_layer":
        assert "block3" in err  # suggests the closest names
    if case == "proc":
        assert ".tmp" not in err and "/proc" in err
    if case == "bad_preset":
        assert "did you mean 'superfast'" in err
    if case == "kind_without_maps":
        assert "has no map per frame" in err
    if case == "bad_alpha":
        assert "alpha must be between 0 and 1" in err
    expected = {  # the flag the user typed, and the way out
        "start_after_end": "--start 0.2 is not before --end 0.1",
        "negative_start": "--start -1",
        "start_past_the_video": "past the end",
        "max_frames_0": "--max-frames 1 or more",
        "chunk_0": "--chunk 0",
        "fps_0": "--fps 0 is not a frame rate",
        "fps_negative": "--fps -5 is not a frame rate",
        "resolution_too_small": "--resolution 32 or more",
        "negative_seed": "--seed -1 is not a seed",
        "labels_missing": "nope.txt",
        "labels_binary": "not a text file of class names",
        "labels_wrong_count": "has 3 names but the model has 600 classes",
        "base_model": "drop --base",
        "unknown_class": "did you mean 'carving ice'",
        "class_out_of_range": "class index 600 is out of range",
        "demo_model_variant": "--model a2 cannot apply; pass --checkpoint random",
    }.get(case)
    if expected:
        assert expected in err
        assert "tracing" not in err
        assert not re.search(r"\w=", err.split("error: ", 1)[1]), "names an API argument"


def test_render_checks_the_look_before_reading_the_video(tmp_path):
    """render() (the API: no argparse choices) rejects a bad layout, alpha or colormap
    with Composer's own message, before it opens the video or builds a model."""
    missing = str(tmp_path / "nope.mp4")
    for look, expected in [
        ({"layout": "side_by_side"}, "did you mean 'side-by-side'"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"colormap": "infern"}, "did you mean 'inferno'"),
    ]:
        with pytest.raises(VizAttnError, match=expected):
            rendering.render(missing, progress=False, **look)


def _x264_subme(path) -> int:
    """The motion-estimation level x264 wrote into the stream's settings (its SEI text):
    0 for ultrafast, 1 superfast, 2 veryfast, ..."""
    text = path.read_bytes()
    start = text.index(b"x264 - core")
    settings = text[start : text.index(b"\x00", start)].decode("ascii", "replace")
    return int(settings.split("subme=")[1].split()[0])


def test_the_preset_reaches_the_encoder(video, model, capsys, tmp_path):
    """Render encodes with vizattn.video.DEFAULT_PRESET unless --preset names another, and
    the CLI's help names the default (it cannot import vizattn.video: --help stays light)."""
    from vizattn.video import DEFAULT_PRESET

    levels = {"ultrafast": 0, "superfast": 1, "veryfast": 2}
    for preset in (None, "veryfast", "ultrafast"):
        out = tmp_path / f"{preset}.mp4"
        argv = ["render", str(video), "--layer", "block3", "-o", str(out), *SMALL]
        code, _, err = _run([*argv, "--preset", preset] if preset else argv, capsys)
        assert code == 0, err
        assert _x264_subme(out) == levels[preset or DEFAULT_PRESET]
    assert f"default {DEFAULT_PRESET}" in cli._parser().format_help() + "".join(
        sub.format_help() for sub in cli._parser()._subparsers._group_actions[0].choices.values()
    )


def test_truncated_file_fails_cleanly_or_renders_with_flag(tmp_path, model, capsys):
    src = _make_video(tmp_path / "long.mp4", frames=40, size=(48, 64))
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    before = sorted(os.listdir(tmp_path))
    code, _, err = _run(["render", str(cut), "--layer", "block3", *SMALL], capsys)
    _assert_clean_failure(code, err, tmp_path, before)
    assert "truncated" in err
    if "--allow-truncated" not in err:  # the index is lost: nothing can be located
        return
    out = tmp_path / "cut_out.mp4"
    code, _, err = _run(
        ["render", str(cut), "--allow-truncated", "-o", str(out), *[a for a in SMALL if a != "-q"]],
        capsys,
    )
    assert code == 0, err
    assert "truncated" in err
    assert 0 < _read(out)["count"] < 40


def test_failure_midway_leaves_no_partial_output(video, model, tmp_path, monkeypatch, capsys):
    """Ctrl-C during rendering leaves neither the output nor a temporary file."""
    original = rendering.map_stream

    def flaky(*args, **kwargs):
        for i, item in enumerate(original(*args, **kwargs)):
            if i == 1:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(rendering, "map_stream", flaky)
    monkeypatch.setattr(rendering, "EAGER_PIXELS", 0)  # model calls of --chunk frames
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    out = out_dir / "x.mp4"
    argv = ["render", str(video), "-o", str(out), "--normalize", "frame", *SMALL]
    code = cli.main([*argv, "--chunk", "2"])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err
    assert os.listdir(out_dir) == []


def test_existing_output_survives_a_failed_render(video, tmp_path, capsys):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"precious")
    code, _, err = _run(["render", str(video), "--layer", "blok3", "-o", str(out), *SMALL], capsys)
    assert code == 2
    assert out.read_bytes() == b"precious"


# -- CLI hygiene -----------------------------------------------------------------


def test_help_does_not_import_tensorflow():
    """``--help`` stays fast because nothing heavy is imported (checked, not timed)."""
    code = (
        "import sys; from vizattn import cli\n"
        "for argv in (['--help'], ['render', '--help'], ['predict', '--help']):\n"
        "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
        "bad = [m for m in ('tensorflow', 'tf_keras', 'av', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', bad)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in res.stdout
    assert "render" in res.stdout and "--layer" in res.stdout


def test_every_command_shares_the_model_options():
    parser = cli._parser()
    actions = parser._subparsers._group_actions[0].choices
    model_flags = {"--checkpoint", "--model", "--simam", "--simam-position", "--tada", "--base"}
    for name in ("render", "predict", "evaluate", "check-causal", "layers", "batch"):
        flags = {s for a in actions[name]._actions for s in a.option_strings}
        assert model_flags <= flags, name
        defaults = {a.dest: a.default for a in actions[name]._actions if a.dest in (
            "checkpoint", "model", "simam", "simam_position", "tada", "base")}  # fmt: skip
        assert defaults == {
            "checkpoint": None, "model": None, "simam": None, "simam_position": None,
            "tada": None, "base": False,
        }, name  # fmt: skip


def test_real_cli_error_has_no_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "vizattn.cli", "render", str(tmp_path / "missing.mp4")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "missing.mp4" in res.stderr
    res_v = subprocess.run(
        [sys.executable, "-m", "vizattn.cli", "render", str(tmp_path / "missing.mp4"), "-v"],
        capture_output=True,
        text=True,
    )
    assert res_v.returncode == 2 and "Traceback" in res_v.stderr


def test_a_base_model_prints_no_native_log_lines():
    """Model Garden's base MoViNets compile their 3D convolutions with XLA, whose C++
    logging printed two lines ("All log messages before absl::InitializeLog() ...",
    "Compiled cluster using XLA!") whatever TF_CPP_MIN_LOG_LEVEL said. A fresh process,
    as a user runs it: with -q, nothing at all on stderr."""
    argv = ["layers", "--checkpoint", "random", "--base", "--resolution", "32", "--frames", "2"]
    res = subprocess.run(
        [sys.executable, "-m", "vizattn.cli", *argv, "-q"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "block3_layer1/activation" in res.stdout


def test_layers_command_lists_hooks(model, capsys):
    code, out, err = _run(
        ["layers", "--resolution", "32", "--frames", "2", "--checkpoint", "random"], capsys
    )
    assert code == 0, err
    assert "block3_layer1/simam" in out and "block0_layer0/se" in out
    assert "classifier_head/logits" in out


def test_package_attributes_are_functions_and_modules():
    """Module names differ from the functions they export, whatever the import order."""
    import vizattn
    from vizattn import hooks  # noqa: F401 - import the module first on purpose

    assert callable(vizattn.capture) and callable(vizattn.render)
    assert vizattn.capture is vizattn.hooks.capture
    assert vizattn.layers.CausalSimAM and vizattn.names.endpoint_names("a0")


@pytest.mark.parametrize("size, ok", [("96", (96, 96)), ("96x128", (96, 128)), ("abc", None)])
def test_batch_size_option_is_checked_by_the_parser(size, ok, capsys):
    code = cli.main(["batch", "videos/*.mp4", "--out", "out", "--size", size, "--help"])
    if ok is None:
        assert code == 2 and "is not a size" in capsys.readouterr().err
    else:
        assert code == 0 and cli._size_arg(size) == ok


def test_progress_bar_only_for_work_that_lasts(capsys, monkeypatch):
    """Work done at once prints no bar (it printed one at start and one at close)."""
    bars = rendering._Progress(True, print)
    bars.start("pass 1/2: model", 100, done=100)
    bars.close()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(rendering, "BAR_DELAY", 0.05)
    bars.start("pass 2/2: overlay + encode", 100)
    time.sleep(0.3)
    bars.update(100)
    bars.close()
    assert "pass 2/2: overlay + encode" in capsys.readouterr().err


def test_the_schedule_does_not_change_a_pixel(video, model, tmp_path, monkeypatch):
    """Per-frame scaling runs in two passes (bases drawn beside the model, kept, painted
    after) or, when the frames would not fit in memory, in one: the encoder gets the
    same frames, predictions strip included."""
    from vizattn.video import VideoWriter

    encoded: list = []
    write = VideoWriter.write

    def recording(self, image, time=None):
        encoded.append([p.copy() for p in self.planes(image)])
        return write(self, image, time)

    monkeypatch.setattr(VideoWriter, "write", recording)

    def run(name):
        encoded.clear()
        result = rendering.render(
            str(video), model=model, output=str(tmp_path / name), normalize="frame",
            predictions=True, resolution=32, chunk=4, progress=False, on_message=lambda m: None,
        )  # fmt: skip
        return result.passes, [list(planes) for planes in encoded]

    passes, two = run("two.mp4")
    monkeypatch.setattr(rendering, "KEEP_FRAMES_BYTES", 0)
    passes_one, one = run("one.mp4")
    assert (passes, passes_one) == (2, 1) and len(two) == len(one) == 6
    for a, b in zip(two, one, strict=True):
        for pa, pb in zip(a, b, strict=True):
            np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("normalize", ["clip", "clip-decoded-again", "frame", "frame-one-pass"])
def test_render_paints_maps_on_the_encoders_yuv_as_on_rgb(
    video, model, tmp_path, monkeypatch, normalize
):
    """Render paints the maps on the encoder's YUV frames (``Composer.paint_yuv``, so
    that everything else is drawn beside the model); forced onto the RGB path, the
    same render hands the encoder the same frames up to rounding. Also when pass 1's
    frames do not fit in memory: pass 2 decodes the video again, or a per-frame
    render runs in one pass."""
    if normalize in ("clip-decoded-again", "frame-one-pass"):
        monkeypatch.setattr(rendering, "KEEP_FRAMES_BYTES", 0)
        normalize = normalize.split("-")[0]
    from vizattn import overlay as ov
    from vizattn.video import VideoWriter

    painted, encoded = [], []
    paint_yuv, write = ov.Composer.paint_yuv, VideoWriter.write

    def counting(self, *args, **kwargs):
        painted.append(1)
        return paint_yuv(self, *args, **kwargs)

    def recording(self, image, time=None):
        encoded.append([p.copy() for p in self.planes(image)])
        return write(self, image, time)

    def run(name):
        encoded.clear()
        rendering.render(
            str(video), model=model, output=str(tmp_path / name), normalize=normalize,
            resolution=32, chunk=4, progress=False, on_message=lambda m: None,
        )  # fmt: skip
        return [list(planes) for planes in encoded]

    monkeypatch.setattr(ov.Composer, "paint_yuv", counting)
    monkeypatch.setattr(VideoWriter, "write", recording)
    yuv = run("yuv.mp4")
    assert len(painted) == len(yuv) == 6
    monkeypatch.setattr(ov.Composer, "yuv_ready", property(lambda self: False))
    rgb = run("rgb.mp4")
    assert len(painted) == 6 and len(rgb) == 6
    for got, expected in zip(yuv, rgb, strict=True):
        assert np.abs(got[0].astype(int) - expected[0]).max() <= 1
        for k in (1, 2):
            assert np.abs(got[k].astype(int) - expected[k]).mean() < 1.0
