"""/readyz and /metrics are unauthenticated: a flood of them must cost the database (and so the
acks) next to nothing. The real WSGI app on real services and a real SQLite file, called in
process; the migration scripts and the database are watched by counting their callers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot import web
from bot.app import create_bolt_app
from bot.config import Mode, load_settings
from bot.db import health, migrate
from bot.services import build_services


def get(app: Callable[..., Any], path: str) -> tuple[str, bytes]:
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": None}
    body = b"".join(app(environ, lambda status, _headers: statuses.append(status)))
    return statuses[0], body


def test_a_flood_of_probes_reads_the_scripts_once_and_the_database_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url)
    settings = load_settings(
        Mode.SERVE,
        {
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
            "POLYTOMIC_API_KEY": "test-polytomic-key",
            "DATABASE_URL": url,
        },
    )
    services = build_services(settings, with_tracker=False, responders=1)
    try:
        app = web.create_wsgi_app(create_bolt_app(services), services)
        scripts = 0
        writes = 0
        load_scripts = migrate.ScriptDirectory.from_config
        write_problem = health.write_problem

        def counted_scripts(*args: Any, **kwargs: Any) -> Any:
            nonlocal scripts
            scripts += 1
            return load_scripts(*args, **kwargs)

        def counted_write(*args: Any, **kwargs: Any) -> Any:
            nonlocal writes
            writes += 1
            return write_problem(*args, **kwargs)

        health.head_revision.cache_clear()
        monkeypatch.setattr(migrate.ScriptDirectory, "from_config", counted_scripts)
        monkeypatch.setattr(health, "write_problem", counted_write)
        for _ in range(50):
            assert get(app, "/readyz") == ("200 OK", b"ready\n")
            status, body = get(app, "/metrics")
            assert status == "200 OK" and b"polytomic_bot_operations_in_flight 0.0" in body
        assert scripts == 1  # Alembic's script directory, once for the process
        assert writes == 1  # the write probe, once in the (sub-second) flood
    finally:
        services.stop(1)
