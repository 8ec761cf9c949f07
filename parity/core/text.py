"""Text from reports, archives and candidates made safe to print on a terminal.

A report is data anyone can write: an op name, an error message or a path may hold ANSI
escape sequences (which recolour, retitle or clear a terminal), carriage returns (which
overwrite a line) or bidirectional overrides. ``printable`` writes every such character as
a Python escape, so what is printed is exactly what the file holds, visibly.

Example:
    >>> printable("conv2d\\x1b[2J\\rok\\u202e")
    'conv2d\\\\x1b[2J\\\\rok\\\\u202e'
    >>> printable("two\\nlines", keep_newlines=True)
    'two\\nlines'
"""
from __future__ import annotations

import unicodedata


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control and format characters (categories Cc, Cf) escaped; newlines
    kept only if ``keep_newlines`` (else every message stays one line)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or (keep_newlines and ch == "\n") or
                   (ch in " " or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
                   else _escape(ch) for ch in text)
