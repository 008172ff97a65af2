"""References to a sync (and the pieces a connection's reference is read with): a UUID, a
Polytomic URL (bare or as a Slack link) holding one, or an exact name. Pure. Apart from
bot/commands.py (which re-exports SyncRef and its two parsers) so that the commands' parser and the mass
stops' selectors (bot/selectors.py) read IDs, URLs and names by one set of rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME = 200
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}  # noqa: RUF001 (smart quotes Slack clients type)

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # a pattern
BARE_URL = re.compile(r"^https?://\S+$")
_UUID_ONLY = re.compile(rf"^{UUID}$")
_UUID_ANY = re.compile(rf"(?<![0-9a-fA-F-]){UUID}(?![0-9a-fA-F-])")
WORD = re.compile(r"<[^<>]*>|\S+")  # a Slack link or mention is one word, spaces and all
_LINK = re.compile(r"^<(https?://[^|>\s]+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class SyncRef:
    """A sync named by ID (from a UUID or a Polytomic URL) or, where allowed, by exact name."""

    id: str | None = None
    name: str | None = None


def url_in(token: str) -> str | None:
    """The URL a word is (bare, or a Slack link `<https://…|label>`), or None. Shared by whatever
    names a sync or a connection by its Polytomic URL."""
    link = _LINK.match(token)
    return link.group(1) if link else token if BARE_URL.match(token) else None


def decode_entities(text: str) -> str:
    """Slack sends `&`, `<` and `>` typed by the user as entities."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_sync_ref(token: str) -> SyncRef | None:
    """A UUID, or a Polytomic URL (bare or as a Slack link) that contains the sync's UUID."""
    if _UUID_ONLY.match(token):
        return SyncRef(id=token.lower())
    url = url_in(token)
    if url is None:
        return None
    ids = [m.lower() for m in _UUID_ANY.findall(url)]
    if not ids:
        return None
    # A URL may hold several IDs (a model and its sync): prefer the one after a "sync" segment.
    segments = re.split(r"[?#]", url, maxsplit=1)[0].split("/")
    for i, segment in enumerate(segments[:-1]):
        if "sync" in segment.lower() and _UUID_ONLY.match(segments[i + 1]):
            return SyncRef(id=segments[i + 1].lower())
    return SyncRef(id=ids[0]) if len(set(ids)) == 1 else None


def parse_sync_arg(rest: str) -> SyncRef | None:
    """The sync a command is about: an ID or URL, else an exact name (quotes optional).

    Slack sends `&`, `<` and `>` typed by the user as entities, so they are decoded here; a raw
    `<` or `>` is Slack markup (a mention, a channel, a link without a sync ID) and never a name.
    """
    rest = rest.strip()
    words = WORD.findall(rest)
    if len(words) == 1 and (ref := parse_sync_ref(words[0])) is not None:
        return ref
    if "<" in rest or ">" in rest or "\x00" in rest:
        return None
    # A URL or a sync ID among several words is a mistake, not a name.
    if any(BARE_URL.match(w) or _UUID_ANY.search(w) for w in words):
        return None
    if len(rest) >= 2 and QUOTES.get(rest[0]) == rest[-1]:
        rest = rest[1:-1].strip()
    name = " ".join(decode_entities(rest).split())
    if not name or len(name) > MAX_NAME:
        return None
    return SyncRef(name=name)
