"""Lines of a file the way git and ripgrep read them, or None when that is unclear.

git's config parser and ripgrep's ignore files end a line at LF only (a CR right
before it is dropped). Python's ``str.splitlines`` and text-mode reads also break
at a lone CR, form feed, vertical tab, FS/GS/RS, NEL and the Unicode line and
paragraph separators. A file holding one of those could read as two lines here
and one line there: a ``[filter "x"] ;<CR>[y]`` that hides a filter's program, a
``.gitignore`` line ``x<CR>.env`` that seems to leave ``.env`` out of a search.
"""

from __future__ import annotations

import re

_AMBIGUOUS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (but tab and LF) and separators: read differently by others."""


def lf_lines(text: str) -> list[str] | None:
    """``text`` split at LF, with a CR right before it dropped.

    Args:
        text: The file's text, read without newline translation (``newline=""``).

    Returns:
        The lines, or None when the text holds any other control character or
        line separator (a caller that checks safety treats that as unsafe).
    """
    text = text.replace("\r\n", "\n")
    if _AMBIGUOUS.search(text):
        return None
    return text.split("\n")
