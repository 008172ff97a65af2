"""`polytomic-bot check`: the real console script against the fake Slack and Polytomic."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.check import BOT_SCOPES, INCIDENT_TEST_TEXT
from bot.config import SETTINGS_HELP
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(sys.executable).with_name("polytomic-bot")
BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
API_KEY = "test-polytomic-key"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY)
INCIDENT = "CINCIDENT"
CHECKS = (
    "settings",
    "slack token",
    "slack credentials for requests",
    "polytomic key",
    "polytomic events",
    "database",
    "incident channel",
)
LINE = re.compile(r"^(PASS|FAIL) ([a-z ]+): (.+)$")


@dataclass
class Report:
    returncode: int
    stdout: str
    stderr: str
    lines: dict[str, tuple[str, str]]  # check -> (PASS|FAIL, the rest of the line)

    def status(self) -> dict[str, str]:
        return {name: verdict for name, (verdict, _) in self.lines.items()}

    def text(self, check: str) -> str:
        return self.lines[check][1]

    def failed(self) -> list[str]:
        return [name for name, (verdict, _) in self.lines.items() if verdict == "FAIL"]


def clean_env(**settings: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "POLYTOMIC_")) and k not in SETTINGS_HELP
    }
    for key, value in settings.items():
        if value is not None:
            env[key] = value
    return env


def run_check(env: dict[str, str], cwd: Path) -> Report:
    result = subprocess.run(
        [str(EXECUTABLE), "check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    lines: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}\n{result.stdout}"
        assert match.group(2) not in lines, f"{match.group(2)} reported twice"
        lines[match.group(2)] = (match.group(1), match.group(3))
        if match.group(1) == "FAIL":
            assert " — fix: " in line, line
    assert tuple(lines) == CHECKS, result.stdout
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output, f"a secret value was printed:\n{output}"
    return Report(result.returncode, result.stdout, result.stderr, lines)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("check") / "bot.db"
    url = f"sqlite:///{path}"
    done = subprocess.run(
        [str(EXECUTABLE), "migrate"],
        env=clean_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return url


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def polytomic() -> Iterator[FakePolytomic]:
    with FakePolytomic(api_key=API_KEY, organization_name="Acme Data") as fake:
        yield fake


@dataclass
class Setup:
    slack: FakeSlack
    polytomic: FakePolytomic
    tmp_path: Path
    env: dict[str, str]


@pytest.fixture
def setup(slack: FakeSlack, polytomic: FakePolytomic, migrated_db: str, tmp_path: Path) -> Setup:
    env = clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        POLYTOMIC_API_KEY=API_KEY,
        POLYTOMIC_DEPLOYMENT_URL=polytomic.url,
        DATABASE_URL=migrated_db,
        INCIDENT_CHANNEL=INCIDENT,
    )
    return Setup(slack, polytomic, tmp_path, env)


def test_bot_scopes_are_the_ones_manifest_yml_asks_for() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


def test_everything_passes(setup: Setup) -> None:
    report = run_check(setup.env, setup.tmp_path)
    assert report.returncode == 0, report.stdout
    assert set(report.status().values()) == {"PASS"}, report.stdout

    token = report.text("slack token")
    assert "Fake Team" in token and "T0TEST" in token and "UBOT" in token
    assert "Acme Data" in report.text("polytomic key")
    assert setup.polytomic.organization_id in report.text("polytomic key")
    assert "serve" in report.text("slack credentials for requests")
    assert "newest migration" in report.text("database")
    assert INCIDENT in report.text("incident channel")

    # The incident channel heard the test message, and it was deleted again.
    (message,) = setup.slack.messages_in(INCIDENT, include_deleted=True)
    assert message.text == INCIDENT_TEST_TEXT
    assert message.deleted
    assert setup.slack.call_count("chat.delete") == 1
    assert len(setup.polytomic.requests_to("GET", r"^/api/me")) == 1


def _bad_token(s: Setup) -> None:
    s.env["SLACK_BOT_TOKEN"] = "xoxb-not-the-right-token"  # the fake answers invalid_auth
    del s.env["INCIDENT_CHANNEL"]  # posting there would need the token too (see below)


def _missing_scope(s: Setup) -> None:
    s.slack.set_scopes("commands,chat:write,chat:write.public,usergroups:read")


def _no_request_credentials(s: Setup) -> None:
    del s.env["SLACK_SIGNING_SECRET"]


def _polytomic_401(s: Setup) -> None:
    s.polytomic.inject("GET", r"^/api/me", status=401, body={"status": 401, "message": "invalid API key"})


def _not_migrated(s: Setup) -> None:
    path = s.tmp_path / "empty.db"
    sqlite3.connect(path).close()
    s.env["DATABASE_URL"] = f"sqlite:///{path}"


def _incident_not_postable(s: Setup) -> None:
    s.slack.add_channel(INCIDENT, "incidents", is_private=True, is_member=False)


@pytest.mark.parametrize(
    ("breakage", "check", "problem", "fix"),
    [
        pytest.param(_bad_token, "slack token", "invalid_auth", "SLACK_BOT_TOKEN", id="bad-slack-token"),
        pytest.param(_missing_scope, "slack token", "users:read", "manifest.yml", id="missing-scope"),
        pytest.param(
            _no_request_credentials,
            "slack credentials for requests",
            "SLACK_SIGNING_SECRET",
            "SLACK_APP_TOKEN",
            id="no-signing-secret-nor-app-token",
        ),
        pytest.param(_polytomic_401, "polytomic key", "401", "POLYTOMIC_API_KEY", id="polytomic-401"),
        pytest.param(_not_migrated, "database", "no schema", "polytomic-bot migrate", id="not-migrated"),
        pytest.param(_incident_not_postable, "incident channel", "not_in_channel", "/invite", id="incident"),
    ],
)
def test_each_check_fails_alone_with_its_fix(
    setup: Setup, breakage: Callable[[Setup], None], check: str, problem: str, fix: str
) -> None:
    breakage(setup)
    report = run_check(setup.env, setup.tmp_path)
    assert report.returncode == 1, report.stdout
    assert report.failed() == [check], report.stdout
    what, _, how = report.text(check).partition(" — fix: ")
    assert problem in what, report.stdout
    assert fix in how, report.stdout
    if check == "slack token" and problem == "users:read":
        assert "reinstall" in how
        assert "commands" not in what  # only the missing scopes are named
    if check == "database":
        tables = sqlite3.connect(setup.tmp_path / "empty.db").execute("SELECT name FROM sqlite_master")
        assert tables.fetchall() == []  # the check does not migrate
    if check == "incident channel":
        assert setup.slack.messages_in(INCIDENT, include_deleted=True) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dependent_checks_fail_and_name_the_cause(setup: Setup) -> None:
    """A bad token also fails the incident channel; an unreachable Polytomic names its URL;
    an app token alone is enough for Socket Mode."""
    del setup.env["SLACK_SIGNING_SECRET"]
    setup.env["SLACK_APP_TOKEN"] = "xapp-1-A0TEST-appTOKENvalue"
    setup.env["SLACK_BOT_TOKEN"] = "xoxb-not-the-right-token"
    setup.env["POLYTOMIC_DEPLOYMENT_URL"] = f"http://127.0.0.1:{_closed_port()}"
    report = run_check(setup.env, setup.tmp_path)
    assert report.returncode == 1
    assert report.failed() == ["slack token", "polytomic key", "polytomic events", "incident channel"], (
        report.stdout
    )
    assert "socket" in report.text("slack credentials for requests")
    assert "POLYTOMIC_DEPLOYMENT_URL" in report.text("polytomic key").partition(" — fix: ")[2]
    assert "SLACK_BOT_TOKEN" in report.text("incident channel")
    assert "xapp-1-A0TEST-appTOKENvalue" not in report.stdout + report.stderr
    assert "xoxb-not-the-right-token" not in report.stdout + report.stderr


def test_a_slack_that_does_not_answer_fails_its_check_within_seconds(setup: Setup) -> None:
    setup.slack.set_latency("auth.test", 90)  # far longer than the check waits
    started = time.monotonic()
    report = run_check(setup.env, setup.tmp_path)
    # It gave up after its 5 s instead of waiting 90; the margin absorbs a loaded machine's
    # process start-up (13 s was seen with the other core busy), so this is no speed target.
    assert time.monotonic() - started < 60
    assert report.failed() == ["slack token"], report.stdout
    assert "did not answer within 5 s" in report.text("slack token")
    assert "SLACK_API_URL" in report.text("slack token").partition(" — fix: ")[2]


def test_every_bad_or_missing_setting_is_reported_not_only_the_first(tmp_path: Path) -> None:
    db = tmp_path / "nowhere.db"
    env = clean_env(
        SLACK_BOT_TOKEN="xoxp-user-hunter2-token",
        PORT="eighty",
        INCIDENT_CHANNEL="#incidents",
        POLYTOMIC_DEPLOYMENT_KEY="hunter2-deployment-key",  # without its organization ID
        DATABASE_URL=f"sqlite:///{db}",
    )
    report = run_check(env, tmp_path)
    assert report.returncode == 1
    assert report.failed() == list(CHECKS), report.stdout
    settings = report.text("settings")
    for variable in ("SLACK_BOT_TOKEN", "PORT", "INCIDENT_CHANNEL", "POLYTOMIC_ORGANIZATION_ID"):
        assert variable in settings, report.stdout
    assert "SLACK_BOT_TOKEN" in report.text("slack token")
    assert "POLYTOMIC_ORGANIZATION_ID" in report.text("polytomic key")
    assert "INCIDENT_CHANNEL" in report.text("incident channel")
    assert "polytomic-bot migrate" in report.text("database")
    assert "hunter2" not in report.stdout + report.stderr
    assert not db.exists()  # checking does not create the database


@pytest.mark.parametrize("failure", ["timeout", "refused", "reset", "5xx"])
def test_polytomic_failures_are_told_apart(
    polytomic: FakePolytomic, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The Polytomic check, in process, for each way Polytomic can be unreachable: the line says
    which (a timeout, a refused or reset connection, a 5xx) and what to fix."""
    from bot import check

    url = polytomic.url
    if failure == "timeout":
        monkeypatch.setattr(check, "CALL_TIMEOUT", 0.3)  # not 5 s: the test would wait for it
        polytomic.set_latency(1.0, r"^/api/me$")
    elif failure == "refused":
        url = f"http://127.0.0.1:{_closed_port()}"
    elif failure == "reset":
        polytomic.fail_connection(r"^/api/me$")
    else:
        polytomic.inject("GET", r"^/api/me$", status=503, body=b"", retry_after=30)
    loaded = check.load(clean_env(POLYTOMIC_API_KEY=API_KEY, POLYTOMIC_DEPLOYMENT_URL=url))
    with pytest.raises(check.Failed) as excinfo:
        check.check_polytomic(loaded)
    detail, fix = excinfo.value.detail, excinfo.value.fix
    expected = {
        "timeout": {f"Polytomic at {url} did not answer within 0.3 s"},
        "refused": {f"could not reach Polytomic at {url} (ConnectError)"},
        "reset": {  # an RST, or a FIN, by timing
            f"could not reach Polytomic at {url} (ReadError)",
            f"could not reach Polytomic at {url} (RemoteProtocolError)",
        },
        "5xx": {f"Polytomic at {url} answered HTTP 503 to GET /api/me: Service Unavailable"},
    }
    assert detail in expected[failure]
    if failure == "5xx":
        assert fix.startswith("try again later; if it persists, check POLYTOMIC_DEPLOYMENT_URL")
    else:
        assert fix.startswith("check POLYTOMIC_DEPLOYMENT_URL")
    assert len(polytomic.requests_to("GET", r"^/api/me$")) == (0 if failure == "refused" else 1)  # no retries


