"""Helpers of the reliability tests: the case counter and message checks."""
from __future__ import annotations

import json
import os


def record(name: str, **counts) -> None:
    """Append one JSON line ``{"name": ..., **counts}`` to ``$POSEDIFF_RELIABILITY_LOG`` (if set).

    ``scripts/reliability_report.py`` sets the variable, runs these tests and sums the lines, so the numbers
    in docs/reliability.md come from an actual run.
    """
    path = os.environ.get("POSEDIFF_RELIABILITY_LOG")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"name": name, **counts}) + "\n")


def assert_clear_message(exc: BaseException, arg: str, found: tuple[str, ...] = ()) -> str:
    """The error message names ``arg``, says what was expected, shows what was found, and is one line.

    A :class:`~posediff.errors.SpecError` lists one line per problem (``path: message``), each optionally
    followed by an indented hint with the accepted values ("available samplers: ..."): one of its problems
    must name ``arg`` and show the found value on its own line, and the problem or its hint must say what
    was expected. Returns the line that was checked.
    """
    from posediff.errors import SpecError

    msg = str(exc)
    assert msg.strip(), f"empty message from {type(exc).__name__}"
    if isinstance(exc, SpecError):
        lines = [f"{p.path}: {p.message}" if p.path else p.message for p in exc.problems]
        hits = [(ln, p) for ln, p in zip(lines, exc.problems) if arg in ln or (arg in exc.origin and len(lines) == 1)]
        assert hits, f"no problem names {arg!r}: {msg!r}"
        line, problem = hits[0]
        assert "\n" not in line, f"a problem must be one line: {line!r}"
        said = (line + " " + problem.hint).lower()
        words = ("expected", "must", "available", "accepted", "valid:")
    else:
        lines = msg.splitlines()
        assert len(lines) == 1, f"message must be one line: {msg!r}"
        line = lines[0]
        assert arg in line, f"message does not name {arg!r}: {line!r}"
        said = line.lower()
        words = ("expected", "must")
    assert any(w in said for w in words), f"message does not say what was expected: {msg!r}"
    for token in found:
        assert token in line, f"message does not show the found value {token!r}: {line!r}"
    return line
