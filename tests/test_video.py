"""Tests for vizattn.video: probing, streaming reads, atomic writes, bad input."""

from __future__ import annotations

import os
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vizattn import video as video_module
from vizattn.errors import VizAttnError
from vizattn.video import (
    VideoReader,
    VideoWriter,
    check_output_path,
    iter_frames,
    probe,
    read_all,
    write_video,
)

# --------------------------------------------------------------------------- helpers


def pattern(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames of flat colour blocks that change every frame (easy to compress, easy to check)."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t, : height // 2, : width // 2] = (200, 30 + 10 * t % 200, 40)
        frames[t, : height // 2, width // 2 :] = (20, 180, 90)
        frames[t, height // 2 :, :] = (40, 60, (230 - 12 * t) % 256)
    return frames


def encode_with_pyav(
    path: Path,
    frames: np.ndarray,
    *,
    fps: int = 25,
    times: list[float] | None = None,
    rotation: float | None = None,
    audio: bool = False,
    faststart: bool = False,
) -> Path:
    """Write a test input with PyAV directly (independent of VideoWriter)."""
    options = {"movflags": "+faststart"} if faststart else {}
    tb = Fraction(1, 90000)
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = tb
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream("aac", rate=44100)
            sound.layout = "mono"
        sample = 0
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            t = times[i] if times is not None else i / fps
            frame.pts = round(t / tb)
            frame.time_base = tb
            for packet in stream.encode(frame):
                container.mux(packet)
            while audio and sample < (t + 1 / fps) * 44100:
                # A rising tone: every packet differs, so copies can be matched to sources.
                n = np.arange(sample, sample + 1024) / 44100
                tone = (0.3 * np.sin(2 * np.pi * (220 + 200 * n) * n)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
                chunk.sample_rate = 44100
                chunk.pts = sample
                for packet in sound.encode(chunk):
                    container.mux(packet)
                sample += 1024
        for packet in stream.encode():
            container.mux(packet)
        if audio:
            for packet in sound.encode():
                container.mux(packet)
    return path


def assert_one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert message.endswith(".")
    return message


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "tolerance"),
    [
        ("clip.mp4", "h264", "yuv420p", 6.0),
        ("clip.webm", "vp9", "yuv420p", 6.0),
        ("clip.gif", "gif", None, 6.0),
    ],
)
def test_round_trip_video_files(tmp_path, name, codec, pix_fmt, tolerance):
    frames = pattern(12)
    out = write_video(tmp_path / name, frames, fps=10)
    assert out == tmp_path / name
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.name == codec
        if pix_fmt:
            assert stream.codec_context.pix_fmt == pix_fmt
        assert stream.average_rate == 10
    assert len(decoded) == 12
    assert decoded[0].shape == (48, 64, 3)
    error = np.abs(np.stack(decoded).astype(int) - frames).mean()
    assert error < tolerance
    info = probe(out)
    assert (info.width, info.height, info.fps, info.codec) == (64, 48, Fraction(10), codec)
    assert info.frame_count == 12


def test_round_trip_png_folder(tmp_path):
    from PIL import Image

    frames = pattern(5)
    out = write_video(tmp_path / "frames", frames, fps=10)
    names = sorted(os.listdir(out))
    assert names == [f"frame_{i:06d}.png" for i in range(5)]
    back = np.stack([np.asarray(Image.open(out / n).convert("RGB")) for n in names])
    np.testing.assert_array_equal(back, frames)
    # A path ending in "/" is a folder too, and an existing frames folder is replaced whole.
    write_video(f"{tmp_path / 'frames'}/", frames[:2], fps=10)
    assert sorted(os.listdir(out)) == names[:2]


def test_reader_matches_writer_and_counts_frames(tmp_path):
    frames = pattern(20)
    path = write_video(tmp_path / "a.mp4", frames, fps=25)
    with VideoReader(path) as reader:
        got = list(reader)
    assert [f.index for f in got] == list(range(20))
    assert [round(f.time, 3) for f in got] == [round(i / 25, 3) for i in range(20)]
    assert np.abs(np.stack([f.image for f in got]).astype(int) - frames).mean() < 6
    assert not reader.truncated and reader.truncated_reason is None
    array, info = read_all(path)
    assert array.shape == (20, 48, 64, 3) and array.dtype == np.uint8
    assert info.frame_count == 20 and info.variable_frame_rate is False


def test_mp4_is_faststart_and_tagged_bt709(tmp_path):
    path = write_video(tmp_path / "a.mp4", pattern(3), fps=25)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    assert int(frame.colorspace) == 1  # BT.709


def test_odd_size_mp4_is_padded_to_even(tmp_path):
    frames = pattern(4, height=47, width=63)
    path = write_video(tmp_path / "odd.mp4", frames, fps=25)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.codec_context.pix_fmt) == (64, 48, "yuv420p")
    array, _ = read_all(path)
    assert array.shape == (4, 48, 64, 3)
    # Padding repeats the edge: the added column/row look like the last real ones.
    assert np.abs(array[:, :47, 63].astype(int) - array[:, :47, 62]).mean() < 8
    assert np.abs(array[:, :47, :63].astype(int) - frames).mean() < 6


@pytest.mark.parametrize("name", ["odd.webm", "odd.gif"])
def test_odd_size_keeps_size_for_webm_and_gif(tmp_path, name):
    path = write_video(tmp_path / name, pattern(4, height=47, width=63), fps=10)
    info = probe(path)
    assert (info.height, info.width) == (47, 63)
    assert read_all(path)[0].shape == (4, 47, 63, 3)


@pytest.mark.parametrize("name", ["prep.mp4", "prep_odd.mp4", "prep.webm", "prep.gif", "prep"])
def test_frames_prepared_in_threads_encode_like_frames_written_directly(
    tmp_path, name, monkeypatch
):
    """``write(prepare(x))`` is ``write(x)``, with frames prepared by four threads at
    once: the encoder is handed the same frames, in order.

    The decoded videos must be equal too, exactly for PNG and GIF. For H.264 and VP9
    they must be within rounding: x264 was seen to encode the very same frames
    differently about once in 40 runs while other processes loaded the machine (with
    the code before this test changed, too), so its bytes are no oracle here."""
    from concurrent.futures import ThreadPoolExecutor

    from vizattn.video import PreparedFrame

    handed: list = []
    write = VideoWriter.write

    def recording(self, image, time=None):
        prepared = image if isinstance(image, PreparedFrame) else self.prepare(image)
        pixels = prepared.array if prepared.frame is None else prepared.frame.to_ndarray()
        parts = pixels if isinstance(pixels, tuple) else (pixels,)  # GIF: (indices, palette)
        handed.append(np.concatenate([np.ravel(p) for p in parts]))
        return write(self, prepared, time)

    monkeypatch.setattr(VideoWriter, "write", recording)
    height, width = (47, 63) if "odd" in name else (48, 64)
    frames = pattern(24, height=height, width=width)
    with VideoWriter(tmp_path / f"direct_{name}", fps=10) as writer:
        for image in frames:
            writer.write(image)
    direct_frames, handed[:] = list(handed), []
    with (
        VideoWriter(tmp_path / f"threaded_{name}", fps=10) as writer,
        ThreadPoolExecutor(4) as pool,
    ):
        for prepared in pool.map(writer.prepare, frames):
            writer.write(prepared)
    assert len(handed) == len(direct_frames) == 24
    for got, expected in zip(handed, direct_frames, strict=True):
        np.testing.assert_array_equal(got, expected)

    def decoded(path: Path) -> np.ndarray:
        if path.is_dir():  # a PNG folder
            from PIL import Image

            return np.stack([np.asarray(Image.open(f)) for f in sorted(path.iterdir())])
        return read_all(path)[0]

    direct = decoded(tmp_path / f"direct_{name}")
    threaded = decoded(tmp_path / f"threaded_{name}")
    assert direct.shape == threaded.shape and direct.shape[0] == 24
    if name.endswith((".mp4", ".webm")):
        assert np.abs(direct.astype(int) - threaded).mean() < 1.0
    else:
        np.testing.assert_array_equal(threaded, direct)


def test_a_frame_prepared_for_another_kind_of_output_is_refused(tmp_path):
    image = pattern(1)[0]
    with VideoWriter(tmp_path / "frames", fps=10) as png:
        prepared = png.prepare(image)
        png.write(prepared)
    mp4 = VideoWriter(tmp_path / "out.mp4", fps=10)
    with pytest.raises(VizAttnError) as err:
        mp4.write(prepared)
    assert "prepared" in assert_one_line(err)
    mp4.abort()
    assert not (tmp_path / "out.mp4").exists()


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("ccw_matrix", "clockwise", "corner"),
    [(-90, 90, (0, -1)), (90, 270, (-1, 0)), (180, 180, (-1, -1))],
)
def test_rotation_metadata_is_applied(tmp_path, ccw_matrix, clockwise, corner):
    # PyAV 18 writes the display matrix (Stream.set_display_rotation, counter-clockwise).
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    frames[:, :12, :12] = 255  # a white block in the top-left corner
    path = encode_with_pyav(tmp_path / "rot.mp4", frames, rotation=ccw_matrix)
    info = probe(path)
    assert info.rotation == clockwise
    expected = (64, 48) if clockwise in (90, 270) else (48, 64)
    assert (info.height, info.width) == expected
    first = next(iter(VideoReader(path)))
    assert first.image.shape == (*expected, 3)
    h, w = expected
    row = slice(0, 8) if corner[0] == 0 else slice(h - 8, h)
    col = slice(0, 8) if corner[1] == 0 else slice(w - 8, w)
    assert first.image[row, col].mean() > 200  # the block moved to the rotated corner
    assert first.image[:8, :8].mean() < 60  # and left the top-left corner


