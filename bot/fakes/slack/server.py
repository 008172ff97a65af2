"""FakeSlack itself: the parts put together, started and stopped, and every request routed.

A request to `/api/<method>` is read (token from the Authorization header or the form),
delayed if a test asked for latency, then checked in Slack's order: a known method,
well-formed parameters, the token, the rate limits and injected faults (faults.py), the
method's scope; then the method answers (methods.py). `/response/<id>` goes to the
response_url sink (response_urls.py). Every request is recorded, and a bug in the fake is
answered HTTP 500 and kept in `internal_errors`.
"""

from __future__ import annotations

import argparse
import copy
import threading
import time
from email.message import Message as _HeaderMessage
from typing import Any
from urllib.parse import urlsplit

from bot.fakes.slack.faults import Faults
from bot.fakes.slack.inspection import Inspection
from bot.fakes.slack.methods import METHODS, REQUIRED_SCOPES, WebApiMethods
from bot.fakes.slack.plumbing import Handler, Server, answer, parse_params
from bot.fakes.slack.records import RecordedCall
from bot.fakes.slack.response_urls import ResponseUrls
from bot.fakes.slack.state import ApiError


class FakeSlack(Inspection, ResponseUrls, WebApiMethods, Faults):
    """Fake Slack Web API + response_url endpoints on ``http://127.0.0.1:<port>``.

    Its constructor, with the fake's settings, is SlackState's (state.py); its methods are
    grouped by concept: workspace.py (channels, users, groups, scopes), faults.py (errors,
    limits, latency), response_urls.py, inspection.py (records and waiting).
    """

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._server = Server((self._host, self._port), self)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeSlack:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.api_url if self._server is not None else "not started"
        return f"<FakeSlack {where} requests={len(self._requests)} messages={len(self._messages)}>"

    # ----------------------------------------------------------------- HTTP entry point

    def _serve(self, handler: Handler, verb: str) -> None:
        arrived = time.time()
        split = urlsplit(handler.path)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
            handler.close_connection = True  # where this body ends is unknown: none follows it
        raw = handler.rfile.read(length) if length > 0 else b""
        path = split.path
        status: int
        body: dict[str, Any] | str
        headers: dict[str, str]
        try:
            if path.startswith("/api/"):
                status, body, headers = self._serve_api(
                    handler.headers, verb, path, split.query, raw, arrived
                )
            elif path.startswith("/response/"):
                status, body, headers = self._serve_response_url(handler.headers, verb, path, raw, arrived)
            elif path in ("", "/") and verb == "GET":
                status, body, headers = 200, "fake-slack", {}
            else:
                status, body, headers = 404, "not_found", {}
        except Exception as exc:  # a bug in the fake: make it loud, recorded and answered
            status, body, headers = 500, {"ok": False, "error": f"fake_slack_bug: {exc!r}"}, {}
            with self._lock:
                self._internal_errors.append(f"{verb} {handler.path}: {exc!r}")
                self._record(
                    RecordedCall(
                        method=path.rsplit("/", 1)[-1],
                        params={},
                        headers=dict(handler.headers.items()),
                        time=arrived,
                        status=status,
                        response=body,
                        http_method=verb,
                        path=path,
                        raw_body=raw,
                    )
                )
        drip = self._drip_for(path.rsplit("/", 1)[-1]) if path.startswith("/api/") else 0.0
        answer(handler, status, body, headers, drip=drip)

    # ----------------------------------------------------------------- Web API

    def _serve_api(
        self, raw_headers: _HeaderMessage, verb: str, path: str, query: str, raw: bytes, arrived: float
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        method = path[len("/api/") :].strip("/")
        params, parse_error = parse_params(query, raw, raw_headers.get("Content-Type", ""))
        token: str | None = None
        auth = raw_headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        form_token = params.pop("token", None)
        if token is None and isinstance(form_token, str) and form_token:
            token = form_token

        delay = self._latency_for(method)
        if delay:
            time.sleep(delay)

        with self._lock:
            headers = {"x-oauth-scopes": self._scopes}
            if method in REQUIRED_SCOPES:
                headers["x-accepted-oauth-scopes"] = REQUIRED_SCOPES[method]
            status = 200
            if verb not in ("GET", "POST"):
                status, body = 405, {"ok": False, "error": "method_not_allowed"}
            else:
                status, body, extra_headers = self._dispatch(method, params, token, parse_error)
                headers.update(extra_headers)
            self._record(
                RecordedCall(
                    method=method,
                    params=copy.deepcopy(params),
                    headers=dict(raw_headers.items()),
                    time=arrived,
                    status=status,
                    response=copy.deepcopy(body),
                    http_method=verb,
                    path=path,
                    token=token,
                    response_headers=dict(headers),
                    raw_body=raw,
                )
            )
        return status, body, headers

    def _dispatch(
        self, method: str, params: dict[str, Any], token: str | None, parse_error: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = METHODS.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        if method != "api.test":
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, {}
            if token != self.bot_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}

        now = time.time()
        channel = params.get("channel") if isinstance(params.get("channel"), str) else None
        self._check_window(method, channel, now)

        retry_after = self._rate_limited(method, channel, now)
        if retry_after is not None:
            self._shut_window(method, channel, now, retry_after)
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}

        for inj in self._injections:
            if inj.matches(method, channel):
                inj.remaining -= 1
                extra = {}
                if inj.location is not None:
                    extra["Location"] = inj.location
                if inj.retry_after is not None:
                    extra["Retry-After"] = str(inj.retry_after)
                    if inj.status == 429:
                        self._shut_window(method, channel, now, _seconds(inj.retry_after))
                self._injections = [i for i in self._injections if i.remaining > 0]
                return inj.status, {"ok": False, "error": inj.error}, extra

        needed = REQUIRED_SCOPES.get(method)
        if needed and needed not in self._scope_set():
            return (
                200,
                {"ok": False, "error": "missing_scope", "needed": needed, "provided": self._scopes},
                {},
            )

        try:
            return 200, handler(self, params, now), {}
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}


def _seconds(retry_after: float | str) -> float:
    try:
        return min(float(retry_after), 86_400.0)
    except ValueError:
        return 1.0


def main(argv: list[str] | None = None) -> None:
    """Run a FakeSlack standalone: ``python -m bot.fakes.slack --port 8099``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="xoxb-test-token")
    args = parser.parse_args(argv)
    with FakeSlack(args.token, port=args.port) as fake:
        print(fake.api_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
