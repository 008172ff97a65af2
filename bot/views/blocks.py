"""The parts every view is made of: `View`, escaping, emphasis marks, the builder, Block Kit
primitives and the small formatters. A leaf module: it imports no other bot module, so the
Slack gateway (`bot.slack`) can take a `View` without depending on the database or Polytomic.

A view is Block Kit blocks plus a top-level `text`: the words a phone notification, a screen
reader and Slack search show. Both come from the same source strings, so they cannot drift:
a view adds each section or context once (`Builder`), and its text is those same lines in
plain words. A source marks emphasis with private characters (`bold`, `code`, `icon`): they
become `*` and `` ` `` in the blocks and vanish from the text (an icon vanishes with its
emoji). `escape` drops those characters from supplied text, so nothing supplied can forge them.

Slack still parses the text as mrkdwn, so it stays escaped like the blocks: mentions of users
and channels (`<@U…>`, `<#C…>`) stay mentions, and `<!channel>` in a sync's name stays inert.
Anything that came from a user or from Polytomic goes through `escape` before it lands in a
source, and is clipped first (`clip`, with the MAX_* lengths below), so no supplied string can
make Slack refuse a block; `Builder` clips each section and context at Slack's 3,000 characters
as a last resort, and leaves out a button whose value Slack would refuse.

A sync's name is Polytomic's, and may have been written to deceive: `name_text` folds its
whitespace (a newline would forge a second status line), drops the characters that are
invisible or reorder text (bidi overrides and isolates, zero-width characters, other format
and control characters) and swaps mrkdwn's emphasis marks (`*`, `_`, `~`, `` ` ``) for
look-alikes that emphasize nothing, so one name can neither break the bold around it nor pass
for another. `sync_label` shows the sync's ID beside a name this changed; lists show every
sync's ID anyway.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Block = dict[str, Any]

MAX_NAME = 150
MAX_ERROR = 500
MAX_STATUS = 40  # a run's status as Polytomic spells it ("running", "canceling", …)
MAX_ID = 80  # a sync's or a run's ID as shown (Polytomic's are 36-character UUIDs)
MAX_VALUE = 2000  # characters Slack allows in a button's value
SECTION_LIMIT = 3000  # characters Slack allows in one section's text
TEXT_LIMIT = 39_000  # Slack cuts the top-level text at 40,000 characters
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


@dataclass(frozen=True)
class View:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def digest(self) -> str:
        """Identifies what the user sees, so an unchanged view is never sent again. Worked out
        once per view (a tracker pass asks several times): a view is not changed once built."""
        digest: str | None = self.__dict__.get("_digest")
        if digest is None:
            payload = json.dumps({"t": self.text, "b": self.blocks}, sort_keys=True)
            digest = hashlib.sha256(payload.encode()).hexdigest()
            object.__setattr__(self, "_digest", digest)  # frozen: not a field, not compared
        return digest


# ---- sources: one string, rendered as mrkdwn for blocks and as plain words for text -------

_BOLD = "\x02"
_CODE = "\x03"
_ICON = "\x04"
_ICON_SPAN = re.compile(f"{_ICON}[^{_ICON}]*{_ICON}")
# Characters that never belong in a message, from whoever supplied them: controls (removing
# them also keeps the markers above ours), and what shows nothing or reorders what follows:
# Unicode's format characters (bidi embeddings, overrides, isolates and marks, zero-width
# spaces and joiners, the soft hyphen, the BOM, tags, invisible operators), surrogates,
# private use, and the letters that are blank by design (Hangul fillers, the braille blank).
# tests/unit/views/test_supplied_strings.py checks it against every format character Unicode has.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ud800-\uf8ff\ufe00-\ufe0e\ufeff"
    "\uffa0\ufff0-\ufffb\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)
_CODE_SPAN = re.compile(r"`([^`\n]*)`")
# The emoji views put in blocks, never in text.
ICONS = (":rotating_light:", ":warning:", ":white_check_mark:", ":bell:")


def escape(text: str) -> str:
    """Slack's mrkdwn control characters; `<!channel>` becomes inert `&lt;!channel&gt;`.
    Control and invisible characters (`_HIDDEN`) are dropped."""
    return _HIDDEN.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn's emphasis marks, and look-alikes Slack does not read as marks.
_EMPHASIS = str.maketrans({"*": "\u2217", "_": "\uff3f", "~": "\u223c", "`": "\u02cb"})


def name_text(name: str) -> str:
    """A supplied name as it may be shown (see the module docstring); not yet escaped."""
    return " ".join(_HIDDEN.sub("", " ".join(name.split())).split()).translate(_EMPHASIS)


def bold(source: str) -> str:
    """Bold in the blocks, plain in the text."""
    return f"{_BOLD}{source}{_BOLD}"


def code(source: str) -> str:
    """Code in the blocks (IDs, commands), plain in the text."""
    return f"{_CODE}{source}{_CODE}"


def icon(emoji: str) -> str:
    """An emoji in front of a block's words; the text leaves it out (a screen reader would
    read its name out first)."""
    return f"{_ICON}{emoji} {_ICON}"


def trusted(mrkdwn_text: str) -> str:
    """mrkdwn built by another bot module (permissions, commands: IDs, actions, mentions,
    never anything supplied) as a source: its code spans become ours."""
    return _CODE_SPAN.sub(lambda match: code(match.group(1)), mrkdwn_text)


def mrkdwn(source: str) -> str:
    return source.replace(_BOLD, "*").replace(_CODE, "`").replace(_ICON, "")


def words(source: str) -> str:
    return _ICON_SPAN.sub("", source).replace(_BOLD, "").replace(_CODE, "")


class Builder:
    """Blocks and the text of one view, added to side by side from the same sources."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.lines: list[str] = []

    def section(self, source: str, accessory: Block | None = None) -> Builder:
        source = _fit(source)
        block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(source)}}
        if accessory is not None and _fits(accessory):
            block["accessory"] = accessory
        self.blocks.append(block)
        self.lines.append(words(source))
        return self

    def context(self, source: str) -> Builder:
        source = _fit(source)
        self.blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(source)}]})
        self.lines.append(words(source))
        return self

    def actions(self, block_id: str, buttons: list[Block]) -> Builder:
        """Buttons say nothing the text must repeat: the sections around them say what they do."""
        buttons = [b for b in buttons if _fits(b)]
        if buttons:
            self.blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
        return self

    def view(self) -> View:
        text = "\n".join(self.lines)
        if len(text) > TEXT_LIMIT:
            # At a line's end when there is one: a cut mention or entity would show as markup.
            cut = text.rfind("\n", 0, TEXT_LIMIT)
            text = text[: cut if cut > 0 else TEXT_LIMIT] + "\n…"
        return View(text=text, blocks=self.blocks)


