"""What one check of `polytomic-bot check` answers: a `Result` (one report line), or `Failed`
raised from inside it with what is wrong and what to do.

A leaf of `bot.check`, so that every check module and the runner share the two types without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        detail = " ".join(self.detail.split())  # one line, whatever a remote sent
        if self.ok:
            return f"PASS {self.check}: {detail}"
        return f"FAIL {self.check}: {detail} — fix: {' '.join(self.fix.split())}"


class Failed(Exception):
    """Raised inside a check: what is wrong, and what to do about it."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix
