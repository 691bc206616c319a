"""Generated blocks inside hand-written docs: one splice and one write-or-check, shared by
``gen_config_doc.py`` and ``gen_iam_doc.py`` (their tests call each script's ``render``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def splice(doc: Path, text: str, begin: str, end: str, block: str) -> str:
    """``text`` with everything between the ``begin`` and ``end`` markers replaced."""
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not (sep and sep2):
        raise SystemExit(f"{doc}: markers {begin!r} ... {end!r} not found")
    return f"{head}{begin}\n{block}\n{end}{tail}"


def write_or_check(
    doc: Path, render: Callable[[str], str], script: str, argv: Sequence[str]
) -> int:
    """Rewrite ``doc``; with ``--check`` only report (exit 1) when it is stale."""
    current = doc.read_text()
    expected = render(current)
    if "--check" in argv:
        if current != expected:
            print(f"{doc} is stale: run {script}", file=sys.stderr)
            return 1
        return 0
    doc.write_text(expected)
    return 0
