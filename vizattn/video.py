"""Read and write videos with PyAV: probe a file, stream its frames, encode atomically.

vizattn never shells out to ``ffmpeg``; everything goes through PyAV (``av``),
which ships its own FFmpeg libraries.

Look at a file before reading it:

>>> info = probe("assets/demo.mp4")                                # doctest: +SKIP
>>> print(info)                                                    # doctest: +SKIP
demo.mp4: 256x160, 25 fps, 100 frames, 4.00 s, h264

Stream frames. A :class:`VideoReader` holds only the frames the decoder needs
(a handful), so a ten-minute video costs no more memory than a short clip.
Each :class:`Frame` carries an upright ``uint8`` RGB image (rotation metadata
from phones is applied), its time in seconds (from the file's timestamps, so
variable frame rate videos keep their timing), and its index:

>>> with VideoReader("assets/demo.mp4", start=1.0, max_frames=3) as reader:   # doctest: +SKIP
...     for frame in reader:
...         print(frame.index, round(frame.time, 2), frame.image.shape)
25 1.0 (160, 256, 3)
26 1.04 (160, 256, 3)
27 1.08 (160, 256, 3)

A file whose tail is damaged (an interrupted download) yields the frames that
decode and then stops; ``reader.truncated`` becomes ``True`` and
``reader.truncated_reason`` says why. Everything the user can get wrong
(missing file, a folder, a file that is not a video, no decodable frames, an
empty time range) raises :class:`~vizattn.errors.VizAttnError` with one line
that names the way out.

Short clips can be loaded at once:

>>> frames, info = read_all("assets/demo.mp4", max_frames=8)       # doctest: +SKIP
>>> frames.shape, frames.dtype                                     # doctest: +SKIP
((8, 160, 256, 3), dtype('uint8'))

Write frames. The format follows the destination:

============================  ==============================================
destination                   result
============================  ==============================================
``out.mp4`` (``.m4v .mov``)   H.264 (libx264), yuv420p, BT.709, faststart:
                              plays in browsers. Odd sizes are *padded* by one
                              pixel on the right/bottom (edge pixels repeated).
``out.mkv``                   H.264 in Matroska, same settings.
``out.webm``                  VP9 (libvpx-vp9, realtime speed), yuv420p.
``out.gif``                   GIF, a 256-colour palette per frame (Pillow).
                              Delays are whole centiseconds: an fps that
                              divides 100 (10, 20, 25, 50) keeps exact timing.
``frames/``, ``frames``       a folder of ``frame_000000.png``, ... (a path
(no suffix, or a folder)      ending in ``/``, without a suffix, or an
                              existing folder). An old folder of frames is
                              replaced whole; one holding other files is refused.
============================  ==============================================

>>> import numpy as np
>>> with VideoWriter("out.mp4", fps=25) as writer:                 # doctest: +SKIP
...     for t in range(50):
...         writer.write(np.full((360, 640, 3), 5 * t, np.uint8))

Writes are atomic: frames go to a hidden temporary file beside the destination,
which replaces the destination only when the ``with`` block ends normally. An
exception (or Ctrl-C) inside the block removes the temporary file and leaves
any existing destination untouched. The writer also refuses to write over one
of its ``inputs`` (see :func:`check_output_path`).

Sound: pass ``audio_from=`` (or call :meth:`VideoWriter.copy_audio_from`) to
copy the source's audio track into the output untouched (remuxed, not
re-encoded), in step with the frame times given to ``write()``. When it cannot
be kept (GIF or PNG output, AAC audio in .webm, damaged audio) the video is
still written and one line starting ``"audio dropped:"`` goes to ``on_notice``:

>>> notices = []
>>> with VideoReader("in.mp4", start=2.0) as reader, VideoWriter(   # doctest: +SKIP
...         "out.mp4", fps=25, audio_from="in.mp4", on_notice=notices.append) as writer:
...     for frame in reader:
...         writer.write(frame.image, time=frame.time)
>>> writer.audio                                                   # doctest: +SKIP
'kept'

Hostile input: every file either decodes or raises ``VizAttnError`` with one
line (a fuzz test in the suite checks this on hundreds of corrupted clips); an
MP4 cut off before its index (the ``moov`` box) is reported as "truncated
video"; an empty file, a few stray bytes, or text (which FFmpeg's ``tty`` demuxer
would draw as ANSI art) as "not a video file". Decoded frames always have the
probed size.

Frame times: by default frames are spaced ``1 / fps`` apart. Pass
``writer.write(image, time=t)`` to keep a source's own timestamps (variable
frame rate input stays variable); the first time becomes 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import secrets
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vizattn.errors import VizAttnError
from vizattn.names import did_you_mean

__all__ = [
    "DEFAULT_PRESET",
    "Frame",
    "PreparedFrame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "X264_PRESETS",
    "check_output_path",
    "check_preset",
    "iter_frames",
    "probe",
    "read_all",
    "write_video",
]

PathLike = str | os.PathLike

#: x264's speed presets, fastest first: faster presets spend less CPU and write
#: bigger files at about the same quality (the same ``crf``).
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo",
)  # fmt: skip

#: The preset :class:`VideoWriter` encodes H.264 with. Against ``"veryfast"``, on
#: 640x360 video at ``crf`` 23 (``benchmarks/README.md``): ~40% less encoding CPU,
#: ~45% bigger files, PSNR within 0.4 dB. H.264 is the part of a render that
#: keeps two cores least busy (x264 alone: ~1.6), so a lighter one shortens it most.
DEFAULT_PRESET = "superfast"

# Timestamps written by VideoWriter are counted in 1/(fps * _TICKS) seconds:
# frames at the nominal rate are exactly _TICKS apart, and caller-given times
# keep sub-millisecond precision.
_TICKS = 1000

# Stop decoding after this many packets in a row fail: the rest is garbage.
_MAX_CONSECUTIVE_ERRORS = 8

_FILE_KINDS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".gif": "gif",
}


class Frame(NamedTuple):
    """One decoded frame.

    Attributes:
      image: ``uint8`` RGB array ``[H, W, 3]``, upright (rotation metadata applied).
      time: presentation time in seconds from the start of the video stream.
      index: frame number counted from the first frame of the video.

    >>> import numpy as np
    >>> image, time, index = Frame(np.zeros((2, 2, 3), np.uint8), 0.04, 1)
    >>> time, index
    (0.04, 1)
    """

    image: np.ndarray
    time: float
    index: int


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found out about a video file.

    Attributes:
      path: the file.
      width: display width in pixels, after rotation metadata is applied.
      height: display height in pixels, after rotation metadata is applied.
      rotation: degrees (0, 90, 180 or 270) the stored pixels are turned
        *clockwise* for display, the convention of the legacy ``rotate`` tag:
        a phone clip shot in portrait typically reports 90.
      mirrored: the display matrix also mirrors the picture left-right (applied
        after the rotation). Rare; ``False`` for almost every file.
      fps: average frame rate (frames per second), ``None`` if unknown.
      frame_count: number of frames, from the header when the container lists
        it (MP4), else estimated as ``duration * fps``; ``None`` if unknown.
      duration: seconds, ``None`` if unknown.
      codec: decoder name, such as ``"h264"`` or ``"vp9"``.
      pix_fmt: stored pixel format, such as ``"yuv420p"`` (``None`` if unknown).
      has_audio: the file also has an audio track (decoding ignores it;
        :meth:`VideoWriter.copy_audio_from` copies it into an output).
      variable_frame_rate: ``True``/``False`` when the container's sample
        table shows it (MP4/MOV); ``None`` when it cannot be told cheaply.

    >>> info = VideoInfo(Path("a.mp4"), 640, 360, 0, False, Fraction(25), 100, 4.0,
    ...                  "h264", "yuv420p", False, False)
    >>> info.size, str(info)
    ((360, 640), 'a.mp4: 640x360, 25 fps, 100 frames, 4.00 s, h264')
    """

    path: Path
    width: int
    height: int
    rotation: int
    mirrored: bool
    fps: Fraction | None
    frame_count: int | None
    duration: float | None
    codec: str
    pix_fmt: str | None
    has_audio: bool
    variable_frame_rate: bool | None

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the upright frames."""
        return (self.height, self.width)

    def __str__(self) -> str:
        parts = [f"{self.width}x{self.height}"]
        if self.fps is not None:
            parts.append(
                f"{float(self.fps):.4g} fps" + (" (variable)" if self.variable_frame_rate else "")
            )
        if self.frame_count is not None:
            parts.append(f"{self.frame_count} frames")
        if self.duration is not None:
            parts.append(f"{self.duration:.2f} s")
        parts.append(self.codec)
        if self.rotation:
            parts.append(f"rotated {self.rotation}°")
        if self.has_audio:
            parts.append("audio")
        return f"{self.path.name}: " + ", ".join(parts)


# --------------------------------------------------------------------------- errors


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _ffmpeg_reason(error: BaseException) -> str:
    """A short, one-line description of a PyAV error (without the file name)."""
    reason = getattr(error, "strerror", None) or str(error)
    return _one_line(reason).rstrip(".")


def _check_input_file(path: PathLike) -> Path:
    text = os.fspath(path)
    p = Path(text).expanduser()
    if not p.exists():
        raise VizAttnError(
            f"video not found: {text!r}; check the path, or pass an existing video file."
        )
    if p.is_dir():
        raise VizAttnError(
            f"expected a video file but got a folder: {text!r}; "
            f"pass a file in it, such as {os.path.join(text, 'clip.mp4')!r}."
        )
    return p


# Top-level boxes that can start an MP4/MOV file (ISO base media / QuickTime).
_MP4_FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"styp"}


def _mp4_missing_index(path: Path) -> str | None:
    """Why an MP4/MOV file has no usable index (``moov`` box), or ``None``.

    Walks the top-level boxes (reading only their 8-16 byte headers). A file
    cut off while being written or downloaded ends inside a box and, unless it
    was written with the index first ("faststart"), has no ``moov`` box.
    Returns ``None`` for files that are not MP4/MOV or whose index is whole.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            offset, seen, cut = 0, set(), None
            while offset < size and len(seen) < 10_000:
                f.seek(offset)
                header = f.read(16)
                if len(header) < 8 and offset == 0:
                    return None  # a few bytes, not even one box: not an MP4/MOV file
                if len(header) < 8:
                    cut = "a box header"
                    break
                length, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if offset == 0 and kind not in _MP4_FIRST_BOXES:
                    return None  # not an MP4/MOV file
                if length == 1 and len(header) == 16:
                    length = int.from_bytes(header[8:16], "big")
                elif length == 0:
                    length = size - offset  # the last box runs to the end of the file
                if length < 8:
                    return None  # damaged, not truncated: let FFmpeg's error stand
                seen.add(kind)
                if offset + length > size:
                    cut = f"its {kind.decode('latin-1')!r} box"
                    break
                offset += length
    except OSError:
        return None
    if b"moov" in seen and cut != "its 'moov' box":
        return None
    where = f"the file ends inside {cut}" if cut else "the file has no index"
    return f"{where} and its index (the 'moov' box) is missing"


