"""What people asking can cost Polytomic, against the real bot process: a name look-up reads a
capped number of pages and says so (a server that always offers a next page can't keep it
reading for ever), and a storm of `/polytomic list running` costs about what one does, with a
bounded fan-out, while a cancel still goes out at once. Figures are printed (pytest -s); the
only time bounds asserted are generous ones: timing targets belong to bench/."""

from __future__ import annotations

import threading
import time
from typing import Any

from bot.answers.listing import LISTING_FANOUT
from bot.answers.syncs import LIST_PAGES, NAME_PAGES
from bot.fakes.polytomic import FakePolytomic
from bot.fakes.polytomic.recording import RecordedRequest
from bot.fakes.slack import FakeSlack
from tests.harness import CHANNEL, SlackUser, all_text, button, wait_until

STORM = 40
SYNCS = 250
STATUS_LATENCY = 0.05  # seconds each status read takes at the fake: the storm lasts a while


def _max_in_flight(records: list[RecordedRequest]) -> int:
    edges: list[tuple[float, int]] = []
    for record in records:
        edges.append((record.time, 1))
        edges.append((record.answered_at or time.time(), -1))
    most = current = 0
    for _, step in sorted(edges):
        current += step
        most = max(most, current)
    return most


def test_a_name_look_up_reads_a_capped_number_of_pages(
    bot: Any, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    polytomic.add_sync(name="Something else")
    polytomic.paginate_forever("syncs")
    user = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    for verb in ("cancel", "status"):
        before = len(polytomic.requests_to("GET", r"^/api/syncs$"))
        ack, url = user.command(f'{verb} "Orders nightly"')
        assert ack.status_code == 200
        [answer] = user.answers(url, timeout=30)
        text = all_text(answer)
        assert "Too many syncs to search by name; use the ID" in text
        assert f"/polytomic {verb} &lt;sync ID&gt;" in text
        pages = len(polytomic.requests_to("GET", r"^/api/syncs$")) - before
        # The cancel's scan is kept for a few seconds and shared: the status look-up reuses it.
        assert pages == (NAME_PAGES if verb == "cancel" else 0), pages
        print(f"{verb} by name against endless pages: {pages} pages read, answered")


def test_a_listing_storm_costs_what_one_listing_does_and_a_cancel_still_goes_out(
    bot: Any, slack: FakeSlack, polytomic: FakePolytomic
) -> None:
    syncs = [polytomic.add_sync(name=f"Sync {n:03}") for n in range(SYNCS)]
    # Polytomic lists the most recently updated first: the last ones made are among the 200.
    for sync in syncs[-5:]:
        sync.start_execution(cancel_delay=0.2)
    target = syncs[-1]
    polytomic.set_latency(STATUS_LATENCY, r"/status$", method="GET")
    user = SlackUser(bot, slack, "UNOBODY", CHANNEL)
    admin = SlackUser(bot, slack, "UADMIN", CHANNEL)

    start = len(polytomic.requests)
    urls: list[str] = []
    lock = threading.Lock()

    def list_running() -> None:
        ack, url = user.command("list running")
        assert ack.status_code == 200
        with lock:
            urls.append(url)

    threads = [threading.Thread(target=list_running) for _ in range(STORM)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    # Mid-storm: the statuses are being read. A cancel prompt, then the confirm click.
    wait_until(lambda: len(polytomic.requests_to("GET", r"/status$")) > 20, 20, what="the storm")
    asked = time.monotonic()
    ack, prompt_url = admin.command(f"cancel {target.id}")
    assert ack.status_code == 200
    [prompt] = admin.answers(prompt_url, timeout=20)
    prompted = time.monotonic() - asked
    clicked = time.monotonic()
    click, _ = admin.click("cancel_confirm", button(prompt, "cancel_confirm")["value"])
    assert click.status_code == 200
    wait_until(lambda: polytomic.effective_cancels(target.id) == 1, 20, what="the cancel")
    cancel_sent = time.monotonic() - clicked

    for thread in threads:
        thread.join(30)
    assert len(urls) == STORM
    answered: list[float] = []
    for url in urls:
        [answer] = user.answers(url, timeout=60)
        assert "running syncs" in all_text(answer)
        answered.append(answer["time"])
    storm = time.monotonic() - began
    spread = max(answered) - min(answered)

    listing = [
        r
        for r in polytomic.requests[start:]
        if r.method == "GET" and (r.path == "/api/syncs" or r.path.endswith("/status"))
    ]
    statuses = [r for r in listing if r.path.endswith("/status")]
    pages = [r for r in listing if r.path == "/api/syncs"]
    in_flight = _max_in_flight(statuses)
    print(
        f"{STORM} x list running over {SYNCS} syncs: {len(listing)} listing requests "
        f"({len(pages)} pages, {len(statuses)} status reads), at most {in_flight} status reads "
        f"in flight; {STORM} answers within {storm:.1f} s, {spread:.1f} s from first to last; "
        f"cancel prompt in {prompted:.2f} s, "
        f"cancel sent {cancel_sent:.2f} s after the click"
    )
    # One listing reads LIST_PAGES pages and 200 statuses (the cancel prompt reads one more);
    # a storm shares them. Before: 40 x (5 + 200) = 8,200.
    assert len(pages) <= 2 * LIST_PAGES
    assert len(statuses) <= 2 * 200 + 2
    assert in_flight <= LISTING_FANOUT + 2  # the cancel prompt's own read may overlap
    assert prompt["response_type"] == "ephemeral" and "Cancel it?" in all_text(prompt)
    assert prompted < 10 and cancel_sent < 15  # generous: the storm takes seconds
