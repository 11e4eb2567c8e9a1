"""Hostile files never crash: a seeded fuzz run over corrupted copies of real clips.

Small real clips (H.264 .mp4 with the index first, and with the index last and sound,
VP9 .webm, GIF)
are written with the project's own :class:`~vizattn.video.VideoWriter`, then
corrupted a few hundred ways (bit flips, truncations, zeroed blocks, shuffled
blocks). Each corrupted file goes through the path ``vizattn render`` takes
(:func:`~vizattn.video.probe`, then every frame of a
:class:`~vizattn.video.VideoReader`) in a child process, so a segfault or an
abort fails the test and names the file instead of killing the suite. Every
file must either decode (at one frame size, the probed one) or raise
:class:`~vizattn.errors.VizAttnError` with a one-line message; a file with
sound that decodes is also re-encoded with its sound copied, as render does.
A handful also go through the real CLI, which must exit with code 2 and one
line on stderr, without a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vizattn.video import write_video

SEED = 20240607
#: Corrupted copies per clip (four clips).
PER_CLIP = 80
#: Files per child process; two children run at once (two cores).
BATCH = 40
REPO = Path(__file__).resolve().parents[1]

# Runs in the child: decode each file as render does, print one JSON line per file.
WORKER = r"""
import json, os, sys, tempfile
from vizattn.errors import VizAttnError
from vizattn.video import VideoReader, VideoWriter, probe

out = os.path.join(tempfile.mkdtemp(), "out.mp4")

for path in sys.argv[1:]:
    print(json.dumps({"start": path}), flush=True)
    try:
        info = probe(path)
        sizes, kept = set(), []
        with VideoReader(path) as reader:
            for frame in reader:
                sizes.add(frame.image.shape)
                kept = kept[-2:] + [frame]
        if sizes != {(*info.size, 3)}:  # render needs one frame size
            raise RuntimeError(f"frame sizes {sorted(sizes)} differ from the probed {info.size}")
        result = {"ok": reader.frames_read, "truncated": reader.truncated}
        if info.has_audio:  # render copies the sound of the input: that must not crash either
            notices = []
            with VideoWriter(out, fps=10, audio_from=path, on_notice=notices.append) as writer:
                for frame in kept:
                    writer.write(frame.image, time=frame.time)
            result["audio"] = writer.audio
    except VizAttnError as e:
        result = {"error": str(e)}
    except BaseException as e:
        result = {"crash": f"{type(e).__name__}: {e}"}
    print(json.dumps({"done": path, **result}), flush=True)