def _fit(source: str) -> str:
    """A source within Slack's 3,000 characters a section or context (each field of a view is
    clipped well before; this is the last resort). A source's marks and icons take one
    character each in mrkdwn, or none, so a source that fits renders within the limit too."""
    if len(source) <= SECTION_LIMIT:
        return source
    # Room for the ellipsis and the three marks a cut may have to close: a mark left open would
    # bold or code the rest, and an icon left open would show its emoji's name in the text.
    cut = source[: SECTION_LIMIT - 4]
    closing = "".join(mark for mark in (_ICON, _CODE, _BOLD) if cut.count(mark) % 2)
    return cut + closing + "…"


def _fits(element: Block) -> bool:
    """A button Slack would take: its value within MAX_VALUE (a Polytomic ID of absurd length
    could push it over, and Slack would refuse the whole message)."""
    return len(str(element.get("value", ""))) <= MAX_VALUE


def plain(source: str) -> View:
    """An answer whose source is already safe (escaped, or built by a view), in as many
    sections as Slack needs."""
    builder = Builder()
    chunk = ""
    for line in source.split("\n"):
        line = clip(line, SECTION_LIMIT)
        if chunk and len(chunk) + 1 + len(line) > SECTION_LIMIT:
            builder.section(chunk)
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
        if len(builder.blocks) == 49:
            break  # Slack's 50 blocks, with the last chunk still to come
    builder.section(chunk or " ")
    return builder.view()


# ---- Block Kit elements ---------------------------------------------------------------


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def confirm_dialog(title: str, text: str, confirm: str) -> Block:
    """A button's "are you sure?" dialog, clipped to Slack's limits. plain_text is never
    parsed for mentions or links, so supplied names go in as they are."""
    return {
        "title": {"type": "plain_text", "text": clip(title, 100)},
        "text": {"type": "plain_text", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": clip(confirm, 30)},
        "deny": {"type": "plain_text", "text": "Keep it running"},
        "style": "danger",
    }


# ---- small formatters -----------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str) -> str:
    """A mention of a Slack user ID; anything that is not an ID is shown, escaped, as text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def channel(channel_id: str) -> str:
    """' in <#C…>' for a channel ID, else nothing (a channel is only named by its ID)."""
    return f" in <#{channel_id}>" if _SLACK_ID.match(channel_id) else ""


def sync_label(name: str | None, sync_id: str, *, id_if_changed: bool = True) -> str:
    """A sync: its name in bold when known, else its ID as code. A name that had to be changed
    to be shown (`name_text`) has the ID beside it, unless the caller shows the ID anyway
    (`id_if_changed=False`: a list, where every line has it)."""
    shown = name_text(name) if name else ""
    if not shown:
        return id_code(sync_id)
    clipped = clip(shown, MAX_NAME)
    label = bold(escape(clipped))
    # Changed, or cut: it may now look like another sync's name.
    if id_if_changed and name is not None and clipped != name.strip():
        label += f" ({id_code(sync_id)})"
    return label


def id_code(supplied_id: str) -> str:
    """An ID (a sync's, a run's) as code, clipped: Polytomic sends them."""
    return code(escape(clip(supplied_id, MAX_ID)))


def status_text(value: str | None) -> str:
    """A run's status as Polytomic spells it, escaped and clipped ("unknown" when none)."""
    return escape(clip(value or "unknown", MAX_STATUS))


def ids(sync_id: str, execution_id: str) -> str:
    """The sync and the run a message is about, as code."""
    return f"Sync {id_code(sync_id)} · execution {id_code(execution_id)}"


def when(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    if moment is None:
        return "unknown"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "an unknown time"
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def rows(count: int | None) -> str:
    return "an unknown number of rows" if count is None else f"{count:,} row{'s' if count != 1 else ''}"
