"""bot.db.engine.Database against a PostgreSQL whose network path goes silent (issue 12), through
a TCP proxy that holds every byte both ways (bot.fakes.tcp_proxy): a write answers within its
bound whatever the database does, and says truly what happened. Given up on before its COMMIT,
it never commits, even once the path is back; given up on after its COMMIT went out, it is
OutcomeUnknown, and indeed it may land. Statements and commits outside write_within are bounded
too. The database is real; so are the sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.db.bounds import OutcomeUnknown
from bot.db.engine import Database
from bot.fakes.tcp_proxy import TcpProxy
from tests.harness import query_db, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[TcpProxy, Database]]:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    Database(postgres_url).engine.dispose()
    query_db(postgres_url, "SELECT 1")
    direct = Database(postgres_url)
    with direct.core() as conn:
        conn.exec_driver_sql("CREATE TABLE marks (label text PRIMARY KEY)")
    direct.dispose()
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        db = Database(url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False))
        with db.core() as conn:  # a pooled connection through the proxy, as a running bot has
            conn.exec_driver_sql("SELECT 1")
        yield proxy, db
        proxy.restore()
        db.dispose()


def marks(postgres_url: str) -> list[str]:
    return [str(row[0]) for row in query_db(postgres_url, "SELECT label FROM marks ORDER BY label")]


def insert(label: str) -> Any:
    def work(session: Session) -> str:
        session.connection().exec_driver_sql("INSERT INTO marks VALUES (%(label)s)", {"label": label})
        return label

    return work


def test_a_write_given_up_before_its_commit_never_lands(
    proxied: tuple[TcpProxy, Database], postgres_url: str
) -> None:
    proxy, db = proxied
    proxy.blackhole()
    started = time.monotonic()
    with pytest.raises(OperationalError):
        db.write_within(insert("abandoned"), 1.0)
    assert time.monotonic() - started < 1.5
    time.sleep(2.0)  # the worker's own waits end too (its connection closed, unsent COMMIT none)
    proxy.restore()  # everything held is delivered now: an INSERT, never a COMMIT
    time.sleep(1.0)
    assert marks(postgres_url) == []
    assert db.write_within(insert("after"), 2.0) == "after"
    assert marks(postgres_url) == ["after"]


def test_a_commit_without_an_answer_is_in_doubt(
    proxied: tuple[TcpProxy, Database], postgres_url: str
) -> None:
    proxy, db = proxied

    def then_go_silent(session: Session) -> str:
        insert("in doubt")(session)
        proxy.blackhole()  # the INSERT was answered; the COMMIT will not be
        return "in doubt"

    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        db.write_within(then_go_silent, 1.0)
    assert time.monotonic() - started < 2.0
    proxy.restore()
    # "Can't tell" was the truth: the COMMIT was on its way, and TCP delivers it once it can.
    wait_until(lambda: marks(postgres_url) == ["in doubt"], 10, 0.1, "the held COMMIT to land")


def test_any_transaction_ends_within_its_window(proxied: tuple[TcpProxy, Database]) -> None:
    proxy, db = proxied
    proxy.blackhole()
    started = time.monotonic()
    with pytest.raises(OperationalError), db.core(within=1.0) as conn:
        conn.exec_driver_sql("SELECT 1")
    assert time.monotonic() - started < 2.0  # the window; no new connection once it is spent
    proxy.restore()
    with db.core() as conn:  # the pool recovers by itself
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_the_server_side_timeouts_are_set(proxied: tuple[TcpProxy, Database]) -> None:
    _proxy, db = proxied
    with db.core() as conn:
        settings = {
            name: conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
        tcp_user_timeout = conn.exec_driver_sql("SHOW tcp_user_timeout").scalar()
    assert settings == {
        "statement_timeout": "5s",
        "lock_timeout": "2s",
        "idle_in_transaction_session_timeout": "30s",
    }
    assert tcp_user_timeout is not None
