"""Responder.wait_idle: an answer in flight is awaited, not slept for (the scenario tier and the
demo rely on it)."""

from __future__ import annotations

import threading

from bot.responder import Responder


def test_wait_idle_returns_once_every_answer_has_run() -> None:
    responder = Responder(workers=2)
    release = threading.Event()
    ran: list[str] = []

    def answer(name: str) -> None:
        release.wait(5)
        ran.append(name)

    def answer_then_another() -> None:
        ran.append("first")
        responder.submit(answer, "second")  # work an answer hands on counts too

    try:
        responder.submit(answer_then_another)
        assert responder.wait_idle(0.1) is False  # "second" waits for the release
        release.set()
        assert responder.wait_idle(5) is True
        assert ran == ["first", "second"]
    finally:
        responder.shutdown()


def test_wait_idle_counts_an_answer_that_failed() -> None:
    responder = Responder(workers=1)

    def broken() -> None:
        raise RuntimeError("boom")

    try:
        responder.submit(broken)
        assert responder.wait_idle(5) is True
    finally:
        responder.shutdown()
