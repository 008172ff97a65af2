"""The fake Slack's response_url sink: the URLs a test hands the bot in a slash command or a
click, and what Slack does with a post to one: at most 5 successful uses (then HTTP 404
`used_url`), 30 minutes of life (`expired_url`), an unknown ID is `no_service`, and
`replace_original` / `delete_original` edit or delete the message the click was on.

Kept apart from the Web API because Slack's rules here differ: plain-text answers, its own
errors and limits, and no token.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from email.message import Message as _HeaderMessage
from typing import Any

from bot.fakes.slack.plumbing import truthy
from bot.fakes.slack.records import RecordedCall
from bot.fakes.slack.state import ApiError, Injection, ResponseUrl, SlackState

RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60


class ResponseUrls(SlackState):
    """Handing out response_urls, reading what was posted to them, and taking the posts."""

    def response_url(
        self, label: str | None = None, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A fresh response_url. With ``channel``/``message_ts`` of a bot message (a button
        click on it), ``replace_original``/``delete_original`` also edit/delete that message."""
        with self._lock:
            number = next(self._response_counter)
            rid = f"{number}-{uuid.uuid4().hex[:12]}"
            self._response_urls[rid] = ResponseUrl(
                id=rid, label=label, created=time.time(), channel=channel, message_ts=message_ts
            )
            self._bound()
        return f"{self.base_url}/response/{rid}"

    def _response_state(self, url_or_id: str) -> ResponseUrl:
        rid = url_or_id.rstrip("/").rsplit("/", 1)[-1]
        state = self._response_urls.get(rid)
        if state is None:
            raise KeyError(f"unknown response_url {url_or_id!r}")
        return state

    def responses(self, url_or_id: str | None = None) -> list[dict[str, Any]]:
        """Accepted posts to one response_url (or to all, in arrival order), each
        ``{text, blocks, attachments, response_type, replace_original, delete_original,
        thread_ts, time, body, id, label}``."""
        with self._lock:
            if url_or_id is None:
                records = [r for s in self._response_urls.values() for r in s.records]
                records.sort(key=lambda r: r["time"])
            else:
                records = list(self._response_state(url_or_id).records)
            return copy.deepcopy(records)

    def response_url_uses(self, url_or_id: str) -> int:
        with self._lock:
            return self._response_state(url_or_id).uses

    def expire_response_url(self, url_or_id: str) -> None:
        """Make a response_url answer 404 ``expired_url`` (as after 30 minutes)."""
        with self._lock:
            self._response_state(url_or_id).expired = True

    def inject_response_url_error(
        self, url_or_id: str, status: int = 500, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next ``times`` posts to this response_url answer HTTP ``status`` (429 gets a
        ``Retry-After``, default 1). Failed posts do not count towards the 5 uses."""
        if status == 429 and retry_after is None:
            retry_after = 1
        error = {429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}.get(status, "error")
        with self._lock:
            self._response_state(url_or_id).failures.append(
                Injection(
                    method="response_url",
                    remaining=times,
                    error=error,
                    status=status,
                    retry_after=retry_after,
                )
            )

    def _serve_response_url(
        self, raw_headers: _HeaderMessage, verb: str, path: str, raw: bytes, arrived: float
    ) -> tuple[int, str, dict[str, str]]:
        rid = path[len("/response/") :].strip("/")
        body: dict[str, Any] = {}
        parse_ok = True
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
            if isinstance(parsed, dict):
                body = parsed
            else:
                parse_ok = False
        except (UnicodeDecodeError, ValueError):
            parse_ok = False

        delay = self._latency_for("response_url")
        if delay:
            time.sleep(delay)

        with self._lock:
            status, answer, headers = self._accept_response(rid, verb, body, parse_ok, arrived)
            self._record(
                RecordedCall(
                    method="response_url",
                    params=copy.deepcopy(body),
                    headers=dict(raw_headers.items()),
                    time=arrived,
                    status=status,
                    response=answer,
                    http_method=verb,
                    path=path,
                    response_headers=dict(headers),
                    raw_body=raw,
                )
            )
        return status, answer, headers

    def _accept_response(
        self, rid: str, verb: str, body: dict[str, Any], parse_ok: bool, now: float
    ) -> tuple[int, str, dict[str, str]]:
        state = self._response_urls.get(rid)
        if state is None:
            return 404, "no_service", {}
        if verb != "POST":
            return 405, "invalid_method", {}
        for inj in state.failures:
            if inj.remaining > 0:
                inj.remaining -= 1
                headers = {"Retry-After": str(inj.retry_after)} if inj.retry_after is not None else {}
                return inj.status, inj.error, headers
        if state.expired or now - state.created > RESPONSE_URL_TTL_SECONDS:
            return 404, "expired_url", {}
        if state.uses >= RESPONSE_URL_MAX_USES:
            return 404, "used_url", {}
        if not parse_ok:
            return 400, "invalid_payload", {}
        delete = truthy(body.get("delete_original"))
        try:
            text, blocks, attachments = self._content(body, require=not delete)
        except ApiError as exc:
            return 400, exc.error, {}
        state.uses += 1
        record = {
            "text": text,
            "blocks": blocks,
            "attachments": attachments,
            "response_type": body.get("response_type"),
            "replace_original": truthy(body.get("replace_original")),
            "delete_original": delete,
            "thread_ts": body.get("thread_ts"),
            "time": now,
            "body": copy.deepcopy(body),
            "id": rid,
            "label": state.label,
        }
        state.records.append(record)
        if state.channel and state.message_ts:
            msg = self._messages.get((state.channel, state.message_ts))
            if msg is not None and not msg.deleted:
                if delete:
                    msg.deleted = True
                    msg.deleted_at = now
                elif record["replace_original"]:
                    msg.versions.append(
                        {
                            "method": "response_url",
                            "text": text,
                            "blocks": blocks,
                            "attachments": attachments,
                            "thread_ts": msg.thread_ts,
                            "time": now,
                            "edited_ts": self._next_ts(),
                        }
                    )
        return 200, "ok", {}
