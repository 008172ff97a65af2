from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.db import migrate
from bot.db.engine import Database
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack
from tests.harness import POLYTOMIC_KEY, BotProcess, base_env, free_port

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()
    assert not fake.internal_errors, fake.internal_errors
    # Whatever a test did, the bot never called Slack while a Retry-After told it to wait.
    assert not fake.window_violations, [v.describe() for v in fake.window_violations]


@pytest.fixture
def polytomic() -> Iterator[FakePolytomic]:
    fake = FakePolytomic(api_key=POLYTOMIC_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base.replace("postgres://", "postgresql+psycopg://", 1))
    name = f"pbtest_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BotFactory = Callable[..., BotProcess]


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL (skipped without
    TEST_DATABASE_URL), disposed of afterwards."""
    url = (
        f"sqlite:///{tmp_path / 'bot.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    migrate.upgrade(str(url))
    database = Database(str(url))
    yield database
    database.dispose()


@pytest.fixture
def start_bot(
    slack: FakeSlack,
    polytomic: FakePolytomic,
    sqlite_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[BotFactory]:
    """Start real bot processes: start_bot(command="serve", database_url=..., **ENV)."""
    started: list[BotProcess] = []

    def start(
        command: str = "serve", *, database_url: str | None = None, wait: bool = True, **env: str | None
    ) -> BotProcess:
        environment = base_env(slack, polytomic, database_url or sqlite_url, **env)
        port = free_port() if command == "serve" else None
        bot = BotProcess(command, environment, tmp_path, port)
        started.append(bot)
        return bot.start(wait=wait)

    yield start
    for bot in started:
        bot.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for bot in started:
            print(f"---- {bot.command} log ----\n{bot.logs()[-6000:]}")


@pytest.fixture
def bot(start_bot: BotFactory) -> BotProcess:
    return start_bot()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