# FFmpeg's text-mode art demuxers ("tty" for ANSI art, "bin", "xbin", "adf", "idf")
# and their decoders: they open text files, even random bytes, and draw the
# characters as frames. Whatever they open is not a video.
_TEXT_ART_FORMATS = {"tty", "bin", "xbin", "adf", "idf"}
_TEXT_ART_CODECS = {"ansi", "bintext", "xbin", "idf"}


def _is_text_art(container: Any, streams: Sequence[Any]) -> bool:
    try:
        formats = set(str(container.format.name).split(","))
        codecs = {s.codec_context.name for s in streams}
    except Exception:  # noqa: BLE001 - a damaged header: let the other checks decide
        return False
    return bool(formats & _TEXT_ART_FORMATS or codecs & _TEXT_ART_CODECS)


def _open_input(path: PathLike) -> tuple[Path, Any, Any]:
    """Open ``path`` and pick its video stream, or raise :class:`VizAttnError`."""
    p = _check_input_file(path)
    text = os.fspath(path)
    with contextlib.suppress(OSError):  # unreadable: av.open below says why
        if p.stat().st_size == 0:
            raise VizAttnError(
                f"not a video file: {text!r} is empty (0 bytes); "
                "pass a complete video file such as an .mp4."
            )

    def not_a_video(reason: str) -> VizAttnError:
        missing = _mp4_missing_index(p)
        if missing is not None:
            return VizAttnError(
                f"truncated video: {text!r} was cut off ({missing}), so no frame can be "
                "located; download or export it again."
            )
        return VizAttnError(
            f"not a video file: {text!r} ({reason}); pass a complete video file such as an .mp4."
        )

    try:
        container = av.open(str(p), metadata_errors="replace")
    except PermissionError:
        raise VizAttnError(
            f"cannot read {text!r} (permission denied); fix its permissions or copy it."
        ) from None
    except (av.FFmpegError, OSError) as e:
        raise not_a_video(f"cannot open: {_ffmpeg_reason(e)}") from None
    except Exception as e:  # noqa: BLE001 - hostile files must not escape as tracebacks
        raise not_a_video(f"cannot open: {type(e).__name__}") from None
    try:
        attached_pic = av.stream.Disposition.attached_pic
        video = [s for s in container.streams.video if not (s.disposition & attached_pic)]
        # A damaged header can declare a video stream FFmpeg has no decoder for.
        streams = [s for s in video if s.codec_context is not None]
    except Exception:  # noqa: BLE001
        video = streams = []
    if _is_text_art(container, streams):
        container.close()
        raise VizAttnError(
            f"not a video file: {text!r} (it is text or text-mode art, not video); "
            "pass a complete video file such as an .mp4."
        )
    if not streams:
        container.close()
        if video:
            raise VizAttnError(
                f"cannot decode {text!r}: its video stream has an unknown or damaged codec; "
                "re-encode it (e.g. to H.264 .mp4) or pass another file."
            )
        raise not_a_video("no video stream found")
    return p, container, streams[0]


# --------------------------------------------------------------------------- probing