def test_urls_are_shown_without_their_user_and_password(setup: Setup) -> None:
    """A URL may carry `user:password@` (a proxy's, say): the check names the URL, never them."""
    polytomic_port = setup.polytomic.url.rsplit(":", 1)[1]
    setup.env["POLYTOMIC_DEPLOYMENT_URL"] = f"http://proxyuser:polytomic-pw-123@127.0.0.1:{polytomic_port}"
    report = run_check(setup.env, setup.tmp_path)
    assert f"at http://127.0.0.1:{polytomic_port}" in report.text("polytomic key"), report.stdout
    setup.env["SLACK_API_URL"] = f"http://slackuser:slack-pw-456@127.0.0.1:{_closed_port()}/api/"
    setup.env["POLYTOMIC_DEPLOYMENT_URL"] = f"http://proxyuser:polytomic-pw-123@127.0.0.1:{_closed_port()}"
    report = run_check(setup.env, setup.tmp_path)
    slack_line = report.text("slack token")
    assert "could not reach the Slack Web API at http://127.0.0.1:" in slack_line, report.stdout
    assert "could not reach Polytomic at http://127.0.0.1:" in report.text("polytomic key"), report.stdout
    output = report.stdout + report.stderr
    for leaked in ("proxyuser", "polytomic-pw-123", "slackuser", "slack-pw-456"):
        assert leaked not in output, output
