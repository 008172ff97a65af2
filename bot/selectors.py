"""The syncs a mass stop is about: `cancel|pause|resume <selector>` text → a `Selector`. Pure.

A *stop* (a mass stop: many syncs canceled, paused or resumed from one command, followed by one
summary message) is named so to keep it apart from the *incident channel* (`INCIDENT_CHANNEL`,
the operations' `incident_*` columns), which only hears of what happens.

The selectors, after the verb:

* `running to <connection>` (`to <connection>` for `cancel`, which only ever stops running
  syncs): the syncs whose target is that connection, named by ID, Polytomic URL or name;
* `all running` (and, for `pause` and `resume`, `all`);
* one or more syncs: IDs, Polytomic URLs and quoted names (`"Nightly orders" "CRM push"`); one
  unquoted name (`Nightly orders`) still names one sync, as before.

Quoting is tracked token by token, so `cancel all running` is the selector and
`cancel "all running"` the sync of that name. A quote opens a token only at its start and closes
only before a space or the end, so an apostrophe inside a word (`Bob's sync`) stays a letter.
A Slack link after `to` is a connection, never a sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.references import (
    BARE_URL,
    MAX_NAME,
    QUOTES,
    UUID,
    SyncRef,
    decode_entities,
    parse_sync_arg,
    parse_sync_ref,
    url_in,
)

MAX_NAMED = 50  # syncs one command may name one by one (the text's cap holds ~25 IDs anyway)

_UUID = re.compile(UUID)


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool


@dataclass(frozen=True)
class ConnectionRef:
    """A connection named by ID (a UUID or a Polytomic URL with one) or by name."""

    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Named:
    """Syncs named one by one."""

    syncs: tuple[SyncRef, ...]


@dataclass(frozen=True)
class ToConnection:
    """The syncs whose target is this connection; `running`: only those running now."""

    connection: ConnectionRef
    running: bool


@dataclass(frozen=True)
class Everything:
    """Every sync of the organization; `running`: only those running now."""

    running: bool


Selector = Named | ToConnection | Everything


@dataclass(frozen=True)
class Unreadable:
    """Why the selector could not be read, in words that quote nothing the user typed."""

    problem: str


def tokenize(text: str) -> list[Token]:
    """Words, a quoted run (opened at a word's start, closed before a space or the end) being
    one word, and a Slack link or mention `<…>` one word too. A quote that never closes is an
    ordinary character."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "<":
            end = text.find(">", i)
            if end != -1:
                tokens.append(Token(text[i : end + 1], False))
                i = end + 1
                continue
        closer = QUOTES.get(text[i])
        closing = _closing(text, i + 1, closer) if closer is not None else None
        if closing is not None:
            tokens.append(Token(text[i + 1 : closing], True))
            i = closing + 1
            continue
        end = i
        while end < n and not text[end].isspace():
            end += 1
        tokens.append(Token(text[i:end], False))
        i = end
    return tokens


def _closing(text: str, start: int, closer: str) -> int | None:
    """The index of the quote that closes a run begun at `start`: `closer` followed by a space
    or the end of the text."""
    at = text.find(closer, start)
    while at != -1:
        if at + 1 == len(text) or text[at + 1].isspace():
            return at
        at = text.find(closer, at + 1)
    return None


def parse_selector(verb: str, rest: str) -> Selector | Unreadable:
    """What `rest` (the text after `verb`) selects; see the module docstring."""
    tokens = tokenize(rest)
    if not tokens:
        return Unreadable(f"`{verb}` needs a sync, `all running`, or `running to` and a connection.")
    bare = [t.text.lower() if not t.quoted else None for t in tokens]
    if bare[:2] == ["all", "running"] and len(tokens) == 2:
        return Everything(running=True)
    if bare == ["all"] and verb != "cancel":
        return Everything(running=False)
    if bare[:2] == ["running", "to"] or (bare[:1] == ["to"] and verb != "cancel"):
        skip = 2 if bare[0] == "running" else 1
        return _to_connection(tokens[skip:], running=bare[0] == "running" or verb == "cancel")
    if bare[:1] == ["to"]:  # `cancel to X`: cancel only ever stops what runs
        return _to_connection(tokens[1:], running=True)
    return _named(tokens, rest)


def _to_connection(tokens: list[Token], *, running: bool) -> ToConnection | Unreadable:
    problem = Unreadable("Name the connection after `to` by its ID, its Polytomic URL or its name.")
    if not tokens:
        return problem
    if len(tokens) == 1 and not tokens[0].quoted:
        word = tokens[0].text
        url = url_in(word)
        if url is not None:
            ids = {m.lower() for m in _UUID.findall(url)}
            if len(ids) != 1:
                return problem
            return ToConnection(ConnectionRef(id=ids.pop()), running)
        if _UUID.fullmatch(word):
            return ToConnection(ConnectionRef(id=word.lower()), running)
    if len(tokens) > 1 and any(t.quoted for t in tokens):
        return problem
    name = " ".join(t.text for t in tokens)
    if "<" in name or ">" in name or "\x00" in name or _UUID.search(name) or BARE_URL.search(name):
        return problem
    name = " ".join(decode_entities(name).split())
    if not name or len(name) > MAX_NAME:
        return problem
    return ToConnection(ConnectionRef(name=name), running)


def _named(tokens: list[Token], rest: str) -> Named | Unreadable:
    problem = Unreadable("Name each sync by its ID, its Polytomic URL or its exact name (quoted).")
    # One sync, or unquoted words only: one name, as the single-sync commands have always read it.
    if len(tokens) == 1 or all(not t.quoted and parse_sync_ref(t.text) is None for t in tokens):
        ref = parse_sync_arg(rest)
        return Named((ref,)) if ref is not None else problem
    refs: list[SyncRef] = []
    for token in tokens:
        if token.quoted:
            name = " ".join(decode_entities(token.text).split())
            if not name or len(name) > MAX_NAME or "<" in token.text or "\x00" in token.text:
                return problem
            one: SyncRef | None = SyncRef(name=name)
        else:
            one = parse_sync_ref(token.text)
        if one is None:
            return Unreadable("When naming several syncs, quote each name (IDs and URLs need no quotes).")
        if one not in refs:
            refs.append(one)
    if len(refs) > MAX_NAMED:
        return Unreadable(f"Name at most {MAX_NAMED} syncs at once, or use `running to` and a connection.")
    return Named(tuple(refs))