def _orientation_from_matrix(m: Sequence[int]) -> tuple[int, bool]:
    """(clockwise degrees, mirrored) from an FFmpeg display matrix (like ffmpeg -autorotate)."""
    # av_display_rotation_get(): counter-clockwise angle in [-180, 180].
    scale0 = math.hypot(m[0], m[3])
    scale1 = math.hypot(m[1], m[4])
    if scale0 == 0 or scale1 == 0:
        return 0, False
    ccw = -math.degrees(math.atan2(m[1] / scale1, m[0] / scale0))
    theta = (-round(ccw)) % 360  # clockwise, as fftools' get_rotation()
    if abs(theta - 90) < 1:
        return (90, True) if m[3] > 0 else (90, False)
    if abs(theta - 270) < 1:
        return (270, True) if m[3] < 0 else (270, False)
    if abs(theta - 180) < 1:
        hflip, vflip = m[0] < 0, m[4] < 0
        if hflip and vflip:
            return 180, False
        if vflip:
            return 180, True
        return 0, hflip
    if abs(theta) < 1 or abs(theta - 360) < 1:
        return (180, True) if m[4] < 0 else (0, False)
    # Not a multiple of 90 degrees: snap to the nearest quarter turn.
    return int(round(theta / 90.0)) % 4 * 90, False


def _frame_orientation(frame: Any) -> tuple[int, bool] | None:
    """Orientation from a decoded frame's DISPLAYMATRIX side data, if any."""
    try:
        side = frame.side_data.get("DISPLAYMATRIX")
    except Exception:  # pragma: no cover - older PyAV without side data access
        side = None
    if side is not None:
        matrix = np.frombuffer(bytes(side), dtype="<i4")
        if matrix.size == 9:
            return _orientation_from_matrix([int(v) for v in matrix])
    try:
        ccw = int(frame.rotation)
    except Exception:  # pragma: no cover
        return None
    return ((-ccw) % 360 // 90 * 90, False) if ccw else None


def _tag_orientation(stream: Any) -> tuple[int, bool]:
    tag = stream.metadata.get("rotate")
    if tag is None:
        return 0, False
    try:
        return int(round(float(tag) / 90.0)) % 4 * 90, False
    except ValueError:
        return 0, False


def _first_frame(container: Any, stream: Any, max_packets: int = 64) -> Any | None:
    try:
        for n, packet in enumerate(container.demux(stream)):
            with contextlib.suppress(av.FFmpegError, ValueError):
                frames = packet.decode()
                if frames:
                    return frames[0]
            if n >= max_packets:
                break
    except Exception:  # noqa: BLE001 - a damaged file just has no first frame
        pass
    return None


def _detect_vfr(stream: Any) -> bool | None:
    """Whether an MP4/MOV sample table has irregular frame durations (None if unknown)."""
    try:
        entries = stream.index_entries
        count = len(entries)
        if count < 3 or stream.frames <= 0 or count != stream.frames:
            return None  # index lists only keyframes (Matroska, WebM) or nothing
        times = np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=count)
    except Exception:  # noqa: BLE001 - PyAV without index access, or a damaged index
        return None
    deltas = np.diff(np.sort(times))
    if deltas.size == 0 or deltas.min() <= 0:
        return None
    spread = int(deltas.max() - deltas.min())
    return spread > 1 and spread > 0.01 * float(np.median(deltas))


def _positive(value: Any) -> Fraction | None:
    """``value`` as a positive, finite :class:`Fraction`, else ``None`` (damaged headers)."""
    try:
        fraction = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return fraction if 0 < fraction < 10**6 else None


def _describe(
    path: Path, container: Any, stream: Any, orientation: tuple[int, bool], first: Any | None
) -> VideoInfo:
    fps = next(
        filter(None, map(_positive, (stream.average_rate, stream.guessed_rate, stream.base_rate))),
        None,
    )
    duration = None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    if duration is not None and not (0 < duration < 1e9):
        duration = None  # negative or absurd: a damaged header
    if stream.frames and 0 < stream.frames < 10**9:
        frame_count = int(stream.frames)
    elif duration is not None and fps:
        frame_count = max(1, round(duration * fps))
    else:
        frame_count = None
    if fps is None and frame_count and duration:
        fps = Fraction(frame_count / duration).limit_denominator(1001)
    rotation, mirrored = orientation
    codec = stream.codec_context
    width, height = codec.width, codec.height
    if first is not None and (first.width, first.height) != (width, height):
        width, height = first.width, first.height  # what the decoder really produces
    if width <= 0 or height <= 0:
        raise VizAttnError(
            f"cannot read {os.fspath(path)!r}: its header gives no frame size and no frame "
            "decodes; the file may be damaged, check that it plays or re-encode it."
        )
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        width=int(width),
        height=int(height),
        rotation=rotation,
        mirrored=mirrored,
        fps=fps,
        frame_count=frame_count,
        duration=duration,
        codec=codec.name,
        pix_fmt=codec.pix_fmt,
        has_audio=bool(container.streams.audio),
        variable_frame_rate=_detect_vfr(stream),
    )


def probe(path: PathLike) -> VideoInfo:
    """Describe a video file: display size, rotation, frame rate, length, codec.

    Reads the header and decodes the first frame (to see rotation metadata);
    cheap even for long files.

    Args:
      path: a video file.

    Returns:
      A :class:`VideoInfo`.

    Raises:
      VizAttnError: the file is missing, is a folder, or is not a video.

    >>> probe("no/such/clip.mp4")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vizattn.errors.VizAttnError: video not found: 'no/such/clip.mp4'; check the path, ...
    """
    p, container, stream = _open_input(path)
    try:
        orientation = _tag_orientation(stream)
        first = _first_frame(container, stream)
        if first is not None:
            orientation = _frame_orientation(first) or orientation
        return _describe(p, container, stream, orientation, first)
    except VizAttnError:
        raise
    except Exception as e:  # noqa: BLE001 - a hostile header must not escape as a traceback
        raise VizAttnError(
            f"cannot read {os.fspath(path)!r}: its header is damaged ({type(e).__name__}); "
            "check that it plays, or re-encode it."
        ) from None
    finally:
        container.close()


