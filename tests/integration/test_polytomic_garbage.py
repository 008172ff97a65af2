"""What Polytomic sends that no store or message should hold, against the fake over real HTTP:
control characters and lone surrogates are gone from every string the client returns, error
texts included, and a value nested deep inside an answer is never walked or printed. (An answer
nested too deep for the parser is the client's: tests/integration/test_polytomic_bounds.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.fakes.polytomic import FakePolytomic
from bot.polytomic import PolytomicClient, PolytomicError, parse_execution, parse_sync
from bot.polytomic.parsing import clean

KEY = "pk_live_garbage_0123456789"
# Every character parsing.clean drops, in one string: NUL, C0 but tab and newline, DEL, C1,
# and the two halves of a surrogate pair in the wrong order (JSON's escapes allow it).
NASTY = "\x00\x01\x08\x0b\x0c\r\x1b\x1f\x7f\x80\x9f\udfff\ud800"


@pytest.fixture
def fake() -> Iterator[FakePolytomic]:
    with FakePolytomic(KEY) as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakePolytomic) -> Iterator[PolytomicClient]:
    with PolytomicClient(fake.url, api_key=KEY, timeout=2.0, max_retries=0) as c:
        yield c


def _unstorable(text: str) -> list[str]:
    return [c for c in text if c in NASTY]


def test_clean_drops_what_postgresql_and_utf8_refuse_and_keeps_the_rest() -> None:
    assert clean(f"Or{NASTY}ders\tA\nB") == "Orders\tA\nB"
    assert clean("Ünïcode 名前 🚀") == "Ünïcode 名前 🚀"
    for code_point in range(0x110000):
        char = chr(code_point)
        if clean(char) == char:
            char.encode("utf-8")  # whatever is kept can be stored
            assert char != "\x00"


def test_a_sync_with_a_nul_in_its_name_is_read_without_it(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync(name=f"Orders{NASTY}nightly")
    assert client.get_sync(sync.id).name == "Ordersnightly"
    [listed] = list(client.list_syncs())
    assert listed.name == "Ordersnightly"


def test_every_string_of_an_answer_is_cleaned() -> None:
    execution = parse_execution(
        {
            "id": f"e{NASTY}1",
            "status": f"run{NASTY}ning",
            "type": NASTY,
            "errors": [NASTY + "boom", {"message": "x\x00y"}],
        }
    )
    assert (execution.id, execution.status.value, execution.errors) == ("e1", "running", ("boom", "xy"))
    sync = parse_sync({"id": "s1", "name": "a\x00b", "target": {"object": "c\x00d"}, "mode": "\x00"})
    assert (sync.name, sync.target_object, sync.mode) == ("ab", "cd", "")


def test_errors_of_an_execution_leave_out_nested_values_that_say_nothing() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    execution = parse_execution({"id": "e1", "status": "failed", "errors": [deep, {"no": "message"}, 42]})
    assert execution.errors == ("42",)


def test_an_error_text_with_a_nul_is_cleaned(fake: FakePolytomic, client: PolytomicClient) -> None:
    sync = fake.add_sync(name="Orders")
    fake.inject(
        "GET", f"^/api/syncs/{sync.id}$", status=400, body={"status": 400, "message": f"bad{NASTY}id"}
    )
    with pytest.raises(PolytomicError) as raised:
        client.get_sync(sync.id)
    assert raised.value.message == "badid"
    assert not _unstorable(str(raised.value))


def test_an_answer_that_is_not_json_is_a_polytomic_error_without_control_characters(
    fake: FakePolytomic, client: PolytomicClient
) -> None:
    sync = fake.add_sync(name="Orders")
    fake.inject(
        "GET",
        f"^/api/syncs/{sync.id}$",
        status=200,
        body=b"<html>not json\x00\x1b</html>",
        content_type="text/html",
    )
    with pytest.raises(PolytomicError) as raised:
        client.get_sync(sync.id)
    assert "not JSON" in raised.value.message
    assert not _unstorable(raised.value.message)