def test_variable_frame_rate_input_keeps_timestamps(tmp_path):
    times = [0.0, 0.04, 0.12, 0.15, 0.35, 0.4, 0.6, 0.61, 0.9]
    path = encode_with_pyav(tmp_path / "vfr.mp4", pattern(len(times)), times=times)
    info = probe(path)
    assert info.variable_frame_rate is True
    got = [f.time for f in iter_frames(path)]
    np.testing.assert_allclose(got, times, atol=1e-3)
    # VideoWriter keeps caller-given times, so re-encoding keeps the timing.
    frames, _ = read_all(path)
    copy = write_video(tmp_path / "copy.mp4", frames, fps=25, times=[t + 5.0 for t in times])
    np.testing.assert_allclose([f.time for f in iter_frames(copy)], times, atol=1e-3)
    assert probe(copy).variable_frame_rate is True


def test_constant_rate_input_is_not_flagged_variable(tmp_path):
    path = encode_with_pyav(tmp_path / "cfr.mp4", pattern(10), fps=25)
    assert probe(path).variable_frame_rate is False


def test_audio_track_is_ignored(tmp_path):
    path = encode_with_pyav(tmp_path / "av.mp4", pattern(15), fps=25, audio=True)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
    info = probe(path)
    assert info.has_audio
    frames, _ = read_all(path)
    assert frames.shape == (15, 48, 64, 3)


