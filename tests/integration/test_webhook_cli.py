"""`polytomic-bot webhook register|show|remove` and the events line of `polytomic-bot check`, as an
operator runs them, against the fake Polytomic's /api/webhooks and /api/events."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import SETTINGS_HELP
from bot.fakes.polytomic import FakePolytomic
from tests.harness import POLYTOMIC_KEY, run_cli

SECRET = "bot-webhook-secret-1"
URL = "https://bot.example.com/polytomic/webhook"


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(api_key=POLYTOMIC_KEY) as polytomic:
        yield polytomic


def cli(
    fake: FakePolytomic, tmp_path: Path, *args: str, secret: str | None = SECRET
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "POLYTOMIC_")) and k not in SETTINGS_HELP
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        POLYTOMIC_API_KEY=POLYTOMIC_KEY,
        POLYTOMIC_DEPLOYMENT_URL=fake.url,
    )
    if secret is not None:
        env["POLYTOMIC_WEBHOOK_SECRET"] = secret
    done = run_cli(args, env, tmp_path)  # bot.cli.main in this process, as the script runs it
    assert SECRET not in done.stdout + done.stderr
    return done


def test_register_creates_then_updates_and_show_masks_the_secret(fake: FakePolytomic, tmp_path: Path) -> None:
    made = cli(fake, tmp_path, "webhook", "register", URL)
    assert made.returncode == 0, made.stderr
    hook = fake.webhook
    assert hook is not None and hook.endpoint == URL and hook.secret == SECRET
    again = cli(fake, tmp_path, "webhook", "register", URL)  # same URL: an update, no --replace needed
    assert again.returncode == 0, again.stderr
    shown = cli(fake, tmp_path, "webhook", "show")
    assert shown.returncode == 0
    assert URL in shown.stdout and "this bot's" in shown.stdout and "(20 characters)" in shown.stdout


def test_register_refuses_to_take_over_a_webhook_pointing_elsewhere(
    fake: FakePolytomic, tmp_path: Path
) -> None:
    fake.register_webhook("https://other-team.example.com/hooks", "their-secret")
    refused = cli(fake, tmp_path, "webhook", "register", URL)
    assert refused.returncode == 1
    assert "--replace" in refused.stderr
    assert fake.webhook is not None and fake.webhook.endpoint == "https://other-team.example.com/hooks"
    assert "their-secret" not in refused.stdout + refused.stderr
    taken = cli(fake, tmp_path, "webhook", "register", URL, "--replace")
    assert taken.returncode == 0, taken.stderr
    assert fake.webhook is not None and fake.webhook.endpoint == URL


def test_register_wants_the_webhook_path_and_a_secret(fake: FakePolytomic, tmp_path: Path) -> None:
    wrong = cli(fake, tmp_path, "webhook", "register", "https://bot.example.com/slack/events")
    assert wrong.returncode == 2 and "/polytomic/webhook" in wrong.stderr
    unset = cli(fake, tmp_path, "webhook", "register", URL, secret=None)
    assert unset.returncode == 2 and "POLYTOMIC_WEBHOOK_SECRET" in unset.stderr
    short = cli(fake, tmp_path, "webhook", "register", URL, secret="abc")
    assert short.returncode == 2 and "POLYTOMIC_WEBHOOK_SECRET" in short.stderr
    assert fake.webhook is None


def test_remove_refuses_a_webhook_that_is_not_this_bots(fake: FakePolytomic, tmp_path: Path) -> None:
    fake.register_webhook(URL, "staging-secret")  # the other deployment's
    refused = cli(fake, tmp_path, "webhook", "remove")
    assert refused.returncode == 1 and "--replace" in refused.stderr
    assert fake.webhook is not None
    removed = cli(fake, tmp_path, "webhook", "remove", "--replace")
    assert removed.returncode == 0, removed.stderr
    assert fake.webhook is None
    fake.register_webhook(URL, SECRET)
    assert cli(fake, tmp_path, "webhook", "remove").returncode == 0
    assert fake.webhook is None


def check_line(fake: FakePolytomic, tmp_path: Path) -> str:
    done = cli(fake, tmp_path, "check")
    return next(line for line in done.stdout.splitlines() if "polytomic events:" in line)


def test_check_says_whether_the_webhook_feeds_this_bot(fake: FakePolytomic, tmp_path: Path) -> None:
    assert check_line(fake, tmp_path).startswith("FAIL") and "no webhook" in check_line(fake, tmp_path)
    fake.register_webhook(URL, "another-secret")
    assert "another secret" in check_line(fake, tmp_path)
    fake.register_webhook("https://bot.example.com/elsewhere", SECRET)
    assert "not a /polytomic/webhook path" in check_line(fake, tmp_path)
    fake.register_webhook(URL, SECRET)
    line = check_line(fake, tmp_path)
    assert line.startswith("PASS") and "events API answers" in line
    fake.inject("GET", r"^/api/events", status=403, times=10)
    line = check_line(fake, tmp_path)
    assert line.startswith("FAIL") and "403" in line
