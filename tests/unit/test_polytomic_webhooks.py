"""bot.polytomic.webhooks: the signature check, the delivery body, the dedupe key (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from bot.polytomic import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    InvalidSignature,
    MalformedDelivery,
    dedupe_key,
    parse_delivery,
    sign,
    verify_signature,
)

SECRET = "whsec-0123456789"
BODY = json.dumps(
    {
        "id": "0b6f1c56-0a5e-4a0e-9b0c-2f1f7d2c9a11",
        "type": "sync.canceled",
        "created_at": "2025-09-18T10:11:12.123456Z",
        "organization_id": "be80a27e-0e80-4dcb-bee9-1666f02eeb83",
        "event": {"sync_id": "s-1", "execution_id": "e-1", "status": "canceled", "sync_name": "Ünïcode ✓"},
    },
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def digest(body: bytes = BODY, secret: str = SECRET) -> bytes:
    # Computed here independently of the module under test.
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def rejected(header: str | None, body: bytes = BODY, secret: str = SECRET) -> str:
    with pytest.raises(InvalidSignature) as caught:
        verify_signature(body, header, secret)
    text = str(caught.value)
    assert SECRET not in text and digest().hex() not in text
    assert base64.b64encode(digest()).decode() not in text
    if header:
        assert header.strip() not in text or not header.strip()  # junk is never echoed
    return caught.value.reason


# ----------------------------------------------------------------- every accepted form


@pytest.mark.parametrize(
    ("header", "form"),
    [
        (digest().hex(), "hex"),
        ("sha256=" + digest().hex(), "sha256=hex"),
        (base64.b64encode(digest()).decode(), "base64"),
        (base64.b64encode(digest()).decode().rstrip("="), "base64"),
        ("  " + digest().hex() + " ", "hex"),  # optional whitespace around a header value
    ],
)
def test_each_accepted_form_verifies_and_says_which(header: str, form: str) -> None:
    assert verify_signature(BODY, header, SECRET) == form


def test_sign_produces_each_form_and_they_verify() -> None:
    assert sign(BODY, SECRET, "hex") == digest().hex()
    assert sign(BODY, SECRET, "sha256=hex") == "sha256=" + digest().hex()
    assert sign(BODY, SECRET, "base64") == base64.b64encode(digest()).decode()
    for form in ("hex", "sha256=hex", "base64"):
        assert verify_signature(BODY, sign(BODY, SECRET, form), SECRET) == form  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sign(BODY, SECRET, "hex-upper")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sign(BODY, "", "hex")


def test_the_signature_covers_the_exact_raw_bytes() -> None:
    header = digest().hex()
    reformatted = json.dumps(json.loads(BODY)).encode()  # same JSON, other bytes
    assert rejected(header, body=reformatted) == "mismatch"
    assert rejected(header, body=BODY + b"\n") == "mismatch"
    assert rejected(header, body=b"") == "mismatch"


# ----------------------------------------------------------------- forged, truncated, wrong


def test_a_wrong_secret_or_a_forged_digest_is_a_mismatch() -> None:
    for form in ("hex", "sha256=hex", "base64"):
        assert rejected(sign(BODY, "another-secret", form)) == "mismatch"  # type: ignore[arg-type]
    forged = bytearray(digest())
    forged[0] ^= 1
    assert rejected(forged.hex()) == "mismatch"
    assert rejected(base64.b64encode(bytes(forged)).decode()) == "mismatch"
    assert rejected("0" * 64) == "mismatch"
    # The secret's bytes matter, not a prefix of them.
    assert rejected(sign(BODY, SECRET + "x")) == "mismatch"
    assert rejected(sign(BODY, SECRET[:-1])) == "mismatch"


@pytest.mark.parametrize(
    "header",
    [
        digest().hex()[:-1],  # truncated hex
        digest().hex()[:32],
        digest().hex() + "0",  # one too many
        "sha256=" + digest().hex()[:-2],
        base64.b64encode(digest()).decode()[:-2],  # truncated base64
        base64.b64encode(digest()[:16]).decode(),  # a shorter digest, well encoded
        hashlib.sha1(BODY, usedforsecurity=False).hexdigest(),  # another hash's length
        "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
    ],
)
def test_truncated_or_other_length_signatures_are_malformed(header: str) -> None:
    assert rejected(header) == "malformed"


@pytest.mark.parametrize(
    "header",
    [
        digest().hex().upper(),  # uppercase hex is not what a Go service prints
        "SHA256=" + digest().hex(),
        "sha256:" + digest().hex(),
        "sha256= " + digest().hex(),
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # URL-safe alphabet ('-', '_')
        base64.b64encode(digest()).decode() + "=",  # too much padding
        base64.b64encode(digest()).decode()[:20] + " " + base64.b64encode(digest()).decode()[20:],
        digest().hex() + "," + digest().hex(),  # several signatures
        "t=1700000000,v1=" + digest().hex(),  # another vendor's scheme
        "x" * 1000,
    ],
)
def test_every_other_spelling_is_malformed(header: str) -> None:
    assert rejected(header) == "malformed"


def test_a_non_canonical_base64_spelling_of_the_right_digest_is_refused() -> None:
    canonical = base64.b64encode(digest()).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(canonical[42])
    sloppy = canonical[:42] + alphabet[last | 1] + "="  # same bytes once decoded, other text
    assert base64.b64decode(sloppy) == digest()
    assert rejected(sloppy) in ("malformed", "mismatch")


@pytest.mark.parametrize(
    "header",
    [
        "é" * 64,
        digest().hex()[:-1] + "é",
        digest().hex() + "\x00",
        digest().hex()[:30] + "\r\n" + digest().hex()[30:],
        "\u202e" + digest().hex(),  # right-to-left override
        "\uff21\uff22\uff23" + digest().hex(),  # full-width letters
        "\ud800" * 10,  # a lone surrogate (WSGI can hand one over)
        "sha256=\x1b[31m" + digest().hex(),
    ],
)
def test_non_ascii_and_control_junk_is_malformed_and_never_echoed(header: str) -> None:
    assert rejected(header) == "malformed"


@pytest.mark.parametrize("header", [None, "", "   ", "\t"])
def test_an_unsigned_delivery_is_missing(header: str | None) -> None:
    assert rejected(header) == "missing"


def test_an_empty_secret_is_a_programming_error_not_a_pass() -> None:
    with pytest.raises(ValueError):
        verify_signature(BODY, hmac.new(b"", BODY, hashlib.sha256).hexdigest(), "")


def test_comparison_uses_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("bot.polytomic.webhooks.hmac.compare_digest", spy)
    verify_signature(BODY, digest().hex(), SECRET)
    rejected("f" * 64)
    assert len(calls) == 2


# ----------------------------------------------------------------- the body


def test_a_delivery_parses_into_an_event() -> None:
    event = parse_delivery(BODY)
    assert event.id == "0b6f1c56-0a5e-4a0e-9b0c-2f1f7d2c9a11"
    assert event.type == "sync.canceled" and event.is_terminal
    assert event.execution_id == "e-1" and event.sync_id == "s-1"
    assert event.sync is not None and event.sync.sync_name == "Ünïcode ✓"
    assert event.created_at is not None and event.created_at.microsecond == 123456


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",  # not UTF-8
        b"[]",
        b'"sync.canceled"',
        b"null",
        b"42",
        b"{}",  # no type
        b'{"type": ""}',
        b'{"type": "   "}',
        b'{"type": 7}',
        b'{"type": ["sync.canceled"]}',
        b'{"type": "sync.canceled\\u0000"}',
        b'{"type": "sync.canceled", "id": 12}',
        b'{"type": "sync.canceled", "id": {"a": 1}}',
        b'{"type": "sync.canceled", "id": ""}',
        b'{"type": "sync.canceled", "id": "has space"}',
        b'{"type": "sync.canceled", "event": "canceled"}',
        b'{"type": "sync.canceled", "event": []}',
        b'{"type": "sync.canceled"',  # truncated
        b"[" * 100_000 + b"]" * 100_000,  # nesting bomb
    ],
)
def test_malformed_bodies_raise_malformed_delivery(body: bytes) -> None:
    with pytest.raises(MalformedDelivery) as caught:
        parse_delivery(body)
    assert not isinstance(caught.value, BodyTooLarge)


def test_an_oversized_body_is_too_large() -> None:
    padding = "x" * MAX_BODY_BYTES
    with pytest.raises(BodyTooLarge):
        parse_delivery(json.dumps({"type": "sync.running", "pad": padding}).encode())
    exactly = b'{"type":"sync.running","pad":"' + b"x" * (MAX_BODY_BYTES - 32) + b'"}'
    assert len(exactly) == MAX_BODY_BYTES
    assert parse_delivery(exactly).type == "sync.running"


def test_odd_but_well_formed_deliveries_are_accepted() -> None:
    # The docs' own example has no top-level id; unknown types are kept as their string.
    assert parse_delivery(b'{"type": "bulk_sync.running", "event": {"name": "Asana"}}').id is None
    new = parse_delivery(b'{"type": "sync.paused", "id": "evt_1", "event": {"sync_id": "s-9"}, "extra": 1}')
    assert (new.type, new.known, new.outcome, new.is_terminal) == ("sync.paused", False, None, False)
    assert new.sync is not None and new.sync_id == "s-9"  # the family's fields still read
    other = parse_delivery(b'{"type": "user.created", "id": "evt_2", "event": null}')
    assert (other.family, other.sync, other.bulk_sync, other.execution_status) == (None, None, None, None)
    assert parse_delivery(b'{"type": "sync.failed", "created_at": "yesterday"}').created_at is None


# ----------------------------------------------------------------- the dedupe key


def test_dedupe_key_is_the_id_else_a_digest_of_the_body() -> None:
    assert dedupe_key(BODY) == "0b6f1c56-0a5e-4a0e-9b0c-2f1f7d2c9a11"
    assert dedupe_key(BODY, parse_delivery(BODY)) == dedupe_key(BODY)
    anonymous = b'{"type":"sync.running","event":{"sync_id":"s-1"}}'
    key = dedupe_key(anonymous)
    assert key == "sha256:" + hashlib.sha256(anonymous).hexdigest()
    assert dedupe_key(anonymous) == key  # stable
    assert dedupe_key(anonymous + b" ") != key  # other bytes, other delivery
    assert dedupe_key(b"garbage").startswith("sha256:")  # never raises