"""


def _pattern(count: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = np.zeros((count, height, width, 3), np.uint8)
    for t in range(count):
        frames[t, : height // 2] = (200, 30 + 20 * t, 40)
        frames[t, height // 2 :] = rng.integers(0, 256, (height - height // 2, width, 3))
    return frames


def _mp4_index_last(path: Path, frames: np.ndarray, fps: int, *, audio: bool) -> Path:
    """An MP4 with its index (moov) after the frames, as a camera writes it, with sound."""
    rate = 8000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        sound = container.add_stream("aac", rate=rate) if audio else None
        if sound is not None:
            sound.layout = "mono"
        sample = 0
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
            while sound is not None and sample < (i + 1) * rate / fps:
                tone = np.sin(np.arange(sample, sample + 1024) * 0.05).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = rate, sample
                for packet in sound.encode(chunk):
                    container.mux(packet)
                sample += 1024
        for packet in stream.encode():
            container.mux(packet)
        for packet in sound.encode() if sound is not None else ():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    frames = _pattern(6, 24, 32)
    return [
        write_video(folder / "clip.mp4", frames, fps=10),  # index first (faststart)
        _mp4_index_last(folder / "indexlast.mp4", frames, 10, audio=True),
        write_video(folder / "clip.webm", frames, fps=10),
        write_video(folder / "clip.gif", frames[:4], fps=10),
    ]


def _corrupt(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One random corruption of ``data``: (description, corrupted bytes)."""
    buf = bytearray(data)
    n = len(buf)
    kind = rng.choice(["flip", "truncate", "zero", "shuffle", "flip+truncate"])
    if kind in ("flip", "flip+truncate"):
        count = int(rng.integers(1, 24))
        for at in rng.integers(0, n, count):
            buf[at] ^= 1 << int(rng.integers(0, 8))
    if kind in ("truncate", "flip+truncate"):
        buf = buf[: int(rng.integers(0, n))]
    if kind == "zero":
        size = int(rng.integers(1, max(2, n // 4)))
        at = int(rng.integers(0, n - size + 1))
        buf[at : at + size] = bytes(size)
    if kind == "shuffle":
        size = int(rng.choice([16, 64, 256]))
        blocks = [buf[i : i + size] for i in range(0, n, size)]
        order = np.arange(len(blocks))
        count = min(len(blocks), int(rng.integers(2, 9)))
        picks = rng.choice(len(blocks), size=count, replace=False)
        order[picks] = rng.permutation(picks)
        buf = bytearray(b"".join(blocks[i] for i in order))
    return str(kind), bytes(buf)


@pytest.fixture(scope="module")
def corrupted(clips, tmp_path_factory) -> dict[Path, str]:
    """``{file: how it was made}``: PER_CLIP seeded corruptions of each clip."""
    folder = tmp_path_factory.mktemp("corrupted")
    rng = np.random.default_rng(SEED)
    made: dict[Path, str] = {}
    for clip in clips:
        data = clip.read_bytes()
        for i in range(PER_CLIP):
            kind, bad = _corrupt(data, rng)
            path = folder / f"{clip.stem}_{i:03d}_{kind.replace('+', '-')}{clip.suffix}"
            path.write_bytes(bad)
            made[path] = f"{kind} of {clip.name}"
    return made


def _run_batch(paths: list[Path]) -> dict[str, dict]:
    """Decode ``paths`` in child processes; a child that dies is blamed on its current file."""
    results: dict[str, dict] = {}
    todo = [str(p) for p in paths]
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", WORKER, *todo],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        current = None
        for line in proc.stdout.splitlines():
            record = json.loads(line)
            if "start" in record:
                current = record["start"]
            else:
                results[record.pop("done")] = record
                current = None
        if proc.returncode != 0 and current is not None:
            results[current] = {
                "crash": f"child died (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
            }
        elif proc.returncode != 0:
            raise AssertionError(f"worker failed (exit {proc.returncode}): {proc.stderr[-500:]}")
        todo = [p for p in todo if p not in results]
    return results


def test_corrupted_files_decode_or_fail_with_one_line(corrupted):
    paths = sorted(corrupted)
    batches = [paths[i : i + BATCH] for i in range(0, len(paths), BATCH)]
    results: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for part in pool.map(_run_batch, batches):
            results.update(part)
    assert len(results) == len(paths)
    problems = []
    for path in paths:
        record = results[str(path)]
        what = f"{path.name} ({corrupted[path]})"
        if "crash" in record:
            problems.append(f"{what}: {record['crash']}")
        elif "error" in record:
            message = record["error"]
            if "\n" in message or not message.strip():
                problems.append(f"{what}: message is not one line: {message!r}")
            elif "Traceback" in message:
                problems.append(f"{what}: message shows a traceback: {message!r}")
        else:
            assert record["ok"] >= 1, what  # a reader that yields nothing must raise instead
    assert not problems, "\n".join(problems)
    # The corruptions are varied enough to exercise both outcomes, and the sound copy.
    outcomes = {"error" in r for r in results.values()}
    assert outcomes == {True, False}
    assert {r.get("audio") for r in results.values()} >= {"kept"}


def test_cut_off_mp4_without_index_says_truncated(clips, tmp_path):
    from vizattn.errors import VizAttnError
    from vizattn.video import probe

    data = clips[1].read_bytes()  # index last
    assert data.find(b"moov") > data.find(b"mdat")
    index = data.find(b"moov") - 4
    for end in (int(index * 0.2), int(index * 0.5), index, index + 12):
        cut = tmp_path / f"cut{end}.mp4"
        cut.write_bytes(data[:end])
        with pytest.raises(VizAttnError) as e:
            probe(cut)
        message = str(e.value)
        assert message.startswith("truncated video: ") and "\n" not in message
        assert "not a video file" not in message
    # A file that is not an MP4 at all is still "not a video file".
    text = tmp_path / "notes.mp4"
    text.write_text("hello " * 100)
    with pytest.raises(VizAttnError, match="^not a video file"):
        probe(text)


def test_cli_rejects_bad_inputs_with_one_line(corrupted, tmp_path):
    """The real CLI exits with code 2 and one line on stderr before building a model."""
    from vizattn.errors import VizAttnError
    from vizattn.video import probe

    bad = []
    for path in sorted(corrupted):
        try:
            probe(path)
        except VizAttnError:
            bad.append(path)
    rng = np.random.default_rng(SEED)
    picks = [bad[i] for i in rng.choice(len(bad), size=min(4, len(bad)), replace=False)]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    picks.append(empty)

    def run(path: Path) -> tuple[Path, subprocess.CompletedProcess]:
        out = tmp_path / f"out_{path.stem}.mp4"
        command = [sys.executable, "-m", "vizattn.cli", "render", str(path)]
        command += ["--max-frames", "2", "-o", str(out)]
        return path, subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for path, proc in pool.map(run, picks):
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            assert proc.returncode == 2, (path.name, proc.returncode, proc.stderr[-500:])
            assert len(lines) == 1, (path.name, proc.stderr)
            assert "Traceback" not in proc.stderr
            assert not (tmp_path / f"out_{path.stem}.mp4").exists()
