"""Griffe extension for the docs build: render Sphinx roles in docstrings as code.

A few docstrings in ``src/`` use reStructuredText roles (``:class:`~a.b.C```,
``:meth:`name```), which the Google-style parser shows literally. This extension
rewrites each role to a plain code span (``C``, ``name()``) before parsing. It
is a stopgap: once the docstrings use Markdown cross-references
(``[`C`][a.b.C]``) or plain backticks, it changes nothing and can be removed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj):`(~?)([^`]+)`")


def _replace(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    name = target.rsplit(".", 1)[-1] if short else target
    if match.group(0).startswith((":meth:", ":func:", ":py:meth:", ":py:func:")):
        name += "()"
    return f"`{name}`"


def strip_roles(text: str) -> str:
    """Return ``text`` with every Sphinx role replaced by a code span."""
    return _ROLE.sub(_replace, text)


class SphinxRolesAsCode(griffe.Extension):
    """Rewrite Sphinx roles in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Clean the docstring of each object as it is loaded."""
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
