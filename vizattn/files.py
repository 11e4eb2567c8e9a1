"""Writing files safely: the one atomic write of vizattn.

Every output vizattn writes (caches, figures, masks, weights, reports) goes to a
temporary file in the destination's folder and is renamed into place only when
complete, so a failure or Ctrl-C never leaves a partial file and never
touches an existing one. An OS error (no such folder, no permission, a full
disk) is one :class:`~vizattn.errors.VizAttnError` naming the output, never the
temporary file.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with atomic_path(os.path.join(folder, "a.txt")) as tmp:
...     with open(tmp, "w") as f:
...         _ = f.write("done")
>>> open(os.path.join(folder, "a.txt")).read()
'done'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from vizattn.errors import VizAttnError

__all__ = ["atomic_path", "atomic_write"]

# New files get the usual permissions (0o666 minus the umask), not mkstemp's 0o600.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[str]:
    """Yields a temporary path beside ``path``; renames it to ``path`` if the block succeeds.

    Args:
      path: the destination.
      suffix: the temporary file's ending (default: ``path``'s own, so that
        libraries which pick a format by extension still do).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    ending = os.path.splitext(base)[1] if suffix is None else suffix
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=f".tmp{ending}", dir=directory)
    except OSError as e:
        raise _cannot_write(path, directory, e) from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):  # named after the output, not the temporary file
            raise _cannot_write(path, directory, e) from None
        raise


def _cannot_write(path: str, directory: str, error: OSError) -> VizAttnError:
    if not os.path.isdir(directory):
        return VizAttnError(
            f"output folder does not exist: {directory!r} (for {path!r}); create it or "
            "pass a path in an existing folder."
        )
    return VizAttnError(
        f"cannot write {path!r} ({error.strerror or error}); pass a path in a writable "
        "folder with free space."
    )


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], Any], *, mode: str = "wb"
) -> str:
    """Calls ``write(file)`` on a temporary file beside ``path``, then renames it into place."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        write(f)
    return os.fspath(path)