def test_start_end_and_max_frames(tmp_path):
    path = write_video(tmp_path / "a.mp4", pattern(50), fps=25)
    with VideoReader(path, start=1.0, end=1.2) as reader:
        got = [(f.index, round(f.time, 3)) for f in reader]
    assert got == [(25, 1.0), (26, 1.04), (27, 1.08), (28, 1.12), (29, 1.16)]
    assert [f.index for f in iter_frames(path, max_frames=3)] == [0, 1, 2]
    assert len(read_all(path, start=1.9)[0]) == 2


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(VizAttnError) as e:
        probe(tmp_path / "nope.mp4")
    assert "nope.mp4" in assert_one_line(e)


def test_folder_given(tmp_path):
    with pytest.raises(VizAttnError) as e:
        VideoReader(tmp_path)
    assert "folder" in assert_one_line(e)


def test_text_file_renamed_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are not video frames\n" * 20)
    with pytest.raises(VizAttnError) as e:
        read_all(fake)
    assert assert_one_line(e).startswith("not a video file: ")


LABELS = Path(video_module.__file__).parent / "data" / "kinetics600_labels.txt"


@pytest.mark.parametrize(
    ("name", "head", "size"),
    [
        ("labels.txt", b"", None),  # FFmpeg's "tty" demuxer draws any text as ANSI art
        ("labels.mp4", b"", None),
        ("labels.nfo", b"", None),
        ("noise.ans", bytes(range(256)) * 8, None),  # tty takes random bytes too
        ("labels.bin", b"", 4000),  # "bin" (binary text) takes files of some sizes
        ("labels.xb", b"XBIN\x1a\x50\x00\x19\x00\x10\x00", None),  # "xbin"
        ("labels.idf", b"", None),  # "idf": iCE Draw
    ],
)
def test_text_file_is_not_a_video(tmp_path, name, head, size):
    path = tmp_path / name
    data = (head + LABELS.read_bytes())[:size]
    path.write_bytes(data)
    for read in (probe, read_all):
        with pytest.raises(VizAttnError) as e:
            read(path)
        message = assert_one_line(e)
        assert message.startswith(f"not a video file: {str(path)!r} ("), message
    assert path.read_bytes() == data  # never modify inputs


