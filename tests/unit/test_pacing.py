"""bot.pacing: per-key token buckets that hand out send times (pure, on a fake clock)."""

from __future__ import annotations

import itertools
import threading

import pytest

from bot.pacing import Backoff, Pacer, Rate

POST = Rate(interval=1.1, burst=2)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pacer(clock: Clock, **kwargs: object) -> Pacer:
    return Pacer(lambda key: POST if key.startswith("post:") else None, clock=clock, **kwargs)  # type: ignore[arg-type]


# ---- a key with a known rate ----------------------------------------------------------


def test_a_burst_then_one_slot_per_interval_each_holder_its_own() -> None:
    clock = Clock()
    p = pacer(clock)
    first, second = p.reserve("post:C1"), p.reserve("post:C1")
    assert first.go and second.go and first.wait == second.wait == 0  # the burst
    waiting = [p.reserve("post:C1", holder=f"op-{i}") for i in range(5)]
    assert not any(slot.go for slot in waiting)
    # Each waiter is told a distinct time, one interval apart, in the order they asked.
    assert [round(slot.wait, 6) for slot in waiting] == [round(1.1 * i, 6) for i in range(1, 6)]
    # Another channel has a bucket of its own.
    assert p.reserve("post:C2").go


def test_a_caller_without_a_holder_is_told_the_next_free_slot_and_keeps_nothing() -> None:
    clock = Clock()
    p = pacer(clock)
    p.reserve("post:C1")
    p.reserve("post:C1")
    told = [p.reserve("post:C1") for _ in range(3)]
    assert [slot.go for slot in told] == [False, False, False]
    assert told[0].at == told[1].at == told[2].at == pytest.approx(clock.now + 1.1)
    clock.advance(1.1)
    assert p.reserve("post:C1").go  # nothing was kept for those who were only told
    assert not p.reserve("post:C1").go


def test_a_holder_keeps_its_slot_until_it_comes_back() -> None:
    clock = Clock()
    p = pacer(clock)
    p.reserve("post:C1")
    p.reserve("post:C1")
    a = p.reserve("post:C1", holder="a")
    b = p.reserve("post:C1", holder="b")
    assert (a.wait, b.wait) == (pytest.approx(1.1), pytest.approx(2.2))
    clock.advance(0.5)
    early = p.reserve("post:C1", holder="a")
    assert not early.go and early.at == a.at and early.wait == pytest.approx(0.6)  # the same slot
    clock.advance(0.4)
    # Within what the caller will wait in place: the slot is its own now.
    in_place = p.reserve("post:C1", holder="a", within=0.25)
    assert in_place.go and in_place.at == a.at and in_place.wait == pytest.approx(0.2)
    clock.advance(1.4)  # b comes back 0.1 s after its slot: still its own
    late = p.reserve("post:C1", holder="b")
    assert late.go and late.wait == 0 and late.at == b.at


def test_a_holder_that_comes_back_too_late_asks_again() -> None:
    clock = Clock()
    p = pacer(clock, hold_grace=1.0)
    p.reserve("post:C1")
    p.reserve("post:C1")
    gone = p.reserve("post:C1", holder="gone")
    after = p.reserve("post:C1", holder="after")
    clock.advance(gone.wait + 1.5)  # past its slot and the grace
    again = p.reserve("post:C1", holder="gone")
    assert not again.go and again.at > after.at  # its slot went by; it queues behind


def test_slots_of_holders_that_never_come_back_are_let_go() -> None:
    clock = Clock()
    p = pacer(clock)
    for i in range(50):
        p.reserve("post:C1", holder=f"op-{i}")
    clock.advance(200)
    assert p.reserve("post:C1").go  # the queue has drained by itself
    clock.advance(120)
    p.reserve("other")  # a sweep, a minute later: idle keys are forgotten
    assert p.key_count() == 1


# ---- a Retry-After ---------------------------------------------------------------------


def test_a_refusal_shuts_the_key_and_no_slot_falls_inside_the_window() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(half_life=1e9))  # no recovery during the test
    sent = clock.now
    p.reserve("post:C1")
    held = p.reserve("post:C1", holder="a", within=0)
    assert held.go
    waiting = [p.reserve("post:C1", holder=f"op-{i}") for i in range(3)]
    p.refused("post:C1", 3.0, sent_at=sent)
    assert p.shut_for("post:C1") == pytest.approx(3.0)
    end = clock.now + 3.0
    # Every slot handed out before the refusal is void; everyone gets a time after the window,
    # distinct, and spaced more widely than before (the key was slowed down), with no burst.
    again = [p.reserve("post:C1", holder=f"op-{i}") for i in range(3)]
    assert [slot.at for slot in again] == pytest.approx([end, end + 2.2, end + 4.4])
    assert waiting[0].at < end  # what they held fell inside the window
    clock.advance(2.9)
    assert not p.reserve("post:C1", within=0.05).go
    assert p.shut_for("post:C1") == pytest.approx(0.1)