def _orient(image: np.ndarray, rotation: int, mirrored: bool) -> np.ndarray:
    if rotation:
        image = np.rot90(image, k=-(rotation // 90))  # np.rot90 turns counter-clockwise
    if mirrored:
        image = image[:, ::-1]
    if rotation or mirrored:
        image = np.ascontiguousarray(image)
    return image


# --------------------------------------------------------------------------- reading


class VideoReader:
    """Stream the frames of a video file, a few at a time.

    Iterating yields :class:`Frame` objects with upright ``uint8`` RGB images.
    Use it as a context manager so the file is closed even if you stop early;
    a reader is iterated once.

    Args:
      path: a video file (anything FFmpeg reads: mp4, mov, mkv, webm, avi, gif...).
      start: first time to yield, in seconds (frames with ``time >= start``).
        The reader seeks to the keyframe before ``start``, so a late start is cheap.
      end: stop before this time, in seconds (frames with ``time < end``).
      max_frames: stop after yielding this many frames.

    Frame indices count from the first frame of the video. After a seek
    (``start > 0``) they are estimated as ``round(time * fps)`` for the first
    frame decoded, which is exact for constant frame rate video.

    Attributes:
      info: the file's :class:`VideoInfo` (from :func:`probe`).
      truncated: ``True`` when the file ended early or packets failed to decode;
        the frames that decoded were still yielded.
      truncated_reason: one line saying what went wrong, or ``None``.
      frames_read: frames yielded so far.

    Raises:
      VizAttnError: at construction for a missing file, a folder, a non-video or
        a bad range; at the end of iteration when no frame was yielded.

    >>> with VideoReader("assets/demo.mp4", max_frames=2) as reader:   # doctest: +SKIP
    ...     print([(f.index, f.image.shape) for f in reader], reader.truncated)
    [(0, (160, 256, 3)), (1, (160, 256, 3))] False
    """

    def __init__(
        self,
        path: PathLike,
        *,
        start: float | None = None,
        end: float | None = None,
        max_frames: int | None = None,
    ) -> None:
        if start is not None and not (math.isfinite(start) and start >= 0):
            raise VizAttnError(
                f"start must be a time in seconds >= 0, got {start!r}; pass start=0 or later."
            )
        if end is not None and not (math.isfinite(end) and end > 0):
            raise VizAttnError(
                f"end must be a time in seconds > 0, got {end!r}; pass a positive end."
            )
        if start is not None and end is not None and start >= end:
            raise VizAttnError(
                f"empty time range: start={start!r} s is not before end={end!r} s; "
                "pass start < end."
            )
        if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
            raise VizAttnError(
                f"max_frames must be a whole number >= 1, got {max_frames!r}; "
                "pass max_frames=1 or more."
            )
        self.info = probe(path)
        self.path = self.info.path
        self._display = os.fspath(path)
        self.start = start
        self.end = end
        self.max_frames = None if max_frames is None else int(max_frames)
        self.truncated = False
        self.truncated_reason: str | None = None
        self.frames_read = 0
        self._container: Any = None
        self._iterator: Iterator[Frame] | None = None

    # context manager / iterator protocol
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> VideoReader:
        return self

    def __next__(self) -> Frame:
        if self._iterator is None:
            self._iterator = self._frames()
        return next(self._iterator)

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def _mark_truncated(self, reason: str) -> None:
        if not self.truncated:
            self.truncated = True
            self.truncated_reason = _one_line(reason)

    def _frames(self) -> Iterator[Frame]:
        _, container, stream = _open_input(self.path)
        self._container = container
        try:
            yield from self._decode(container, stream)
        finally:
            self.close()

    def _decode(self, container: Any, stream: Any) -> Iterator[Frame]:
        info = self.info
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1000)
        origin = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        fps = float(info.fps) if info.fps else 25.0
        start, end, limit = self.start, self.end, self.max_frames
        eps = 1e-6
        reformatter = VideoReformatter()  # keeps one swscale context for all frames
        # Every frame comes out at the probed size, even if a damaged stream changes size.
        stored_w, stored_h = info.width, info.height
        if info.rotation in (90, 270):
            stored_w, stored_h = stored_h, stored_w

        seeked = False
        if start:
            with contextlib.suppress(av.FFmpegError):
                container.seek(int((start + origin) / time_base), stream=stream, backward=True)
                seeked = True

        decoded = 0  # frames decoded since the (possible) seek
        first_index = 0
        last_time: float | None = None
        stopped = False
        errors = 0
        consecutive = 0
        packets = container.demux(stream)
        while not stopped:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as e:
                self._mark_truncated(f"reading stopped: {_ffmpeg_reason(e)}")
                break
            except Exception as e:  # noqa: BLE001 - hostile data must not escape as a traceback
                self._mark_truncated(f"reading stopped: {type(e).__name__}")
                break
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as e:
                errors += 1
                consecutive += 1
                if errors == 1:
                    self._mark_truncated(f"undecodable data: {_ffmpeg_reason(e)}")
                if consecutive > _MAX_CONSECUTIVE_ERRORS:
                    break
                continue
            consecutive = 0
            for vframe in frames:
                if vframe.pts is not None:
                    t = float(vframe.pts * time_base) - origin
                elif last_time is not None:
                    t = last_time + 1.0 / fps
                else:
                    t = 0.0
                if decoded == 0 and seeked:
                    first_index = max(0, round(t * fps))
                index = first_index + decoded
                decoded += 1
                last_time = t
                if start is not None and t < start - eps:
                    continue
                if end is not None and t >= end - eps:
                    stopped = True
                    break
                try:
                    rgb = reformatter.reformat(
                        vframe, format="rgb24", width=stored_w, height=stored_h
                    ).to_ndarray()
                except (av.FFmpegError, ValueError) as e:
                    self._mark_truncated(f"undecodable frame: {_ffmpeg_reason(e)}")
                    stopped = True
                    break
                image = _orient(rgb, info.rotation, info.mirrored)
                self.frames_read += 1
                yield Frame(image, t, index)
                if limit is not None and self.frames_read >= limit:
                    stopped = True
                    break

        if not stopped and not self.truncated:
            self._check_complete(stream, decoded, last_time, seeked, fps)
        if self.frames_read == 0:
            raise self._nothing_error(decoded)

    def _check_complete(
        self, stream: Any, decoded: int, last_time: float | None, seeked: bool, fps: float
    ) -> None:
        """Flag a file that ended before its header said it would."""
        listed = int(stream.frames or 0)
        # A frame or two may be dropped by edit lists; a truncated file loses more.
        if not seeked and listed > 0 and 0 < decoded < listed - max(2, listed // 100):
            self._mark_truncated(f"decoded {decoded} of the {listed} frames listed in the header")
            return
        duration = self.info.duration
        single = len(self._container.streams) == 1 if self._container is not None else False
        if last_time is None or duration is None or not (stream.duration is not None or single):
            return
        if last_time + 2.0 / fps + 0.1 < duration:
            self._mark_truncated(f"video stops at {last_time:.2f} s of {duration:.2f} s")

    def _nothing_error(self, decoded: int) -> VizAttnError:
        name = self._display
        if decoded and (self.start is not None or self.end is not None):
            length = f" (duration {self.info.duration:.2f} s)" if self.info.duration else ""
            return VizAttnError(
                f"no frames between start={self.start!r} s and end={self.end!r} s in {name!r}"
                f"{length}; pass a range inside the video."
            )
        why = f" ({self.truncated_reason})" if self.truncated_reason else ""
        return VizAttnError(
            f"no frames could be decoded from {name!r}{why}; the file may be damaged, "
            "check that it plays or re-encode it."
        )


def iter_frames(
    path: PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Yield the :class:`Frame` objects of a video (a :class:`VideoReader` as a generator).

    Warns (``UserWarning``) when the file turns out to be truncated.

    >>> for frame in iter_frames("assets/demo.mp4", max_frames=1):      # doctest: +SKIP
    ...     print(frame.image.shape)
    (160, 256, 3)
    """
    with VideoReader(path, start=start, end=end, max_frames=max_frames) as reader:
        yield from reader
        if reader.truncated:
            warnings.warn(
                f"{os.fspath(path)!r} is truncated: {reader.truncated_reason}.", stacklevel=2
            )


def read_all(
    path: PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    max_bytes: int = 2**30,
) -> tuple[np.ndarray, VideoInfo]:
    """Decode a short clip into one array.

    Args:
      path: a video file.
      start, end, max_frames: as for :class:`VideoReader`.
      max_bytes: refuse clips whose frames would need more memory than this
        (default 1 GiB); stream long videos with :class:`VideoReader` instead.

    Returns:
      ``(frames, info)``: ``uint8`` array ``[T, H, W, 3]`` and the :class:`VideoInfo`.

    >>> frames, info = read_all("assets/demo.mp4")                    # doctest: +SKIP
    >>> frames.shape[0] == info.frame_count                           # doctest: +SKIP
    True
    """
    images: list[np.ndarray] = []
    total = 0
    with VideoReader(path, start=start, end=end, max_frames=max_frames) as reader:
        for frame in reader:
            total += frame.image.nbytes
            if total > max_bytes:
                raise VizAttnError(
                    f"clip too long to load at once: {os.fspath(path)!r} needs more than "
                    f"{max_bytes / 2**20:.0f} MiB; pass max_frames= or end=, "
                    "or stream it with VideoReader."
                )
            images.append(frame.image)
        if reader.truncated:
            warnings.warn(
                f"{os.fspath(path)!r} is truncated: {reader.truncated_reason}.", stacklevel=2
            )
        return np.stack(images), reader.info


# --------------------------------------------------------------------------- output paths


def _output_kind(path: PathLike) -> str:
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or os.path.isdir(text) or not Path(text).suffix:
        return "png"
    suffix = Path(text).suffix.lower()
    kind = _FILE_KINDS.get(suffix)
    if kind is None:
        raise VizAttnError(
            f"unsupported output format {suffix!r} for {text!r}; "
            "use .mp4 (or .m4v, .mov, .mkv), .webm, .gif, or a folder (path ending in '/') "
            "for PNG frames."
        )
    return kind


def check_output_path(output: PathLike, *, inputs: Iterable[PathLike] = ()) -> Path:
    """Check that ``output`` can be written and does not overwrite an input.

    Args:
      output: the file (or PNG folder) about to be written.
      inputs: files the output must not replace (the source video, say).

    Returns:
      ``output`` as an absolute :class:`~pathlib.Path`.

    Raises:
      VizAttnError: an unsupported format, the output is one of the inputs, or
        its folder does not exist or is not writable.

    >>> check_output_path("/no/such/folder/out.mp4")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vizattn.errors.VizAttnError: output folder does not exist: '/no/such/folder' (for ...
    """
    text = os.fspath(output)
    _output_kind(output)  # an unsupported format fails here, before any work
    out = Path(os.path.abspath(os.path.expanduser(text)))
    for source in inputs:
        src = Path(os.path.abspath(os.path.expanduser(os.fspath(source))))
        if out.exists() and src.exists():
            same = os.path.samefile(out, src)
        else:
            same = out.resolve() == src.resolve()
        if same:
            raise VizAttnError(
                f"output {text!r} is the input {os.fspath(source)!r}; "
                "choose a different output path so the input is not overwritten."
            )
    parent = out.parent
    if not parent.exists():
        raise VizAttnError(
            f"output folder does not exist: {str(parent)!r} (for {text!r}); "
            "create it first or choose another output path."
        )
    if not parent.is_dir():
        raise VizAttnError(
            f"output folder is not a folder: {str(parent)!r} (for {text!r}); "
            "choose an output path inside a folder."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VizAttnError(
            f"cannot write to folder {str(parent)!r} (permission denied, for {text!r}); "
            "choose an output path in a writable folder."
        )
    # Permission bits do not tell everything (read-only mounts, /proc, running as root):
    # create and remove a small file to be sure, before any slow work starts.
    try:
        fd, name = tempfile.mkstemp(prefix=".vizattn-check-", suffix=".tmp", dir=parent)
        os.close(fd)
        os.remove(name)
    except OSError as e:
        raise VizAttnError(
            f"cannot write to folder {str(parent)!r} ({_os_reason(e)}, for {text!r}); "
            "choose an output path in a writable folder."
        ) from None
    return out


def _os_reason(error: OSError) -> str:
    """An OS error's reason without file names (``"no space left on device"``)."""
    reason = error.strerror or type(error).__name__
    return reason[:1].lower() + reason[1:]


def _temporary_name(destination: Path, suffix: str) -> Path:
    return destination.parent / f".{destination.name}.{secrets.token_hex(4)}.tmp{suffix}"


# --------------------------------------------------------------------------- audio

# Audio codecs each output container takes as they are (remuxed, not re-encoded).
_AUDIO_CODECS = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "mp2"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "mp2", "pcm_s16le", "pcm_s16be", "pcm_s24le"},
    "matroska": {
        "aac", "mp3", "ac3", "eac3", "alac", "opus", "vorbis", "flac", "mp2", "dts", "truehd",
        "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le",
    },
    "webm": {"opus", "vorbis"},
}  # fmt: skip


class _AudioCopy:
    """Copies a source file's audio packets, untouched, into a :class:`VideoWriter`'s file.

    Packets are aligned to the video by time: a packet at source time ``t``
    (counted, like :attr:`Frame.time`, from the start of the source's video
    stream) lands at ``t - shift`` in the output, where ``shift`` is the source
    time of the output's first frame. Packets before the first frame or after
    the last are left out.
    """

    def __init__(self, source: Path, container: Any, stream: Any, origin: float) -> None:
        self.source, self.input, self.stream, self.origin = source, container, stream, origin
        self.output_stream: Any = None
        self.time_base = stream.time_base or Fraction(1, 1000)
        self.shift: float | None = None
        self._packets: Iterator[Any] | None = None
        self._pending: Any = None
        self._last_dts: int | None = None
        self.copied = 0.0  # seconds of audio copied so far

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.input.close()

    def packets_until(self, until: float) -> Iterator[Any]:
        """Source packets, re-timed for the output, that start before output time ``until``."""
        assert self.shift is not None
        if self._packets is None:
            start = self.shift + self.origin
            if start > 1.0:  # skip to the first frame's time instead of reading everything
                with contextlib.suppress(av.FFmpegError):
                    self.input.seek(int(start / self.time_base), stream=self.stream, backward=True)
            self._packets = self.input.demux(self.stream)
        offset = round((self.shift + self.origin) / self.time_base)
        while True:
            packet = self._pending
            if packet is None:
                packet = next(self._packets, None)
                if packet is None:
                    return
            self._pending = None
            if packet.pts is None or packet.dts is None or packet.size == 0:
                continue  # the flushing packet at the end, or one without timing
            t = float((packet.pts - offset) * self.time_base)
            if t >= until:
                self._pending = packet
                return
            if t < -1e-3:
                continue  # before the first frame
            dts = packet.dts - offset
            if self._last_dts is not None and dts <= self._last_dts:
                continue  # damaged timing: such a packet cannot be muxed
            packet.pts, packet.dts = packet.pts - offset, dts
            self._last_dts = dts
            packet.stream = self.output_stream
            self.copied = t + float((packet.duration or 0) * self.time_base)
            yield packet


def _open_audio(source: PathLike, kind: str) -> tuple[_AudioCopy | None, str | None]:
    """``(copier, None)``, ``(None, None)`` without audio, or ``(None, why it is dropped)``."""
    text = os.fspath(source)
    try:
        container = av.open(str(Path(text).expanduser()), metadata_errors="replace")
    except Exception:  # noqa: BLE001 - the video reader reports unreadable inputs
        return None, f"audio dropped: cannot open {text!r} to copy its sound."
    try:
        streams = [a for a in container.streams.audio if a.codec_context is not None]
        if not container.streams.audio:
            container.close()
            return None, None
        codec = streams[0].codec_context.name if streams else "unknown"
        if kind in ("gif", "png"):
            why = f"{'GIF files' if kind == 'gif' else 'PNG frames'} have no sound"
        elif codec not in _AUDIO_CODECS.get(kind, ()):
            suffix = {"matroska": ".mkv"}.get(kind, f".{kind}")
            names = {"mp4": ".mp4", "mov": ".mov", "matroska": ".mkv", "webm": ".webm"}
            fits = [names[k] for k, codecs in _AUDIO_CODECS.items() if codec in codecs]
            keep = " or ".join(fits) if fits else "a format that takes it"
            why = f"{suffix} cannot hold its {codec} audio without re-encoding; write {keep}"
        else:
            video = [v for v in container.streams.video if v.start_time is not None]
            origin = float(video[0].start_time * video[0].time_base) if video else 0.0
            return _AudioCopy(Path(text), container, streams[0], origin), None
    except Exception:  # noqa: BLE001 - a damaged header: no audio worth keeping
        why = "its audio track is damaged"
    container.close()
    if kind in ("gif", "png"):
        return None, f"audio dropped: {why}; write .mp4 to keep the sound."
    return None, f"audio dropped: {why} to keep the sound."


# --------------------------------------------------------------------------- writing


def _to_fraction(fps: float | Fraction | str) -> Fraction:
    try:
        value = (
            Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(10000)
        )
    except (TypeError, ValueError, ZeroDivisionError):
        value = Fraction(0)
    if value <= 0:
        raise VizAttnError(f"fps must be a positive number, got {fps!r}; pass fps=25, say.")
    return value


def _as_rgb(image: Any, number: int) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise VizAttnError(
            f"frame {number} must be a uint8 RGB image [H, W, 3], got {array.dtype} "
            f"{list(np.shape(image))}; convert with (x * 255).round().astype(np.uint8)."
        )
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise VizAttnError(
            f"frame {number} is too small: {array.shape[1]}x{array.shape[0]} pixels; "
            "pass frames at least 2x2."
        )
    return array


def check_preset(preset: str) -> None:
    """Raises :class:`VizAttnError` unless ``preset`` is one of :data:`X264_PRESETS`."""
    if preset not in X264_PRESETS:
        raise VizAttnError(
            f"unknown H.264 preset {preset!r}; {did_you_mean(preset, X264_PRESETS)}"
            f"use one of {', '.join(X264_PRESETS)}."
        )


class PreparedFrame(NamedTuple):
    """A frame made ready for one :class:`VideoWriter` by :meth:`VideoWriter.prepare`."""

    size: tuple[int, int]  # (height, width) as given, before any padding
    array: np.ndarray | None  # RGB, for PNG folders
    frame: Any  # av.VideoFrame in the encoder's pixel format, for video files


class VideoWriter:
    """Encode ``uint8`` RGB frames to a video file (or a PNG folder), atomically.

    Args:
      path: destination; the suffix picks the format (see the module docstring).
      fps: frame rate, such as ``25`` or ``Fraction(30000, 1001)``.
      codec: override the encoder for .mp4/.mov/.mkv/.webm (e.g. ``"libx264"``).
      crf: quality (lower is better and bigger); ``None`` picks 23 for H.264 and
        32 for VP9.
      preset: x264 speed preset, one of :data:`X264_PRESETS` (default
        :data:`DEFAULT_PRESET`); slower presets write smaller files.
      inputs: files the output must not overwrite (see :func:`check_output_path`).
      options: extra encoder options passed to FFmpeg, e.g. ``{"tune": "film"}``.

    Attributes:
      path: the destination (absolute).
      frames_written: number of frames written so far.
      size: ``(height, width)`` of the encoded frames (H.264 pads odd sizes to even).

    Raises:
      VizAttnError: bad fps, unsupported suffix, unwritable destination, output
        equal to an input, bad frames, or no frames at all when closing.

    >>> import numpy as np
    >>> with VideoWriter("clip.webm", fps=10) as w:                   # doctest: +SKIP
    ...     w.write(np.zeros((64, 64, 3), np.uint8))
    """

    def __init__(
        self,
        path: PathLike,
        *,
        fps: float | Fraction,
        codec: str | None = None,
        crf: int | None = None,
        preset: str = DEFAULT_PRESET,
        inputs: Iterable[PathLike] = (),
        options: Mapping[str, str] | None = None,
        audio_from: PathLike | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self._display = os.fspath(path)
        self.kind = _output_kind(path)
        self.fps = _to_fraction(fps)
        self.path = check_output_path(path, inputs=inputs)
        if codec is not None and self.kind in ("gif", "png"):
            raise VizAttnError(
                f"codec={codec!r} does not apply to {self._display!r} ({self.kind} output); "
                "drop codec= or write an .mp4/.webm file."
            )
        if codec is not None and codec not in av.codecs_available:
            raise VizAttnError(
                f"unknown video encoder {codec!r}; use 'libx264' (mp4) or 'libvpx-vp9' (webm)."
            )
        if self.kind == "png" and self.path.exists() and self.path.is_dir():
            stray = [n for n in os.listdir(self.path) if not _is_png_frame_name(n)]
            if stray:
                raise VizAttnError(
                    f"folder {self._display!r} holds files other than PNG frames (e.g. "
                    f"{stray[0]!r}); pass a new or empty folder."
                )
        if self.kind == "png" and self.path.exists() and not self.path.is_dir():
            raise VizAttnError(
                f"output {self._display!r} is a file, not a folder for PNG frames; "
                "add a suffix such as .mp4, or pass a folder path ending in '/'."
            )
        check_preset(preset)
        self.codec = codec
        self.crf = crf
        self.preset = preset
        self.options = dict(options or {})
        self.frames_written = 0
        self.size: tuple[int, int] | None = None
        self._source_size: tuple[int, int] | None = None
        self._time_base = 1 / (self.fps * _TICKS)
        self._last_pts: int | None = None
        self._last_time: float | None = None
        self._first_time: float | None = None
        self._tmp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        # One swscale context per thread that converts frames (see prepare()).
        self._reformatters = threading.local()
        self._closed = False
        self._on_notice = on_notice
        self._audio: _AudioCopy | None = None
        self.audio_notice: str | None = None
        if audio_from is not None:
            self.copy_audio_from(audio_from)

    # ------------------------------------------------------------------ protocol
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # ------------------------------------------------------------------ audio
    def copy_audio_from(self, source: PathLike) -> bool:
        """Copy ``source``'s sound into the output, untouched (remuxed, not re-encoded).

        Call it before the first :meth:`write`. The audio follows the frame
        times given to :meth:`write`: the first frame's time is the source time
        where the sound starts, and it stops with the last frame (so a
        ``start``/``end``/``max_frames`` range of a :class:`VideoReader` keeps
        its own stretch of sound). Frames written without times take the
        sound from the start of the source.

        When the sound cannot be kept (GIF or PNG output, a codec the container
        does not take, such as AAC in .webm, or damaged audio packets), the
        video is still written, and one line starting with ``"audio dropped:"``
        goes to ``on_notice`` (a ``UserWarning`` without it) and stays in
        :attr:`audio_notice`.

        Args:
          source: the file the frames come from.

        Returns:
          ``True`` if the sound will be copied; ``False`` if it is dropped or
          ``source`` has no audio track.
        """
        if self._container is not None or self.frames_written or self._closed:
            raise VizAttnError(
                f"copy_audio_from() after frames were written to {self._display!r}; "
                "call it before the first write()."
            )
        if self._audio is not None:
            self._audio.close()
        self._audio, notice = _open_audio(source, self.kind)
        if notice:
            self._notice(notice)
        return self._audio is not None

    @property
    def audio(self) -> str:
        """``"kept"`` (being copied), ``"dropped"`` (see :attr:`audio_notice`) or ``"none"``."""
        if self._audio is not None:
            return "kept"
        return "dropped" if self.audio_notice else "none"

    def _notice(self, message: str) -> None:
        self.audio_notice = message
        if self._on_notice is not None:
            self._on_notice(message)
        else:
            warnings.warn(message, stacklevel=3)

    def _drop_audio(self, why: str) -> None:
        audio, self._audio = self._audio, None
        if audio is not None:
            audio.close()
            after = f" after {audio.copied:.2f} s" if audio.copied > 0 else ""
            self._notice(f"audio dropped{after}: {why}.")

    def _add_audio_stream(self) -> None:
        """Adds the audio stream and writes the header (falling back to no audio)."""
        if self._audio is not None:
            try:
                self._audio.output_stream = self._container.add_stream_from_template(
                    self._audio.stream
                )
                self._audio.output_stream.codec_context.codec_tag = "\0\0\0\0"
                self._container.start_encoding()
                return
            except Exception:  # noqa: BLE001 - the muxer refused it: write the video alone
                fmt = self._container.format.name
                with contextlib.suppress(Exception):
                    self._container.close()
                self._drop_audio("the output format refused the source's audio")
                self._container = av.open(str(self._tmp), "w", format=fmt, options=self._copts)
                self._open_stream(*self._source_size)
        self._container.start_encoding()

    def _mux_audio(self, until: float) -> None:
        """Copies the source's audio packets that start before output time ``until``."""
        if self._audio is None:
            return
        if self._audio.shift is None:
            self._audio.shift = self._first_time or 0.0
        try:
            for packet in self._audio.packets_until(until):
                self._container.mux(packet)
        except Exception:  # noqa: BLE001 - damaged audio must not cost the video
            self._drop_audio("the source's audio packets are damaged")

    def __del__(self) -> None:  # an unclosed writer leaves no temporary behind
        with contextlib.suppress(Exception):
            if not self._closed:
                self.abort()

    # ------------------------------------------------------------------ setup
    def _start(self, height: int, width: int) -> None:
        self._source_size = (height, width)
        suffix = ".png" if self.kind == "png" else self.path.suffix
        self._tmp = _temporary_name(self.path, "" if self.kind == "png" else suffix)
        if self.kind == "png":
            try:
                os.mkdir(self._tmp)  # mode 0o777 minus umask, like any new folder
            except OSError as e:
                self._tmp = None
                raise self._os_error(e) from None
            self.size = (height, width)
            return
        try:
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(fd)
        except OSError as e:
            self._tmp = None
            raise self._os_error(e) from None
        fmt = {"mp4": "mp4", "mov": "mov", "matroska": "matroska", "webm": "webm", "gif": "gif"}[
            self.kind
        ]
        self._copts = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        try:
            self._container = av.open(str(self._tmp), "w", format=fmt, options=self._copts)
            self._open_stream(height, width)
            self._add_audio_stream()
        except av.FFmpegError as e:
            self.abort()
            raise VizAttnError(
                f"cannot start writing {self._display!r} ({_ffmpeg_reason(e)}); "
                "try another codec or output format."
            ) from None

    def _os_error(self, error: OSError) -> VizAttnError:
        """One line for an OS error while writing (never the hidden temporary file's name)."""
        return VizAttnError(
            f"cannot write {self._display!r} ({_os_reason(error)}); "
            "check free disk space and choose a writable output folder."
        )

    def _encoder(self) -> tuple[str, str, dict[str, str]]:
        """``(codec, pixel format, options)`` of this writer's video stream."""
        if self.kind == "gif":
            codec, pix_fmt, options = "gif", "pal8", {}
        elif self.kind == "webm" or (self.codec or "").startswith("libvpx"):
            codec = self.codec or "libvpx-vp9"
            pix_fmt = "yuv420p"
            crf = 32 if self.crf is None else self.crf
            options = {
                "deadline": "realtime",
                "cpu-used": "8",
                "row-mt": "1",
                "crf": str(crf),
                "b": "0",
            }
        else:
            codec = self.codec or "libx264"
            pix_fmt = "yuv420p"
            crf = 23 if self.crf is None else self.crf
            options = {"crf": str(crf), "preset": self.preset} if codec.startswith("libx26") else {}
        options.update(self.options)
        return codec, pix_fmt, options

    def _pad_for(self, height: int, width: int) -> tuple[int, int]:
        """Rows and columns added (edge repeated) at the bottom and right of a frame."""
        codec, pix_fmt, _ = self._encoder()
        if self.kind != "png" and pix_fmt == "yuv420p" and not codec.startswith("libvpx"):
            return height % 2, width % 2  # H.264 4:2:0 needs even sizes
        return 0, 0

    def _open_stream(self, height: int, width: int) -> None:
        codec, pix_fmt, options = self._encoder()
        pad_h, pad_w = self._pad_for(height, width)
        stream = self._container.add_stream(codec, rate=self.fps, options=options)
        stream.width = width + pad_w
        stream.height = height + pad_h
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = self._time_base
        stream.thread_type = "AUTO"
        if pix_fmt == "yuv420p":
            cc = stream.codec_context
            cc.colorspace = 1  # BT.709 matrix, primaries and transfer: what browsers assume
            cc.color_primaries = 1
            cc.color_trc = 1
            cc.color_range = 1  # limited ("TV") range
        self._stream = stream
        self.size = (stream.height, stream.width)

    # ------------------------------------------------------------------ writing
    def _next_pts(self, time: float | None) -> int:
        if time is None:
            return 0 if self._last_pts is None else self._last_pts + _TICKS
        t = float(time)
        if not math.isfinite(t):
            raise VizAttnError(
                f"frame time must be a finite number of seconds, got {time!r}; "
                "pass time=None or seconds."
            )
        if self._first_time is None:  # the first timed frame sets the origin
            after = 0 if self._last_pts is None else self._last_pts + _TICKS
            self._first_time = t - float(after * self._time_base)
        if self._last_time is not None and t <= self._last_time:
            raise VizAttnError(
                f"frame times must increase: got time={t!r} s after {self._last_time!r} s; "
                "pass increasing times, or time=None for a constant frame rate."
            )
        self._last_time = t
        pts = round((t - self._first_time) / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        return max(pts, 0)

    def prepare(self, image: Any) -> PreparedFrame:
        """Does the part of :meth:`write` that needs no encoder, ahead of it.

        Checks ``image`` and converts it to the encoder's pixel format (for
        H.264, RGB to BT.709 YUV 4:2:0: about a third of the cost of writing a
        frame). Safe to call from several threads at once, so that they convert
        frames while one thread writes them in order: ``write(prepare(image))``
        is ``write(image)``.

        Args:
          image: ``uint8`` RGB ``[H, W, 3]`` (grey ``[H, W]`` and RGBA are accepted).
        """
        array = _as_rgb(image, self.frames_written)
        size = (int(array.shape[0]), int(array.shape[1]))
        if self.kind == "png":
            return PreparedFrame(size, array, None)
        pad = self._pad_for(*size)
        if pad != (0, 0):
            array = np.pad(array, ((0, pad[0]), (0, pad[1]), (0, 0)), mode="edge")
        return PreparedFrame(size, None, self._make_frame(array))

    @property
    def yuv420(self) -> bool:
        """Whether :meth:`prepare` gives YUV 4:2:0 frames (video files but GIF),
        whose :meth:`planes` can be painted on before :meth:`write`."""
        return self.kind not in ("png", "gif")

    def planes(self, prepared: PreparedFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Writable views of a prepared YUV 4:2:0 frame: ``Y [H, W]``, ``U, V [H/2, W/2]``.

        BT.709, limited range. Writing into them changes what :meth:`write` encodes.

        Args:
          prepared: what :meth:`prepare` returned, for a writer with :attr:`yuv420`.
        """
        frame = prepared.frame
        if frame is None or frame.format.name != "yuv420p":
            raise VizAttnError(
                f"planes() needs a frame prepared as YUV 4:2:0, not for {self._display!r} "
                f"({self.kind} output); write RGB images to it instead."
            )
        views = []
        for plane in frame.planes:
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            views.append(rows[:, : plane.width])
        return views[0], views[1], views[2]

    def to_yuv(self, image: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Y, U, V)`` of an RGB image, converted as :meth:`prepare` converts frames."""
        return self.planes(self.prepare(image))

    def write(self, image: Any, time: float | None = None) -> None:
        """Append one frame.

        Args:
          image: ``uint8`` RGB ``[H, W, 3]`` (grey ``[H, W]`` and RGBA are accepted),
            or what :meth:`prepare` returned for it; every frame must have the
            size of the first.
          time: presentation time in seconds; ``None`` places the frame ``1 / fps``
            after the previous one. Times must increase; the first becomes 0.
            Ignored for PNG folders (which store no timing).
        """
        if self._closed:
            raise VizAttnError(
                f"write() on a closed VideoWriter for {self._display!r}; open a new VideoWriter."
            )
        if not isinstance(image, PreparedFrame):
            prepared = self.prepare(image)
        elif (image.frame is None) != (self.kind == "png"):
            raise VizAttnError(
                f"write() got a frame prepared for another kind of output than "
                f"{self._display!r}; pass the image, or prepare it with this writer."
            )
        else:
            prepared = image
        height, width = prepared.size
        if self._source_size is None:
            self._start(height, width)
        elif (height, width) != self._source_size:
            raise VizAttnError(
                f"frame {self.frames_written} is {width}x{height} but the video is "
                f"{self._source_size[1]}x{self._source_size[0]}; "
                "resize frames to one size before writing."
            )
        pts = self._next_pts(time)
        if self.kind == "png":
            from PIL import Image

            name = self._tmp / f"frame_{self.frames_written:06d}.png"
            try:
                Image.fromarray(prepared.array).save(name, compress_level=1)
            except OSError as e:
                raise self._os_error(e) from None
        else:
            frame = prepared.frame
            frame.pts = pts
            frame.time_base = self._time_base
            try:
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
            except av.FFmpegError as e:
                raise VizAttnError(
                    f"encoding frame {self.frames_written} of {self._display!r} failed "
                    f"({_ffmpeg_reason(e)}); check the frames and the output format."
                ) from None
        self._last_pts = pts
        self.frames_written += 1
        if self._audio is not None:
            self._mux_audio(float(pts * self._time_base))

    def _make_frame(self, array: np.ndarray) -> Any:
        if self.kind == "gif":
            from PIL import Image

            quantized = Image.fromarray(array).quantize(256, method=Image.Quantize.FASTOCTREE)
            rgb = np.asarray(quantized.getpalette()[: 256 * 3], dtype=np.uint8).reshape(-1, 3)
            palette = np.zeros((256, 4), np.uint8)
            palette[:, 0] = 255  # ARGB, opaque
            palette[: len(rgb), 1:] = rgb
            return av.VideoFrame.from_ndarray((np.asarray(quantized), palette), format="pal8")
        frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        reformatter = getattr(self._reformatters, "value", None)
        if reformatter is None:
            reformatter = self._reformatters.value = VideoReformatter()
        return reformatter.reformat(
            frame, format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG"
        )

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Finish encoding and move the result onto the destination.

        Returns:
          The destination path.

        Raises:
          VizAttnError: no frame was written, or encoding failed (nothing is left behind).
        """
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise VizAttnError(
                f"nothing to write to {self._display!r}: no frames were given; "
                "call write() at least once before closing."
            )
        try:
            if self._container is not None:
                if self._audio is not None and self._last_pts is not None:
                    self._mux_audio(float((self._last_pts + _TICKS) * self._time_base))
                    self._audio.close()
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                self._container.close()
                self._container = None
            self._publish()
        except BaseException as e:
            self.abort()
            if isinstance(e, (av.FFmpegError, OSError)):
                raise VizAttnError(
                    f"could not finish writing {self._display!r} ({_ffmpeg_reason(e)}); "
                    "check free disk space and the output folder."
                ) from None
            raise
        self._closed = True
        return self.path

    def _publish(self) -> None:
        assert self._tmp is not None
        if self.kind != "png" or not self.path.exists():
            os.replace(self._tmp, self.path)
        else:
            # An existing folder of frames: swap it out, then delete the old one.
            backup = _temporary_name(self.path, ".old")
            os.replace(self.path, backup)
            try:
                os.replace(self._tmp, self.path)
            except BaseException:
                os.replace(backup, self.path)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        self._tmp = None

    def abort(self) -> None:
        """Stop without producing output: delete the temporary file. Safe to call twice."""
        self._closed = True
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                if self._tmp.is_dir():
                    shutil.rmtree(self._tmp)
                else:
                    self._tmp.unlink()
            self._tmp = None


def _is_png_frame_name(name: str) -> bool:
    return name.startswith("frame_") and name.endswith(".png")


def write_video(
    path: PathLike,
    frames: Iterable[Any],
    *,
    fps: float | Fraction,
    times: Iterable[float] | None = None,
    **options: Any,
) -> Path:
    """Write a sequence of frames in one call.

    Args:
      path: destination (format from the suffix, see :class:`VideoWriter`).
      frames: ``uint8`` array ``[T, H, W, 3]`` or an iterable of images.
      fps: frame rate.
      times: optional presentation times in seconds, one per frame.
      **options: passed to :class:`VideoWriter` (``crf``, ``codec``, ``inputs``...).

    Returns:
      The destination path.

    >>> import numpy as np
    >>> write_video("grey.gif", np.full((5, 32, 32, 3), 128, np.uint8), fps=5)   # doctest: +SKIP
    PosixPath('.../grey.gif')
    """
    with VideoWriter(path, fps=fps, **options) as writer:
        if times is None:
            for image in frames:
                writer.write(image)
        else:
            images, stamps = iter(frames), iter(times)
            for image in images:
                t = next(stamps, None)
                if t is None:
                    raise VizAttnError(
                        f"fewer times than frames for {os.fspath(path)!r} (ran out at frame "
                        f"{writer.frames_written}); pass one time per frame."
                    )
                writer.write(image, t)
    return writer.path
