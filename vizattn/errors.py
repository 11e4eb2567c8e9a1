"""The one exception type vizattn raises for user-facing problems.

Public entry points catch lower-level failures and re-raise them as
:class:`VizAttnError` with context added (video path, layer, shape), so a
command-line user sees one line that names the problem and the way out:

>>> from vizattn.errors import VizAttnError
>>> try:
...     raise VizAttnError("unknown layer 'blok3'; did you mean 'block3'?")
... except VizAttnError as e:
...     print(e)
unknown layer 'blok3'; did you mean 'block3'?
"""

from __future__ import annotations

__all__ = ["VizAttnError"]


class VizAttnError(ValueError):
    """A problem with what the user asked for (bad input, unknown name, missing file).

    It subclasses :class:`ValueError`, so code that already catches
    ``ValueError`` keeps working.
    """
