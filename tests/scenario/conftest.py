"""The scenario tier's fixtures: `bot` and `start_bot` give an `InProcessBot` (this process, the
production wiring) where tests/conftest.py gives a process; `sqlite_url` is a copy of a database
upgraded once per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.db import migrate
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.scenario.inprocess import InProcessBot, migrated_copy

BotFactory = Callable[..., InProcessBot]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "bot.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(migrated_template: Path, tmp_path: Path) -> str:
    return migrated_copy(migrated_template, tmp_path / "bot.db")


@pytest.fixture
def start_bot(
    slack: FakeSlack, polytomic: FakePolytomic, sqlite_url: str, request: pytest.FixtureRequest
) -> Iterator[BotFactory]:
    """start_bot(database_url=..., **ENV): the bot in this process (PostgreSQL is upgraded as
    `serve` would upgrade it; the SQLite copy already is)."""
    started: list[InProcessBot] = []

    def start(*, database_url: str | None = None, **env: str | None) -> InProcessBot:
        url = database_url or sqlite_url
        if url != sqlite_url:
            migrate.upgrade(url)
        bot = InProcessBot(slack, polytomic, url, **env)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for bot in started:
            print(f"---- bot log ----\n{bot.logs()[-6000:]}")


@pytest.fixture
def bot(start_bot: BotFactory) -> InProcessBot:
    return start_bot()