@pytest.mark.parametrize("data", [b"hello", b"hello\n", b"\x00\x00\x00"])
def test_tiny_file_is_not_a_video_not_truncated(tmp_path, data):
    path = tmp_path / "notvideo.mp4"
    path.write_bytes(data)
    with pytest.raises(VizAttnError) as e:
        probe(path)
    message = assert_one_line(e)
    assert message.startswith(f"not a video file: {str(path)!r} ("), message
    assert "truncated" not in message and "moov" not in message


def test_mp4_cut_inside_its_first_box_is_truncated(tmp_path):
    full = encode_with_pyav(tmp_path / "full.mp4", pattern(10), faststart=False)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:20])  # inside the 'ftyp' box
    with pytest.raises(VizAttnError) as e:
        probe(cut)
    assert assert_one_line(e).startswith("truncated video: ")


def test_empty_file(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"")
    for read in (probe, VideoReader):
        with pytest.raises(VizAttnError) as e:
            read(path)
        message = assert_one_line(e)
        assert message.startswith(f"not a video file: {str(path)!r} is empty (0 bytes); ")
        assert "index" not in message and "truncated" not in message


def test_file_without_video_stream(tmp_path):
    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = 64, 48
        container.start_encoding()  # header only: no frame, so no video track
    with pytest.raises(VizAttnError) as e:
        probe(path)
    assert "no video stream" in assert_one_line(e)


@pytest.mark.parametrize("faststart", [True, False])
def test_truncated_mp4(tmp_path, faststart):
    full = encode_with_pyav(tmp_path / "full.mp4", pattern(60), faststart=faststart)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    try:
        reader = VideoReader(cut)
        frames = [f.image for f in reader]
    except VizAttnError as e:  # index at the end (no faststart): cannot even be opened
        assert not faststart
        assert "\n" not in str(e) and str(e).endswith(".")
        assert str(e).startswith("truncated video: ") and "moov" in str(e)
        return
    assert faststart  # with the index first, the head of the file decodes
    assert 0 < len(frames) < 60
    assert reader.truncated and reader.truncated_reason
    with pytest.warns(UserWarning, match="truncated"):
        array, _ = read_all(cut)
    assert len(array) == len(frames)


def test_zero_decodable_frames(tmp_path):
    full = encode_with_pyav(tmp_path / "full.mp4", pattern(10), faststart=True)
    data = bytearray(full.read_bytes())
    at = data.find(b"mdat") + 4
    data[at:] = bytes(len(data) - at)  # keep the index, zero every frame
    broken = tmp_path / "zeros.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(VizAttnError) as e:
        list(VideoReader(broken))
    assert "no frames could be decoded" in assert_one_line(e)


def test_range_outside_video(tmp_path):
    path = write_video(tmp_path / "a.mp4", pattern(10), fps=25)
    with pytest.raises(VizAttnError) as e:
        read_all(path, start=30.0)
    assert "30.0" in assert_one_line(e)


