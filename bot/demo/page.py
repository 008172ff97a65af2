"""The demo's web page: a stand-in for Slack, served beside the bot on the same port.

`GET /` is the page (static/index.html, app.js, app.css: plain files, no build step). The page
reads `GET /demo/state?user=…` (surface.py's snapshot) and acts through `POST /demo/…`: a slash
command typed as one of the demo users, a button click, opening the Home tab, a modal's submit or
close, and "make a sync fail now". Each action becomes the request Slack would send, built by
bot/fakes/signing.py and signed with the demo's signing secret, and goes to the bot's own
`/slack/events` over HTTP, as Slack's would: the bot cannot tell the page from Slack.

Every input is checked (a known user and channel, text within Slack's limit, a known message or
button) and a bad one answers 400 with the reason, changing nothing. Writes take JSON only and
refuse another origin, so a web page elsewhere cannot drive the demo through the browser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.demo.settings import CHANNEL, CHANNEL_NAME, INCIDENT_CHANNEL, INCIDENT_CHANNEL_NAME, USERS
from bot.demo.surface import Surfaces, dm_channel
from bot.fakes.signing import block_actions_payload, make_trigger_id, post_signed, slash_command_body

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

STATIC = Path(__file__).with_name("static")
FILES = {
    "/": ("index.html", "text/html"),
    "/demo/app.js": ("app.js", "text/javascript"),
    "/demo/app.css": ("app.css", "text/css"),
}
MAX_BODY = 64 * 1024
MAX_COMMAND = 4_000  # Slack's limit on a slash command's text
CHANNELS = {CHANNEL: CHANNEL_NAME, INCIDENT_CHANNEL: INCIDENT_CHANNEL_NAME}
NAMES = {user.id: user.name for user in USERS}
HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


class BadInput(Exception):
    """What was wrong with a request from the page, in one line for the page to show."""


@dataclass
class Answer:
    status: str
    body: dict[str, Any]


class DemoPage:
    """The page's routes. `bot_url` is where the bot listens (this same server); `fail_now`
    makes the failing sync fail and names it."""

    def __init__(
        self,
        surfaces: Surfaces,
        *,
        signing_secret: str,
        team_id: str,
        fail_now: Callable[[], str],
    ) -> None:
        self.surfaces = surfaces
        self._secret = signing_secret
        self._team = team_id
        self._fail_now = fail_now
        self.bot_url = ""  # set once the server listens (`--port 0`)

    # ---- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and path in FILES:
            name, ctype = FILES[path]
            body = (STATIC / name).read_bytes()
            start_response(
                "200 OK",
                [("Content-Type", f"{ctype}; charset=utf-8"), ("Content-Security-Policy", CSP), *HEADERS],
            )
            return [body]
        if path == "/favicon.ico":
            start_response("204 No Content", HEADERS)
            return [b""]
        if method == "GET" and path == "/demo/state":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                answer = Answer("200 OK", self.state(_user((query.get("user") or [""])[0])))
            except BadInput as error:
                answer = Answer("400 Bad Request", {"error": str(error)})
            return _json(start_response, answer)
        action = ACTIONS.get(path)
        if action is None:
            return _json(start_response, Answer("404 Not Found", {"error": "not found"}))
        if method != "POST":
            return _json(start_response, Answer("405 Method Not Allowed", {"error": "use POST"}))
        try:
            data = _read_json(environ)
            answer = Answer("200 OK", action(self, data))
        except BadInput as error:
            answer = Answer("400 Bad Request", {"error": str(error)})
        except httpx.HTTPError as error:
            answer = Answer("502 Bad Gateway", {"error": f"the bot did not answer: {type(error).__name__}"})
        return _json(start_response, answer)

    # ---- reads -----------------------------------------------------------------------------

    def state(self, user: str) -> dict[str, Any]:
        shot = self.surfaces.snapshot(user)
        channels = [{"id": cid, "name": name} for cid, name in CHANNELS.items()]
        dm = dm_channel(user)
        channels += [
            {"id": cid, "name": "Polytomic (direct messages)" if cid == dm else cid}
            for cid in shot["channels"]
            if cid not in CHANNELS
        ]
        return {
            "user": user,
            "users": [{"id": u.id, "name": u.name, "role": u.role} for u in USERS],
            "channel_list": channels,
            **shot,
        }

    # ---- actions: what Slack would send ----------------------------------------------------

    def command(self, data: dict[str, Any]) -> dict[str, Any]:
        user = _user(data.get("user"))
        channel = (
            dm_channel(user) if data.get("channel") == dm_channel(user) else _channel(data.get("channel"))
        )
        text = data.get("text")
        if not isinstance(text, str) or len(text) > MAX_COMMAND:
            raise BadInput(f"type a command of at most {MAX_COMMAND} characters")
        text = text.strip()
        if text.startswith("/polytomic"):
            text = text[len("/polytomic") :].strip()
        # Slack sends what the user typed with &, < and > as entities (its markup is <…>).
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        trigger = make_trigger_id()
        self.surfaces.trigger(user, trigger)
        body = slash_command_body(
            text=text,
            response_url=self.surfaces.response_url(user, channel),
            user_id=user,
            user_name=NAMES[user].split()[0].lower(),
            channel_id=channel,
            channel_name=CHANNELS.get(channel, "directmessage"),
            team_id=self._team,
            trigger_id=trigger,
        )
        response = self._send(body)
        ack = _ack_body(response)
        if ack.get("text") or ack.get("blocks"):
            self.surfaces.ack_answer(user, channel, ack.get("text"), ack.get("blocks"))
        return {"status": response.status_code}

    def click(self, data: dict[str, Any]) -> dict[str, Any]:
        user, key = _user(data.get("user")), data.get("key")
        action_id, value, block_id = (_short(data.get(k), k) for k in ("action_id", "value", "block_id"))
        text, style = _short(data.get("text"), "text"), data.get("style")
        trigger = make_trigger_id()
        self.surfaces.trigger(user, trigger)
        common: dict[str, Any] = {
            "user_id": user,
            "user_name": NAMES[user].split()[0].lower(),
            "action_id": action_id,
            "value": value,
            "block_id": block_id or "b",
            "team_id": self._team,
            "trigger_id": trigger,
            "action_text": text or "Button",
            "style": style if style in ("primary", "danger") else None,
        }
        if not isinstance(key, str):
            raise BadInput("a click names the message it was on")
        if key.startswith(("home|", "modal|")):
            payload = self._view_click(user, key, common)
        else:
            channel = _channel(data.get("channel"), any_known=True)
            url = self.surfaces.response_url(user, channel, replaces=key)
            message = self.surfaces.message(key)
            if key.startswith("m|"):
                if message is None:
                    raise BadInput("that message is gone")
                payload = block_actions_payload(
                    **common,
                    channel_id=message.channel,
                    channel_name=CHANNELS.get(message.channel, message.channel),
                    response_url=url,
                    message_ts=message.ts,
                    ephemeral=False,
                    message={**message.to_api(), "subtype": "bot_message"},
                )
            else:
                payload = block_actions_payload(
                    **common,
                    channel_id=channel,
                    channel_name=CHANNELS.get(channel, channel),
                    response_url=url,
                )
        response = self._send(_form(payload))
        return {"status": response.status_code}

    def _view_click(self, user: str, key: str, common: dict[str, Any]) -> dict[str, Any]:
        """A click in the Home tab or a modal: Slack sends the view, and no channel and no
        response_url."""
        home = key.startswith("home|")
        view = self.surfaces.home(user) if home else self.surfaces.modal(user)
        # A Home tab is republished in place (its ID may change); a modal must still be open.
        if view is None or (not home and key.split("|", 1)[1] != view.get("id")):
            raise BadInput("that view is not open any more")
        payload = block_actions_payload(**common, channel_id="", response_url="", ephemeral=True)
        for gone in ("channel", "response_url", "message"):
            payload.pop(gone, None)
        payload["container"] = {"type": "view", "view_id": view["id"]}
        kind = "home" if home else "modal"
        payload["view"] = {**view, "type": kind, "team_id": self._team, "state": {"values": {}}}
        return payload

    def home_opened(self, data: dict[str, Any]) -> dict[str, Any]:
        user = _user(data.get("user"))
        now = time.time()
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": dm_channel(user),
            "tab": "home",
            "event_ts": f"{now:.6f}",
        }
        view = self.surfaces.home(user)
        if view is not None:
            event["view"] = view
        body = {
            "token": "verification-token",
            "team_id": self._team,
            "api_app_id": "A0TEST",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{int(now * 1e6)}",
            "event_time": int(now),
            "authorizations": [{"team_id": self._team, "user_id": "UBOT", "is_bot": True}],
        }
        response = self._send(json.dumps(body).encode(), content_type="application/json")
        return {"status": response.status_code}

    def modal(self, data: dict[str, Any]) -> dict[str, Any]:
        user, choice = _user(data.get("user")), data.get("action")
        view = self.surfaces.modal(user)
        if view is None or view.get("id") != data.get("view_id"):
            raise BadInput("that dialog is not open")
        if choice not in ("submit", "close"):
            raise BadInput("a dialog is submitted or closed")
        payload = {
            "type": "view_submission" if choice == "submit" else "view_closed",
            "team": {"id": self._team, "domain": "demo-data"},
            "user": {"id": user, "username": NAMES[user].split()[0].lower(), "team_id": self._team},
            "api_app_id": "A0TEST",
            "token": "verification-token",
            "trigger_id": make_trigger_id(),
            "view": {**view, "state": {"values": {}}},
            "is_cleared": False,
        }
        if choice == "close" and not view.get("notify_on_close"):
            self.surfaces.close_modal(str(view["id"]))  # Slack tells the app only when asked to
            return {"status": 200}
        response = self._send(_form(payload))
        ack = _ack_body(response)
        if ack.get("response_action") == "errors":
            return {"status": response.status_code, "errors": ack.get("errors") or {}}
        if ack.get("response_action") in ("update", "push") and isinstance(ack.get("view"), dict):
            self.surfaces.update_modal(str(view["id"]), ack["view"])
        elif choice == "close" or ack.get("response_action") in (None, "clear"):
            self.surfaces.close_modal(str(view["id"]))
        return {"status": response.status_code}

    def fail(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"failed": self._fail_now()}

    def _send(
        self, body: bytes, *, content_type: str = "application/x-www-form-urlencoded"
    ) -> httpx.Response:
        return post_signed(f"{self.bot_url}/slack/events", body, self._secret, content_type=content_type)


ACTIONS: dict[str, Callable[[DemoPage, dict[str, Any]], dict[str, Any]]] = {
    "/demo/command": DemoPage.command,
    "/demo/click": DemoPage.click,
    "/demo/home": DemoPage.home_opened,
    "/demo/modal": DemoPage.modal,
    "/demo/fail": DemoPage.fail,
}


def _user(value: Any) -> str:
    if value not in NAMES:
        raise BadInput("pick one of the demo users")
    return str(value)


def _channel(value: Any, *, any_known: bool = False) -> str:
    if value in CHANNELS or (any_known and isinstance(value, str) and value.isalnum() and len(value) < 32):
        return str(value)
    raise BadInput("pick one of the demo channels")


def _short(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 2_000:
        raise BadInput(f"{what} must be a string of at most 2000 characters")
    return value


def _form(payload: dict[str, Any]) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def _ack_body(response: httpx.Response) -> dict[str, Any]:
    if not response.content or "json" not in response.headers.get("content-type", ""):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
        raise BadInput("send JSON")
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and origin.split("://", 1)[-1] != environ.get("HTTP_HOST"):
        raise BadInput("the demo takes actions from its own page only")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not 0 < length <= MAX_BODY:
        raise BadInput(f"send a JSON object of at most {MAX_BODY} bytes")
    try:
        data = json.loads(environ["wsgi.input"].read(length))
    except (ValueError, UnicodeDecodeError):
        raise BadInput("that is not JSON") from None
    if not isinstance(data, dict):
        raise BadInput("send a JSON object")
    return data


def _json(start_response: StartResponse, answer: Answer) -> list[bytes]:
    body = json.dumps(answer.body).encode()
    start_response(
        answer.status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *HEADERS]
    )
    return [body]
