"""The one error hierarchy of posediff.

Every error raised on purpose derives from :class:`PosediffError`, so callers can catch
all of posediff's complaints with one ``except``. This module imports nothing of posediff.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PosediffError",
    "Problem",
    "SpecError",
    "UnknownComponentError",
    "RegistryError",
    "PluginError",
    "InputError",
    "CheckpointError",
    "DataError",
    "ContractError",
    "DependencyError",
]


class PosediffError(Exception):
    """Base of every error posediff raises on purpose.

    ``cli_message``: the same message in command-line words (``--camera`` instead of ``camera=``), where the
    two differ; the ``posediff`` command prints it instead of ``str(exc)``. Set with :meth:`for_cli`.
    """

    cli_message: str | None = None

    def for_cli(self, message: str) -> "PosediffError":
        """Attach the command-line wording of this error; returns ``self`` (``raise InputError(...).for_cli(...)``)."""
        self.cli_message = message
        return self


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec.

    Attributes:
        path: Key path written as an override path, e.g. ``"sampler.steps"`` or
            ``"fusion[0].blocks[1].heads"``.
        message: What is wrong and what was expected.
        hint: Optional did-you-mean or the accepted values.
    """

    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            text += f"\n    {self.hint}"
        return text


class SpecError(PosediffError, ValueError):
    """A spec (preset, file or dict) is invalid. ``problems`` lists every problem found;
    ``plugin_failed`` is True when one of them is a plugin whose entry point failed to import (the command
    line then exits with 3, as for a :class:`PluginError`)."""

    def __init__(self, problems: list[Problem] | str, origin: str = "spec", *, plugin_failed: bool = False) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems = list(problems)
        self.origin = origin
        self.plugin_failed = bool(plugin_failed)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return f"{self.origin}: {self.problems[0]}"
        body = "\n".join("  " + str(p).replace("\n", "\n  ") for p in self.problems)
        return f"{self.origin}: {len(self.problems)} problems\n{body}"


class UnknownComponentError(SpecError, LookupError):
    """A registered name was asked for that no built-in or plugin provides."""


class RegistryError(PosediffError, RuntimeError):
    """Bad kind, bad name, or one name provided twice."""


class PluginError(PosediffError, ImportError):
    """A plugin's entry point failed to load."""


class InputError(PosediffError, ValueError):
    """An array or argument given to a public function has the wrong shape, dtype or value."""


class CheckpointError(PosediffError, RuntimeError):
    """A checkpoint is missing, corrupted, of the wrong format, or has missing/unexpected keys."""


class DataError(PosediffError, ValueError):
    """A data file is missing or not in the expected layout."""


class ContractError(PosediffError, AssertionError):
    """A component breaks its kind's contract (raised by :func:`posediff.testing.check_component`)."""


class DependencyError(PosediffError, ImportError):
    """An optional package that a component needs is not installed (the message gives the install command)."""
