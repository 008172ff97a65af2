"""Slow and oversized clients cannot take the bot down (issue 12, item 1): the real
`polytomic-bot serve`, real sockets, no signature needed by the attacker.

A slow client opens a connection to /slack/events and drips: either the head, then one body
byte every 2 s of a declared 100,000 ("body"), or the head itself a byte every 2 s ("headers").
Under gunicorn's gthread, 8 of them held every request thread. Now a request must arrive whole
within 5 s of its first byte (bot/serving.py), and no thread sees it before it has.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bot.fakes.signing import SLACK_USER_AGENT, sign, slash_command_body
from bot.fakes.slack import FakeSlack
from tests.harness import SIGNING_SECRET, BotProcess, query_db, wait_until

DRIP_EVERY = 2.0  # seconds between two bytes of a slow client
READ_DEADLINE = 5.0  # bot/serving.py: Limits.request_seconds
CLOSED_WITHIN = READ_DEADLINE + 3.0  # the deadline is checked once a second; margin for load
ANSWER_WITHIN = 3.0  # Slack's ack window

BODY_HEAD = (
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slack-Request-Timestamp: 1700000000\r\n"
    b"X-Slack-Signature: v0=00\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100000\r\n\r\n"
)
HEAD_START = (
    b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slack-Request-Timestamp: 1700000000\r\nX-Pad: "
)


@dataclass
class Drip:
    kind: str
    held: float = 0.0  # seconds from connecting until the server closed the connection
    closed_by_server: bool = False
    answer: bytes = b""  # whatever the server wrote back


@dataclass
class SlowClients:
    """`count` slow connections that reconnect as soon as the server closes them, on an asyncio
    loop in a thread of their own, until stopped."""

    port: int
    count: int
    kinds: tuple[str, ...]
    drips: list[Drip] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    async def _one(self, kind: str) -> Drip:
        drip = Drip(kind)
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 10)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.2)
            return drip
        try:
            writer.write(BODY_HEAD if kind == "body" else HEAD_START)
            await writer.drain()
            while not self._stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), DRIP_EVERY)
                except TimeoutError:
                    writer.write(b"a")  # still open: one more byte
                    await writer.drain()
                    continue
                if not data:
                    drip.closed_by_server = True
                    break
                drip.answer += data
        except OSError:
            drip.closed_by_server = True  # reset by the server
        finally:
            drip.held = time.monotonic() - started
            writer.close()
        return drip

    async def _lane(self, kind: str) -> None:
        while not self._stop.is_set():
            self.drips.append(await self._one(kind))

    async def _all(self) -> None:
        await asyncio.gather(*(self._lane(self.kinds[i % len(self.kinds)]) for i in range(self.count)))

    @contextmanager
    def running(self) -> Iterator[SlowClients]:
        thread = threading.Thread(target=lambda: asyncio.run(self._all()), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(DRIP_EVERY + 15)


def slow_connections_open(bot: BotProcess) -> int:
    """Connections to the bot's port that are established, as the kernel counts them."""
    port = f":{bot.port:04X}"
    count = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if local.endswith(port) and state == "01":  # ESTABLISHED, the bot's end
                count += 1
    return count