@pytest.mark.parametrize(
    "kwargs", [{"start": 2.0, "end": 1.0}, {"start": 1.0, "end": 1.0}, {"start": -1.0}]
)
def test_bad_range(tmp_path, kwargs):
    path = write_video(tmp_path / "a.mp4", pattern(3), fps=25)
    with pytest.raises(VizAttnError) as e:
        VideoReader(path, **kwargs)
    assert_one_line(e)


# --------------------------------------------------------------------------- output checks


def test_output_equal_to_input(tmp_path):
    src = write_video(tmp_path / "in.mp4", pattern(3), fps=25)
    before = src.read_bytes()
    for spelling in [src, tmp_path / "sub" / ".." / "in.mp4", str(src)]:
        with pytest.raises(VizAttnError) as e:
            VideoWriter(spelling, fps=25, inputs=[src])
        assert "in.mp4" in assert_one_line(e)
    link = tmp_path / "link.mp4"
    link.symlink_to(src)
    with pytest.raises(VizAttnError):
        check_output_path(link, inputs=[src])
    assert src.read_bytes() == before
    assert check_output_path(tmp_path / "out.mp4", inputs=[src]) == tmp_path / "out.mp4"


def test_output_folder_missing_or_not_a_folder(tmp_path):
    with pytest.raises(VizAttnError) as e:
        VideoWriter(tmp_path / "missing" / "out.mp4", fps=25)
    assert "does not exist" in assert_one_line(e)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(VizAttnError) as e:
        VideoWriter(afile / "out.mp4", fps=25)
    assert_one_line(e)


def test_output_folder_not_writable(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            # Running as root: permission bits do not apply, so make the check see them.
            real_access = os.access
            monkeypatch.setattr(
                video_module.os,
                "access",
                lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw),
            )
        with pytest.raises(VizAttnError) as e:
            VideoWriter(locked / "out.mp4", fps=25)
        assert "locked" in assert_one_line(e)
    finally:
        locked.chmod(0o755)


def test_unsupported_suffix_and_bad_fps(tmp_path):
    with pytest.raises(VizAttnError) as e:
        VideoWriter(tmp_path / "out.avi", fps=25)
    assert ".avi" in assert_one_line(e)
    with pytest.raises(VizAttnError) as e:
        VideoWriter(tmp_path / "out.mp4", fps=0)
    assert_one_line(e)


# --------------------------------------------------------------------------- atomic writes


class BoomError(RuntimeError):
    pass


@pytest.mark.parametrize("name", ["out.mp4", "out.webm", "out.gif", "frames/"])
def test_exception_leaves_nothing(tmp_path, name):
    with pytest.raises(BoomError), VideoWriter(tmp_path / name, fps=25) as writer:
        for image in pattern(5):
            writer.write(image)
        raise BoomError
    assert os.listdir(tmp_path) == []


