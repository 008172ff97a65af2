"""`polytomic-bot demo` in a real browser: Playwright for Python driving Debian's Chromium
(/usr/bin/chromium; Playwright's own browser download is not used). One demo process, one
browser and one page for the module, the tests in order, as a person would try the demo.

The process is started with production-looking settings exported (a database, Slack and
Polytomic credentials, BOT_ADMINS naming the analyst, an incident channel): the demo must ignore
all of them, so the analyst is still denied and the "production" database is never created.

Waits are Playwright's auto-waiting `expect` assertions (and `proc.wait` for the exit), never
sleeps. Under CI (CI=true) a missing Chromium or Playwright fails the module; elsewhere it skips.
`DEMO_SCREENSHOT=1` makes the cancel test save README's picture (docs/demo.png); otherwise the
committed PNG is left alone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import EXECUTABLE, ROOT, wait_until

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "docs" / "demo.png"
ONCALL, ANALYST = "UDEMOONCALL", "UDEMOANALYST"


def _browser_or_skip() -> Any:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: apt-get install -y chromium"
    elif importlib.util.find_spec("playwright") is None:
        problem = "Playwright is missing: pip install -e '.[test]'"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test cannot run under CI: {problem}")
        pytest.skip(problem)
    from playwright import sync_api

    return sync_api


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    log: Path
    url: str
    tmp: Path
    production_db: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def sync_api() -> Any:
    return _browser_or_skip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sync_api: Any) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    production_db = tmp / "production.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "POLYTOMIC_"))}
    env.update(
        TMPDIR=str(tmp),
        DATABASE_URL=f"sqlite:///{production_db}",
        SLACK_BOT_TOKEN="xoxb-production-token",
        SLACK_SIGNING_SECRET="production-signing-secret",
        SLACK_API_URL="http://127.0.0.1:9/api/",  # nothing listens there
        POLYTOMIC_API_KEY="production-polytomic-key",
        POLYTOMIC_DEPLOYMENT_URL="http://127.0.0.1:9",
        BOT_ADMINS=ANALYST,  # if the demo read it, the analyst would not be denied
        INCIDENT_CHANNEL="CPRODINCIDENT",
        PYTHONUNBUFFERED="1",
    )
    log = tmp / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(EXECUTABLE), "demo", "--port", "0"], env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        found = wait_until(
            lambda: proc.poll() is None and re.search(r"open (http://127\.0\.0\.1:(\d+))", log.read_text()),
            timeout=60,
            what="the demo to print its URL",
        )
        yield Demo(proc, log, found.group(1), tmp, production_db)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def page(demo: Demo, sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 760})
            tab.on("dialog", lambda d: pytest.fail(f"the page opened a browser dialog: {d.message}"))
            tab.goto(demo.url)
            yield tab
        finally:
            browser.close()


def _type(page: Any, user: str, command: str) -> None:
    page.select_option("#user", user)
    page.fill("#command", command)
    page.press("#command", "Enter")


def test_under_ci_a_missing_chromium_fails_and_elsewhere_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        _browser_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium"):
        _browser_or_skip()


def _screenshot(page: Any, expect: Any) -> None:
    """README's picture (docs/demo.png): the cancellation, with a listing of what still runs."""
    _type(page, ONCALL, "/polytomic list running")
    expect(page.locator(".msg.ephemeral").filter(has_text="running syncs")).to_have_count(1)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_the_terminal_shows_the_url_and_the_demo_users(demo: Demo) -> None:
    output = demo.output()
    assert not demo.url.endswith(":0")  # --port 0 picked a free port and printed it
    for name in ("Ada Admin", "Omar On-call", "Ana Analyst"):
        assert name in output
    assert "Ctrl-C" in output
    assert "Traceback" not in output


def test_on_call_cancels_confirms_and_the_status_message_reaches_canceled(
    demo: Demo, page: Any, sync_api: Any
) -> None:
    expect = sync_api.expect
    _type(page, ONCALL, '/polytomic cancel "Contacts to Salesforce"')
    prompt = page.locator(".msg.ephemeral").filter(has_text="Cancel it?")
    expect(prompt).to_have_count(1)
    expect(prompt).to_contain_text("Only visible to you")
    expect(prompt).to_contain_text("Contacts to Salesforce is running")
    prompt.get_by_role("button", name="Cancel sync").click()
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel this sync run?")  # the button's own confirm object
    dialog.get_by_role("button", name="Cancel the run").click()
    expect(prompt).to_have_count(0)  # the bot removed the prompt through the click's response_url
    status = page.locator(".msg:not(.ephemeral)").filter(has_text="requested cancellation of")
    expect(status).to_have_count(1)
    key = status.get_attribute("data-key")
    assert key is not None and key.startswith("m|CDEMODATA|")
    same = page.locator(f'.msg[data-key="{key}"]')  # one message, edited in place
    expect(same).to_contain_text(re.compile(r"canceled after \d+ seconds?"), timeout=30_000)
    expect(same).to_contain_text("(edited)")
    expect(same.locator("b", has_text="canceled")).to_have_count(1)  # mrkdwn bold rendered
    if os.environ.get("DEMO_SCREENSHOT") == "1":
        _screenshot(page, expect)
    page.get_by_role("button", name="# incidents").click()
    notice = page.locator(".msg").filter(has_text="requested cancellation of Contacts to Salesforce in")
    expect(notice).to_have_count(1)
    notice.get_by_role("button", name="1 reply").click()
    expect(notice.locator(".replies")).to_contain_text("canceled")
    page.get_by_role("button", name="# data-team").click()


