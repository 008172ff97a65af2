"""The settings as `polytomic-bot check` sees them, and the check that reports them.

`load` collects every ConfigError, not only the first as start-up does: it drops the culprit
and loads again, so that one bad variable does not hide the checks that do not need it. A check
that needs a variable that was dropped calls `Loaded.require_well_formed` and fails naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.check.result import Failed, Result
from bot.config import SETTINGS_HELP, ConfigError, Mode, Settings, load_settings


@dataclass
class Loaded:
    """The settings with every malformed variable left out, and what was wrong with each."""

    settings: Settings
    errors: list[ConfigError] = field(default_factory=list)
    bad: dict[str, ConfigError] = field(default_factory=dict)  # variable -> its error
    present: int = 0  # how many known variables are set

    def require_well_formed(self, *variables: str) -> None:
        for name in variables:
            error = self.bad.get(name)
            if error is not None:
                raise Failed(
                    f"cannot check: {error}",
                    f"correct {error.variable} (see the settings line and .env.example)",
                )


class Unloadable(Exception):
    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def load(environ: Mapping[str, str]) -> Loaded:
    """Every ConfigError, not only the first: drop the culprit and load again."""
    env = dict(environ)
    errors: list[ConfigError] = []
    bad: dict[str, ConfigError] = {}
    for _ in range(2 * len(SETTINGS_HELP) + 2):
        try:
            settings = load_settings(Mode.CHECK, env)
        except ConfigError as error:
            errors.append(error)
            culprits = [error.variable]
            if error.variable == "POLYTOMIC_ORGANIZATION_ID":
                # A deployment key without its organization: neither can be used.
                culprits.append("POLYTOMIC_DEPLOYMENT_KEY")
            culprits = [name for name in culprits if name in env]
            if not culprits:
                raise Unloadable(error) from None
            for name in culprits:
                del env[name]
                bad.setdefault(name, error)
            bad.setdefault(error.variable, error)
            continue
        present = sum(1 for name in SETTINGS_HELP if (environ.get(name) or "").strip())
        return Loaded(settings, errors, bad, present)
    raise Unloadable(errors[-1])


def check_settings(loaded: Loaded) -> Result:
    if loaded.errors:
        names = ", ".join(dict.fromkeys(e.variable for e in loaded.errors))
        raise Failed(
            "; ".join(str(e) for e in loaded.errors),
            f"correct {names} (every variable is described in .env.example)",
        )
    return Result(
        "settings",
        True,
        f"every value is well-formed ({loaded.present} of {len(SETTINGS_HELP)} variables set)",
    )