def signed_command(slack: FakeSlack) -> tuple[bytes, dict[str, str]]:
    body = slash_command_body(
        text="frobnicate", user_id="UADMIN", channel_id="CGENERAL", response_url=slack.response_url("probe")
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": SLACK_USER_AGENT}
    return body, {**headers, **sign(SIGNING_SECRET, body)}


def probe(bot: BotProcess, slack: FakeSlack, kind: str) -> int | str:
    """One request on a fresh connection, given Slack's 3 s: its status, or why it got none. The
    signed command is one the listener answers in the ack itself (a usage text)."""
    try:
        if kind == "healthz":
            return httpx.get(bot.url + "/healthz", timeout=ANSWER_WITHIN).status_code
        body, headers = signed_command(slack)
        answer = httpx.post(bot.url + "/slack/events", content=body, headers=headers, timeout=ANSWER_WITHIN)
        return answer.status_code if "Usage:" in answer.text else f"{answer.status_code} {answer.text[:80]}"
    except httpx.HTTPError as error:
        return type(error).__name__


@pytest.mark.parametrize("kind", ["body", "headers"])
def test_100_dripping_connections_hold_nothing(kind: str, bot: BotProcess, slack: FakeSlack) -> None:
    """While 100 slow connections drip (each reopened as soon as it is closed), /healthz and a
    signed command are answered within Slack's 3 s, and each drip is closed without an answer a
    few seconds after its first byte."""
    with SlowClients(bot.port or 0, 100, (kind,)).running() as clients:
        wait_until(lambda: slow_connections_open(bot) >= 90, timeout=10, what="the slow clients to connect")
        results: list[tuple[str, int | str]] = []
        with ThreadPoolExecutor(8) as pool:
            # For 2.5 read deadlines: every connection that began dripping is cut at least once.
            started = time.monotonic()
            while time.monotonic() - started < 2.5 * READ_DEADLINE:
                futures = [(k, pool.submit(probe, bot, slack, k)) for k in ("healthz", "signed")]
                results += [(k, f.result()) for k, f in futures]
                time.sleep(0.25)
        still_dripping = slow_connections_open(bot)
    cut = [d for d in clients.drips if d.closed_by_server]
    assert [r for r in results if r[1] != 200] == [], results
    assert len(results) >= 20
    assert still_dripping >= 50, "the slow clients stopped dripping during the probes"
    assert len(cut) >= 100, f"only {len(cut)} slow connections were closed by the bot"
    assert max(d.held for d in cut) < CLOSED_WITHIN, sorted(d.held for d in cut)[-5:]
    assert all(d.held > READ_DEADLINE - 1 for d in cut), sorted(d.held for d in cut)[:5]
    assert not any(d.answer for d in cut), {d.answer[:40] for d in cut}
    assert "Traceback" not in bot.logs()


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data` and read what the server answers until it closes or `timeout` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except TimeoutError:
            pass
    return answer


def status_of(answer: bytes) -> int | None:
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[0].startswith(b"HTTP/") else None


def metric(bot: BotProcess, name: str) -> float:
    for line in httpx.get(bot.url + "/metrics", timeout=5).text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in /metrics")


def test_a_body_over_the_cap_is_refused_before_it_is_sent(bot: BotProcess) -> None:
    """413 as soon as the head declares more than 128 KiB (or a chunked body passes it), 431 for
    a head over 16 KiB: the bot reads none of it, and counts each by status."""
    head = BODY_HEAD.replace(b"Content-Length: 100000", b"Content-Length: 10000000")
    assert status_of(raw_exchange(bot.port or 0, head)) == 413, "declared 10 MB"
    chunked = BODY_HEAD.replace(b"Content-Length: 100000", b"Transfer-Encoding: chunked")
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    assert status_of(raw_exchange(bot.port or 0, chunked + chunk * 3)) == 413, "chunked 192 KiB"
    big_head = HEAD_START + b"a" * 20_000 + b"\r\n\r\n"
    assert status_of(raw_exchange(bot.port or 0, big_head)) == 431, "a 20 kB head"
    assert metric(bot, 'polytomic_bot_http_refused_total{status="413"}') == 2
    assert metric(bot, 'polytomic_bot_http_refused_total{status="431"}') == 1
    assert httpx.get(bot.url + "/healthz", timeout=5).status_code == 200


def test_sigterm_answers_the_request_in_flight_while_slow_clients_drip(
    start_bot: Any, slack: FakeSlack, polytomic: Any, postgres_url: str
) -> None:
    """SIGTERM with a confirm click in flight (its insert waits for a lock the test holds) and
    20 slow clients dripping: new connections are refused at once, the click is answered, the
    process exits 0 within 10 s, the tracker stops and leaves no lease behind."""
    import psycopg
    from sqlalchemy.engine import make_url

    bot = start_bot(database_url=postgres_url)
    sync = polytomic.add_sync(name="Drained")
    execution = sync.start_execution(cancel_delay=None)
    plain = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    value = f'{{"s":"{sync.id}","e":"{execution.id}"}}'
    from bot.fakes.signing import block_actions_body

    click = block_actions_body(
        user_id="UADMIN",
        action_id="cancel_confirm",
        value=value,
        channel_id="CGENERAL",
        response_url=slack.response_url("click"),
    )
    answer: dict[str, Any] = {}

    def send_click() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=20)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, click)}
        try:
            conn.request("POST", "/slack/events", body=click, headers=headers)
            response = conn.getresponse()
            answer["status"], answer["at"] = response.status, time.monotonic()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            answer["status"] = type(error).__name__
        finally:
            conn.close()

    with (
        SlowClients(bot.port or 0, 20, ("body", "headers")).running(),
        psycopg.connect(plain, autocommit=False) as lock,
    ):
        wait_until(lambda: slow_connections_open(bot) >= 18, timeout=10, what="the slow clients to connect")
        lock.execute("LOCK TABLE operations IN EXCLUSIVE MODE")  # the click's insert waits for it
        sender = threading.Thread(target=send_click)
        sender.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s"
        wait_until(
            lambda: query_db(postgres_url, waiting.replace("%s", str(lock.info.backend_pid)))[0][0] >= 1,
            timeout=10,
            what="the click to be in flight, waiting for the lock",
        )
        signalled = time.monotonic()
        bot.signal(15)
        wait_until(lambda: probe(bot, slack, "healthz") != 200, timeout=3, what="new connections refused")
        lock.rollback()  # the click's insert may go on now
        sender.join(15)
    assert bot.proc is not None
    assert bot.proc.wait(15) == 0
    exited = time.monotonic() - signalled
    assert answer.get("status") == 200, answer
    assert answer["at"] > signalled
    assert exited < 10, f"exited {exited:.1f} s after SIGTERM"
    assert "tracker stopped" in bot.logs()
    assert query_db(postgres_url, "SELECT count(*) FROM operations WHERE lease_owner IS NOT NULL") == [(0,)]