def test_the_analyst_is_denied(page: Any, sync_api: Any) -> None:
    expect = sync_api.expect
    _type(page, ANALYST, '/polytomic cancel "Orders to the app database"')
    denial = page.locator(".msg.ephemeral").filter(has_text="You don't have permission to cancel")
    expect(denial).to_have_count(1)
    expect(denial).to_contain_text("Ada Admin")  # who can grant it: the demo's admin only
    expect(page.locator(".msg.ephemeral").get_by_role("button", name="Cancel sync")).to_have_count(0)
    page.select_option("#user", ONCALL)
    expect(denial).to_have_count(0)  # ephemeral: the on-call engineer does not see it


def test_the_renderer_escapes_everything(page: Any, sync_api: Any) -> None:
    expect = sync_api.expect
    hostile = '<img src=x onerror="document.title=1"> <!channel> *not bold*'
    _type(page, ONCALL, f'/polytomic status "{hostile}"')
    answer = page.locator(".msg.ephemeral").filter(has_text="<img src=x")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("<!channel>")
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages .mention.loud").count() == 0
    assert page.title() == "polytomic-bot demo"


def test_a_sync_fails_at_once_on_request(page: Any, sync_api: Any) -> None:
    expect = sync_api.expect
    page.click("#fail")
    expect(page.locator("#notice")).to_contain_text('"Tickets to Zendesk" failed just now')
    _type(page, ONCALL, '/polytomic status "Tickets to Zendesk"')
    status = page.locator(".msg.ephemeral").filter(has_text="Tickets to Zendesk")
    expect(status).to_contain_text("failed")  # Polytomic says so: the run failed just now
    expect(status).to_contain_text("Zendesk API answered 429")


def test_the_failure_alert_reaches_the_subscribed_channel(page: Any, sync_api: Any) -> None:
    expect = sync_api.expect
    # The demo subscribed #data-team to every sync's failures at start, as the admin.
    expect(page.locator(".msg:not(.ephemeral)").filter(has_text="subscribed this channel")).to_have_count(1)
    page.click("#fail")  # the second failure in a row (the test above made the first)
    alert = page.locator(".msg:not(.ephemeral)").filter(has_text="Tickets to Zendesk failed")
    expect(alert.get_by_role("button", name=re.compile("Restart"))).to_be_visible(timeout=30_000)
    expect(alert).to_have_count(1)  # one alert for the streak, its later failures in its thread
    expect(alert).to_contain_text("Zendesk API answered 429")


def test_app_home_shows_the_running_syncs(page: Any, sync_api: Any) -> None:
    expect = sync_api.expect
    page.select_option("#user", ONCALL)
    page.click("#home-tab")
    home = page.locator("#home")
    expect(home).to_contain_text("Running syncs you may cancel", timeout=20_000)
    orders = home.locator(".section").filter(has_text="Orders to the app database")
    expect(orders).to_contain_text("running")
    # The Home tab's confirm is a modal (views.open with the click's trigger_id).
    orders.get_by_role("button", name=re.compile("Cancel")).click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text("Orders to the app database")
    page.click("#modal-submit")
    expect(page.locator("#modal-blocks")).not_to_contain_text("Cancel the running execution")
    page.click("#modal-close")
    expect(modal).to_be_hidden()
    page.get_by_role("button", name="Polytomic (direct messages)").click()  # its status message
    status = page.locator(".msg").filter(has_text="requested cancellation of Orders to the app database")
    expect(status).to_contain_text(re.compile(r"canceled after \d+ seconds?"), timeout=30_000)
    page.select_option("#user", ANALYST)  # the DM is the on-call engineer's alone
    expect(page.get_by_role("button", name="Polytomic (direct messages)")).to_have_count(0)
    page.click("#home-tab")
    expect(page.locator("#home")).to_contain_text("Ana Analyst")  # her own Home tab, published
    expect(page.locator("#home").get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)
    page.get_by_role("button", name="# data-team").click()


def test_ctrl_c_stops_it_cleanly_and_production_was_never_touched(demo: Demo) -> None:
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(timeout=20) == 0
    output = demo.output()
    assert "polytomic-bot demo: stopped" in output
    assert "Traceback" not in output
    assert not demo.production_db.exists()
    assert list(demo.tmp.glob("polytomic-bot-demo-*")) == []  # its temporary directory is gone
    for secret in ("xoxb-production-token", "production-signing-secret", "production-polytomic-key"):
        assert secret not in output