def test_after_a_refusal_the_refused_goes_first_and_the_waiting_keep_their_order() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(half_life=1e9))
    p.reserve("post:C1")
    sent = clock.now
    assert p.reserve("post:C1", holder="refused").go
    waiting = [p.reserve("post:C1", holder=f"w{i}") for i in range(3)]
    clock.advance(0.05)
    turn = p.refused("post:C1", 2.0, sent_at=sent, holder="refused")
    end = clock.now + 2.0
    assert turn is not None and not turn.go and turn.at == pytest.approx(end)
    again = [p.reserve("post:C1", holder=f"w{i}") for i in range(3)]
    assert [slot.at for slot in again] == pytest.approx([end + 2.2, end + 4.4, end + 6.6])
    assert all(new.at > old.at for new, old in zip(again, waiting, strict=True))
    # A call that was in flight when the refusal came: refused too, but no slower again.
    clock.advance(0.01)
    p.refused("post:C1", 2.0, sent_at=sent + 0.01, holder="in-flight")
    assert p.interval("post:C1") == pytest.approx(2.2)
    assert p.reserve("post:C1", holder="refused").at >= end  # nobody inside the window


def test_the_slow_down_of_a_known_rate_decays_back_to_it_and_the_burst_returns() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(half_life=60.0))
    p.refused("post:C1", 1.0, sent_at=clock.now)
    assert p.interval("post:C1") == pytest.approx(2.2)
    clock.advance(1.0 + 60.0)
    assert p.interval("post:C1") == pytest.approx(1.1)  # halved, but never below the rate
    clock.advance(600)
    assert p.reserve("post:C1").go and p.reserve("post:C1").go  # the burst is back


# ---- a key without a known rate (adaptive) --------------------------------------------


def test_a_remote_that_does_not_refuse_is_not_paced() -> None:
    clock = Clock()
    p = pacer(clock)
    assert all(p.reserve("chat.update").go for _ in range(1000))
    assert p.interval("chat.update") == 0


def test_a_refusal_paces_an_unknown_key_under_the_refused_rate() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(window=60.0, headroom=0.8, first_at_most=5.0, half_life=1e9))
    for _ in range(60):  # 60 calls accepted within the last minute, then Slack refuses one
        assert p.reserve("chat.update").go
        clock.advance(0.99)
    assert p.reserve("chat.update").go
    p.refused("chat.update", 2.0, sent_at=clock.now)
    assert p.interval("chat.update") == pytest.approx(60 / 60 / 0.8)
    end = clock.now + 2.0
    slots = [p.reserve("chat.update", holder=f"op-{i}") for i in range(3)]
    assert [s.at for s in slots] == pytest.approx([end, end + 1.25, end + 2.5])


def test_a_first_refusal_after_few_calls_paces_at_most_so_slowly() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(first_at_most=5.0, at_most=30.0))
    p.reserve("usergroups.users.list")
    p.refused("usergroups.users.list", 1.0, sent_at=clock.now)
    assert p.interval("usergroups.users.list") == pytest.approx(5.0)  # not 60/1/0.8 = 75 s
    # Refused again although paced: the interval doubles, up to `at_most`.
    clock.advance(1.0)
    sent = clock.now
    assert p.reserve("usergroups.users.list").go
    p.refused("usergroups.users.list", 1.0, sent_at=sent)
    assert p.interval("usergroups.users.list") == pytest.approx(10.0)
    for _ in range(3):
        clock.advance(1.0)
        p.refused("usergroups.users.list", 1.0, sent_at=clock.now)
    assert p.interval("usergroups.users.list") == pytest.approx(30.0)


def test_calls_in_flight_when_a_refusal_came_do_not_slow_down_again() -> None:
    clock = Clock()
    p = pacer(clock)
    sent = clock.now
    for _ in range(4):
        p.reserve("chat.update")
    clock.advance(0.01)
    p.refused("chat.update", 1.0, sent_at=sent)
    first = p.interval("chat.update")
    clock.advance(0.01)
    for _ in range(3):  # the other three were sent before the first refusal came back
        p.refused("chat.update", 1.0, sent_at=sent)
    assert p.interval("chat.update") == first
    assert p.shut_for("chat.update") == pytest.approx(1.0)  # each still extends the window


def test_the_slow_down_recovers_gradually_then_stops_pacing() -> None:
    clock = Clock()
    p = pacer(clock, backoff=Backoff(half_life=60.0, negligible=0.05, first_at_most=4.0))
    p.reserve("chat.update")
    p.refused("chat.update", 1.0, sent_at=clock.now)
    assert p.interval("chat.update") == pytest.approx(4.0)
    clock.advance(1.0 + 60.0)
    assert p.interval("chat.update") == pytest.approx(2.0)
    clock.advance(60.0)
    assert p.interval("chat.update") == pytest.approx(1.0)
    clock.advance(60.0 * 6)  # 4 s / 2**8 < 0.05 s: dropped
    assert p.interval("chat.update") == 0
    assert all(p.reserve("chat.update").go for _ in range(100))


# ---- threads ---------------------------------------------------------------------------


def test_threads_asking_at_once_each_get_a_distinct_slot() -> None:
    clock = Clock()
    p = pacer(clock)
    slots: list[float] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        for j in range(20):
            slot = p.reserve("post:C1", holder=f"t{i}-{j}")
            with lock:
                slots.append(slot.at)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(slots)
    assert len(set(ordered)) == len(ordered) - 1  # two at once (the burst), then one by one
    gaps = [b - a for a, b in itertools.pairwise(ordered[1:])]
    assert min(gaps) == pytest.approx(1.1)