def test_keyboard_interrupt_keeps_existing_destination(tmp_path):
    dest = write_video(tmp_path / "out.mp4", pattern(4), fps=25)
    before = dest.read_bytes()
    with pytest.raises(KeyboardInterrupt), VideoWriter(dest, fps=25) as writer:
        writer.write(pattern(1)[0] // 2)
        raise KeyboardInterrupt
    assert dest.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.mp4"]
    # A successful write does replace it.
    write_video(dest, pattern(2), fps=25)
    assert dest.read_bytes() != before
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_bad_frames_raise_and_leave_nothing(tmp_path):
    with pytest.raises(VizAttnError) as e, VideoWriter(tmp_path / "out.mp4", fps=25) as writer:
        writer.write(pattern(1)[0])
        writer.write(np.zeros((10, 10, 3), np.uint8))
    assert "10x10" in assert_one_line(e)
    with pytest.raises(VizAttnError) as e, VideoWriter(tmp_path / "out.mp4", fps=25) as writer:
        writer.write(np.zeros((8, 8, 3), np.float32))
    assert "uint8" in assert_one_line(e)
    with pytest.raises(VizAttnError) as e, VideoWriter(tmp_path / "out.mp4", fps=25):
        pass  # no frames
    assert "no frames" in assert_one_line(e)
    assert os.listdir(tmp_path) == []


def test_png_folder_refuses_folder_with_other_files(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(VizAttnError) as e:
        VideoWriter(tmp_path, fps=25)
    assert "keep.txt" in assert_one_line(e)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_output_os_error_is_one_plain_line(tmp_path, monkeypatch):
    if os.path.isdir("/proc/self"):  # a folder no file can be created in, even as root
        with pytest.raises(VizAttnError) as e:
            VideoWriter("/proc/x.mp4", fps=25)
        message = assert_one_line(e)
        assert "/proc" in message and ".tmp" not in message
    # A disk that fills up when the file is created: one line, no temporary file's name.
    real_open = os.open

    def full(path, *args, **kwargs):
        if ".tmp" in os.fspath(path):
            raise OSError(28, "No space left on device", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(video_module.os, "open", full)
    with pytest.raises(VizAttnError) as e, VideoWriter(tmp_path / "out.mp4", fps=25) as writer:
        writer.write(pattern(1)[0])
    message = assert_one_line(e)
    assert "no space left" in message and ".tmp" not in message and "out.mp4" in message
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- audio


def audio_packets(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        stream = container.streams.audio[0]
        return [
            (float(p.pts * stream.time_base), bytes(p))
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]


def video_span(path: Path) -> tuple[float, float]:
    times = [f.time for f in iter_frames(path)]
    return times[0], times[-1] + (times[1] - times[0])


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("start", [None, 0.4])
def test_audio_is_copied_untouched_and_in_sync(tmp_path, suffix, start):
    source = encode_with_pyav(tmp_path / "av.mp4", pattern(50), fps=25, audio=True)
    notices: list[str] = []
    out = tmp_path / f"out{suffix}"
    with (
        VideoReader(source, start=start, max_frames=20) as reader,
        VideoWriter(out, fps=25, audio_from=source, on_notice=notices.append) as writer,
    ):
        for frame in reader:
            writer.write(frame.image, time=frame.time)
    assert notices == [] and writer.audio == "kept"
    copied, original = audio_packets(out), audio_packets(source)
    assert copied, "the output has no audio"
    # Untouched: every packet is a source packet, byte for byte, shifted by the start.
    by_bytes = {data: t for t, data in original}
    shift = start or 0.0
    for t, data in copied:
        assert data in by_bytes
        assert abs(by_bytes[data] - shift - t) < 1e-3
    # In sync: the sound starts with the first frame and stops with the last one.
    first, end = video_span(out)
    assert first == pytest.approx(0.0, abs=1e-3)
    assert copied[0][0] < 0.03 and end - 0.03 < copied[-1][0] < end
    assert len(copied) >= 0.8 * (end * 44100 / 1024)


@pytest.mark.parametrize(("suffix", "why"), [(".webm", "aac"), (".gif", "GIF")])
def test_audio_that_cannot_be_kept_gives_one_notice(tmp_path, suffix, why):
    source = encode_with_pyav(tmp_path / "av.mp4", pattern(10), fps=25, audio=True)
    notices: list[str] = []
    with VideoWriter(tmp_path / f"out{suffix}", fps=25, on_notice=notices.append) as writer:
        assert writer.copy_audio_from(source) is False
        for image in pattern(5):
            writer.write(image)
    assert len(notices) == 1 and "\n" not in notices[0]
    assert notices[0].startswith("audio dropped:") and why in notices[0]
    assert writer.audio == "dropped" and writer.audio_notice == notices[0]
    assert audio_packets(tmp_path / f"out{suffix}") == []
    assert len(read_all(tmp_path / f"out{suffix}")[0]) == 5
    # Without a callback the notice is a warning.
    with pytest.warns(UserWarning, match="^audio dropped"):
        VideoWriter(tmp_path / f"again{suffix}", fps=25, audio_from=source).abort()


def test_audio_from_a_silent_source_or_too_late(tmp_path):
    silent = write_video(tmp_path / "silent.mp4", pattern(5), fps=25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with VideoWriter(tmp_path / "out.mp4", fps=25) as writer:
            assert writer.copy_audio_from(silent) is False
            writer.write(pattern(1)[0])
            with pytest.raises(VizAttnError) as e:
                writer.copy_audio_from(silent)
            assert "before the first write" in assert_one_line(e)
    assert writer.audio == "none" and writer.audio_notice is None
    assert audio_packets(tmp_path / "out.mp4") == []
