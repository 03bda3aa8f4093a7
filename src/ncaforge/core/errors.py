"""The one base of every mistake the toolkit reports to its user (bad input, a damaged file, a
diverged run): the `nca` command prints these as one line, never a traceback."""

from __future__ import annotations


class NcaError(Exception):
    """Something given or asked for is wrong; the message names it and says what is expected."""


class ConfigError(NcaError, ValueError):
    """A config or task field (``where``, e.g. ``GrowingTask.steps``) with the wrong type or an
    impossible value (``problem``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem
