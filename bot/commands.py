"""The text after `/polytomic` → a command value. Pure: no Slack, no IO.

With `should_escape: true` on the slash command, Slack sends mentions as `<@U123|name>` and
`<!subteam^S123|@handle>` and links as `<https://…|label>`, which is what is parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.references import MAX_NAME, QUOTES, WORD
from bot.references import SyncRef as SyncRef  # re-exported: every command that names a sync holds one
from bot.references import parse_sync_arg as parse_sync_arg
from bot.references import parse_sync_ref as parse_sync_ref

if TYPE_CHECKING:
    from bot.selectors import Selector

MAX_TEXT = 1000  # anything longer is refused before it is looked at
ACTIONS = ("cancel", "pause", "start", "subscribe", "admin")
MODES = ("failures", "finished", "all")  # which runs a subscription hears of (default failures)
SubjectKind = Literal["user", "usergroup"]

_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]{2,})(?:\|[^>]*)?>$")
_RAW_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    id: str

    @property
    def mention(self) -> str:
        return f"<@{self.id}>" if self.kind == "user" else f"<!subteam^{self.id}>"


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Cancel:
    sync: SyncRef


@dataclass(frozen=True)
class Stop:
    """A mass stop (bot/selectors.py): `verb` ("cancel", "pause" or "resume") on what
    `selector` selects. A cancel of one named sync stays a `Cancel`."""

    verb: str
    selector: Selector


@dataclass(frozen=True)
class Status:
    sync: SyncRef


@dataclass(frozen=True)
class GrantCmd:
    subject: Subject
    action: str
    scope: str  # a sync ID or "*"


@dataclass(frozen=True)
class RevokeCmd:
    subject: Subject
    action: str
    scope: str


@dataclass(frozen=True)
class ListGrants:
    pass


@dataclass(frozen=True)
class ListSyncs:
    running: bool = False


@dataclass(frozen=True)
class Why:
    sync: SyncRef


@dataclass(frozen=True)
class Audit:
    sync: SyncRef | None = None


@dataclass(frozen=True)
class Invalid:
    """Not a command; `problem` says why in words safe to show (it quotes no user text)."""

    problem: str
    usage: str


@dataclass(frozen=True)
class AllSyncs:
    """`*`: every sync."""


@dataclass(frozen=True)
class ConnectionRef:
    """`to <connection>`: every sync that writes to this connection, by its name or ID."""

    query: str


SubscriptionTarget = SyncRef | AllSyncs | ConnectionRef


@dataclass(frozen=True)
class Subscribe:
    target: SubscriptionTarget
    mode: str = "failures"


@dataclass(frozen=True)
class Unsubscribe:
    target: SubscriptionTarget
    mode: str | None = None  # accepted for symmetry with subscribe; the target alone decides


@dataclass(frozen=True)
class ListSubscriptions:
    pass


@dataclass(frozen=True)
class Start:
    sync: SyncRef


Command = (
    Help
    | Cancel
    | Stop
    | Status
    | GrantCmd
    | RevokeCmd
    | ListGrants
    | ListSyncs
    | Why
    | Audit
    | Subscribe
    | Unsubscribe
    | ListSubscriptions
    | Start
    | Invalid
)

USAGE = {
    "cancel": "/polytomic cancel <sync ID, URL or name …> | running to <connection> | all running",
    "pause": "/polytomic pause <sync ID, URL or name …> | [running] to <connection> | all [running]",
    "resume": "/polytomic resume <sync ID, URL or name …> | to <connection> | all",
    "status": "/polytomic status <sync ID, Polytomic URL or exact name>",
    "list": "/polytomic list [running]",
    "why": "/polytomic why <sync ID, Polytomic URL or exact name>",
    "audit": "/polytomic audit [sync ID, Polytomic URL or exact name]",
    "grant": "/polytomic grant <@user or @group> <cancel|pause|start|subscribe|admin> <sync ID or *>",
    "revoke": "/polytomic revoke <@user or @group> <cancel|pause|start|subscribe|admin> <sync ID or *>",
    "subscribe": '/polytomic subscribe <sync ID, URL, "name", * or to <connection>> [failures|finished|all]',
    "unsubscribe": '/polytomic unsubscribe <sync ID, URL, "name", * or to <connection>>',
    "subscriptions": "/polytomic subscriptions",
    "start": "/polytomic start <sync ID, Polytomic URL or exact name>",
    "grants": "/polytomic grants",
    "help": "/polytomic help",
}


def parse_subject(token: str) -> Subject | None:
    if m := _USER.match(token):
        return Subject("user", m.group(1))
    if m := _GROUP.match(token):
        return Subject("usergroup", m.group(1))
    if _RAW_ID.match(token):  # the CLI takes bare IDs
        return Subject("usergroup" if token.startswith("S") else "user", token)
    return None


def parse_scope(word: str) -> str | None:
    if word == "*":
        return "*"
    ref = parse_sync_ref(word)
    return ref.id if ref else None


def parse(text: str) -> Command:
    text = text.strip()
    if len(text) > MAX_TEXT:
        return Invalid("That command is too long.", USAGE["help"])
    words = WORD.findall(text)
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    rest = text[len(words[0]) :]
    if verb == "help":
        return Help()
    if verb in STOP_VERBS:
        return parse_stop(verb, rest)
    if verb in ("status", "why"):
        if not args:
            return Invalid(f"`{verb}` needs a sync.", USAGE[verb])
        ref = parse_sync_arg(rest)
        if ref is None:
            return Invalid("Name a sync by its ID, its Polytomic URL or its exact name.", USAGE[verb])
        return Status(ref) if verb == "status" else Why(ref)
    if verb == "list":
        if not args:
            return ListSyncs()
        if len(args) == 1 and args[0].lower() == "running":
            return ListSyncs(running=True)
        return Invalid("`list` takes nothing, or `running`.", USAGE["list"])
    if verb == "audit":
        if not args:
            return Audit()
        ref = parse_sync_arg(rest)
        if ref is None:
            return Invalid("Name a sync by its ID, its Polytomic URL or its exact name.", USAGE["audit"])
        return Audit(ref)
    if verb in ("grant", "revoke"):
        return _parse_grant(verb, args)
    if verb in ("subscribe", "unsubscribe", "subscriptions", "start"):
        return parse_alerting(verb, rest)
    if verb == "grants":
        return ListGrants() if not args else Invalid("`grants` takes no arguments.", USAGE["grants"])
    return Invalid("I don't know that command.", USAGE["help"])


STOP_VERBS = ("cancel", "pause", "resume")


def parse_stop(verb: str, rest: str) -> Command:
    """`cancel`, `pause` and `resume` with a selector (bot/selectors.py). One named sync to
    cancel is the single-sync `Cancel` (its prompt shows the run); everything else is a stop."""
    from bot.selectors import Named, Unreadable, parse_selector  # selectors reads this module's helpers

    selector = parse_selector(verb, rest)
    if isinstance(selector, Unreadable):
        return Invalid(selector.problem, USAGE[verb])
    if verb == "cancel" and isinstance(selector, Named) and len(selector.syncs) == 1:
        return Cancel(selector.syncs[0])
    return Stop(verb, selector)


def _parse_grant(verb: str, args: list[str]) -> Command:
    usage = USAGE[verb]
    if len(args) != 3:
        return Invalid(f"`{verb}` takes a user or group, an action and a sync or *.", usage)
    subject = parse_subject(args[0])
    if subject is None:
        return Invalid("The first argument must be a @user or @group mention.", usage)
    action = args[1].lower()
    if action not in ACTIONS:
        return Invalid("The action must be one of " + ", ".join(f"`{a}`" for a in ACTIONS) + ".", usage)
    scope = parse_scope(args[2])
    if scope is None:
        return Invalid("The scope must be a sync ID, a Polytomic URL with one in it, or *.", usage)
    if verb == "grant":
        return GrantCmd(subject, action, scope)
    return RevokeCmd(subject, action, scope)


# ---- subscribe, unsubscribe, subscriptions, start (issue 14) --------------------------------

_TRAILING_MODE = re.compile(r"^(?P<target>.*?)\s+(?P<mode>\S+)\s*$", re.DOTALL)
_TO = re.compile(r"^to(?:\s+(?P<connection>.*))?$", re.DOTALL | re.IGNORECASE)


def split_mode(rest: str) -> tuple[str, str | None]:
    """The text before the mode, and the mode: the last bare word, when it is one of MODES (a
    sync whose name ends in one is quoted, which makes the last word not bare)."""
    rest = rest.strip()
    match = _TRAILING_MODE.match(rest)
    if match is not None and match.group("mode").lower() in MODES:
        return match.group("target").strip(), match.group("mode").lower()
    if rest.lower() in MODES:
        return "", rest.lower()
    return rest, None


def read_to_connection(text: str) -> str | None:
    """`to <connection>`: the connection's name or ID (quotes optional), or None when `text`
    does not start with the word `to`; "" when nothing follows it. A sync whose name starts
    with "to " is quoted. Shared by every command that takes a connection."""
    match = _TO.match(text.strip())
    if match is None:
        return None
    query = (match.group("connection") or "").strip()
    if len(query) >= 2 and QUOTES.get(query[0]) == query[-1]:
        query = query[1:-1].strip()
    if "<" in query or ">" in query or "\x00" in query or len(query) > MAX_NAME:
        return ""
    return " ".join(query.replace("&amp;", "&").split())


def parse_target(text: str) -> SubscriptionTarget | None:
    """A sync (ID, URL, exact name), `*`, or `to <connection>`; None when it is none of those."""
    text = text.strip()
    if text == "*":
        return AllSyncs()
    connection = read_to_connection(text)
    if connection is not None:
        return ConnectionRef(connection) if connection else None
    return parse_sync_arg(text) if text else None


def parse_alerting(verb: str, rest: str) -> Command:
    """The commands of alerts: subscribe/unsubscribe <target> [mode], subscriptions, start."""
    usage = USAGE[verb]
    if verb == "subscriptions":
        if rest.strip():
            return Invalid("`subscriptions` takes no arguments.", usage)
        return ListSubscriptions()
    if verb == "start":
        if not rest.strip():
            return Invalid("`start` needs a sync.", usage)
        ref = parse_sync_arg(rest)
        if ref is None:
            return Invalid("Name a sync by its ID, its Polytomic URL or its exact name.", usage)
        return Start(ref)
    target_text, mode = split_mode(rest)
    if not target_text:
        return Invalid(f"`{verb}` needs a sync, `*`, or `to` and a connection.", usage)
    target = parse_target(target_text)
    if target is None:
        if read_to_connection(target_text) is not None:
            return Invalid("Name the connection after `to`, by its name or its ID.", usage)
        return Invalid(
            "Name a sync by its ID, its Polytomic URL or its exact name (quoted when it ends in "
            "`failures`, `finished` or `all`, or starts with `to`), or use `*`.",
            usage,
        )
    if verb == "subscribe":
        return Subscribe(target, mode or "failures")
    return Unsubscribe(target, mode)
