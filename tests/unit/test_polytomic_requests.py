"""What PolytomicClient puts on the wire now that it hands requests to its transport itself
(no httpx.Client): the headers, the query, no cookie kept, no redirect followed, and every
answer closed (its connection back in the pool) whether it was read, refused or too large."""

from __future__ import annotations

import httpx
import pytest

from bot.polytomic import PolytomicClient, PolytomicError
from bot.polytomic.bounded import MAX_ANSWER_BYTES

KEY = "pk_live_REQUESTS_0123456789"


class _Closing(httpx.ByteStream):
    closed = 0

    def close(self) -> None:
        _Closing.closed += 1


def test_headers_query_and_no_cookie_kept() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []}, headers={"Set-Cookie": "session=abc; Path=/"})

    client = PolytomicClient(
        "https://polytomic.invalid/base/", api_key=KEY, transport=httpx.MockTransport(handler)
    )
    client._request("GET", "/api/syncs", params={"page_token": "a b&c"})
    client._request("POST", "/api/syncs/x/cancel", json_body={"a": 1}, idempotency_key="key-12345678")
    client.close()
    get, post = seen
    assert str(get.url) == "https://polytomic.invalid/base/api/syncs?page_token=a+b%26c"
    for request in seen:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["X-Polytomic-Version"] == client.api_version
        assert request.headers["User-Agent"].startswith("polytomic-bot/")
        assert "gzip" in request.headers["Accept-Encoding"]
        assert request.headers["Host"] == "polytomic.invalid"
        assert "Cookie" not in request.headers
        assert request.extensions["timeout"]["read"] == client.timeout
    assert "Idempotency-Key" not in get.headers
    assert post.headers["Idempotency-Key"] == "key-12345678"
    assert post.content == b'{"a":1}' and post.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("status", "headers", "size"),
    [
        (200, {}, 10),
        (404, {}, 10),
        (302, {"Location": "https://elsewhere.invalid/"}, 10),
        (200, {}, MAX_ANSWER_BYTES + 1),
    ],
)
def test_every_answer_is_closed_and_redirects_are_not_followed(
    status: int, headers: dict[str, str], size: int
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(status, headers=headers, stream=_Closing(b"{" + b" " * (size - 2) + b"}"))

    client = PolytomicClient(
        "https://polytomic.invalid", api_key=KEY, transport=httpx.MockTransport(handler), max_retries=0
    )
    before = _Closing.closed
    if status == 200 and size == 10:
        assert client._request("GET", "/api/syncs") == {}
    else:
        with pytest.raises(PolytomicError) as caught:
            client._request("GET", "/api/syncs")
        if status == 302:
            assert "unexpected redirect" in str(caught.value)
    client.close()
    assert _Closing.closed == before + 1
    assert calls == ["https://polytomic.invalid/api/syncs"]
