"""Whatever Polytomic sends, every view stays one Slack takes and shows it plainly: names are
folded onto one line, stripped of what is invisible or reorders text, and keep the bold around
them whole; a changed name has the sync's ID beside it; and no supplied string, however long,
pushes a block past Block Kit's limits. Property-style: many generated strings (seeded, so a
failure reproduces), each through every view that shows one."""

from __future__ import annotations

import random
import unicodedata
from datetime import timedelta

import pytest

from bot.fakes.slack.blocks import validate_blocks
from bot.operations import State
from bot.polytomic import Execution, ExecutionCounts, ExecutionStatus, PolytomicError, Sync, SyncStatus
from bot.views import blocks, prompts, replies, status, syncs
from bot.views.blocks import TEXT_LIMIT, View, name_text, sync_label
from tests.unit.views.cases import EXEC_ID, NOW, SYNC_ID, _dicts, make_op

# What a hostile or broken Polytomic might put in a string: emphasis and mrkdwn markup, line
# breaks, bidi overrides and isolates, zero-width and other invisible characters, controls,
# combining marks, wide and astral characters.
POOL = (
    list("abcXYZ019 .-")
    + list("*_~`<>&|!@#")
    + ["\n", "\r\n", "\t", "\u2028", "\u2029", "\xa0", "\u3000"]
    + ["\u202e", "\u202d", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]
    + ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\U000e0041"]
    + ["\u115f", "\u3164", "\u2800", "\x1b", "\x7f", "\x02", "\x03", "\x04", "\ue000"]
    + ["\u0301", "名", "🚀", "👨\u200d👩\u200d👧", "<!channel>", "<@U1>", "&amp;"]
)
INVISIBLE = {c for c in POOL if len(c) == 1 and unicodedata.category(c) in ("Cf", "Cc", "Co")} - {"\n", "\t"}
LENGTHS = (1, 3, 40, 200, 3_500, 20_000)


def hostile(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(POOL) for _ in range(length))


def strings(seed: int, count: int = 12) -> list[str]:
    rng = random.Random(seed)
    return [hostile(rng, rng.choice(LENGTHS)) for _ in range(count)]


def execution(value: str, execution_id: str = EXEC_ID) -> Execution:
    return Execution(
        id=execution_id,
        status=ExecutionStatus(value),
        created_at=NOW - timedelta(minutes=5),
        completed_at=NOW - timedelta(minutes=1),
        counts=ExecutionCounts(insert=3),
        errors=(value, value),
    )


def views_with(value: str, long_id: str) -> dict[str, View]:
    """Every view that shows something Polytomic sent, with `value` in each such field and
    `long_id` as the sync's and the run's IDs (Polytomic sends those too)."""
    sync = Sync(id=long_id, name=value, active=False, target_object=value)
    run = execution(value, long_id)
    ended = SyncStatus(None, run, None)
    going = SyncStatus(run, run, NOW)
    out: dict[str, View] = {
        "sync_status:idle": syncs.sync_status(sync, ended),
        "sync_status:running": syncs.sync_status(sync, going),
        "nothing_running": syncs.nothing_running(sync, ended),
        "cancel_prompt": prompts.cancel_prompt(sync, run, long_id, may_pause=True),
        "pick_sync": prompts.pick_sync([sync] * 25, "cancel", value),
        "no_such_name": syncs.no_such_name(value),
        "too_many_to_search": syncs.too_many_to_search(value, 1000, "status"),
        "sync_list": syncs.sync_list(
            [syncs.SyncLine(sync, run, may_cancel=True)] * 10
            + [syncs.SyncLine(sync, None, error=value)] * 10,
            running_only=False,
            hidden=3,
            now=NOW,
        ),
        "polytomic_failure": replies.polytomic_failure(PolytomicError(value, status=418), long_id),
    }
    for state in State:
        op = make_op(
            sync_id=long_id,
            execution_id=long_id,
            sync_name=value,
            state=state.value,
            polytomic_status=value[:32],
            execution_errors=value,
            last_error=value,
            pause_error=value,
            incident_error=value,
            status_error=value,
            attempts=5,
            kind="cancel_and_pause",
            escalated_at=NOW if state == State.CANCELING else None,
        )
        out[f"status_message:{state}"] = status.status_message(op, NOW)
        out[f"requester_note:{state}"] = status.requester_note(op, NOW)
        out[f"stuck_note:{state}"] = status.stuck_note(op, NOW)
        if state == State.REJECTED:  # a stale row keeps a source built by notes, not raw words
            out[f"released:{state}"] = replies.released(op)
    return out


def slack_problems(view: View) -> list[str]:
    problems = validate_blocks(view.blocks)
    if len(view.text) > TEXT_LIMIT + 2:
        problems.append(f"text of {len(view.text)} characters")
    for d in _dicts(view.blocks):
        if d.get("type") == "mrkdwn" and (invisible := set(d["text"]) & INVISIBLE):
            problems.append(f"invisible characters {sorted(invisible)!r} in a block")
    return problems


@pytest.mark.parametrize("seed", range(3))
def test_every_view_of_hostile_strings_is_one_slack_takes(seed: int) -> None:
    problems: list[str] = []
    for number, value in enumerate(strings(seed)):
        long_id = value[:5000] or SYNC_ID
        for key, view in views_with(value, long_id).items():
            problems += [f"{seed}/{number} {key}: {p}" for p in slack_problems(view)]
    assert problems == [], problems[:10]


@pytest.mark.parametrize("seed", range(6))
def test_a_shown_name_is_one_plain_line_that_keeps_the_bold_whole(seed: int) -> None:
    for value in strings(seed, 60):
        shown = name_text(value)
        assert shown == shown.strip() and "  " not in shown
        assert not any(c.isspace() and c != " " for c in shown), repr(shown)
        assert not set(shown) & (INVISIBLE | set("*_~`")), repr(shown)
        label = blocks.mrkdwn(sync_label(value, SYNC_ID))
        if shown:
            # One bold span: an opening and a closing mark, and no other.
            assert label.startswith("*") and label.count("*") == 2, label[:200]


def test_a_name_that_had_to_change_has_the_id_beside_it() -> None:
    assert blocks.words(sync_label("Orders nightly", SYNC_ID)) == "Orders nightly"
    for forged in (
        "Orders\nnightly",  # a second line
        "Orders\u202eylthgin",  # right-to-left override
        "Or\u200bders nightly",  # zero-width space: looks like "Orders nightly"
        "*Orders* nightly",  # emphasis of its own
        "Orders   nightly",  # spaces folded
        "O" * 400,  # cut
    ):
        label = blocks.words(sync_label(forged, SYNC_ID))
        assert label.endswith(f"({SYNC_ID})"), label
        assert "\n" not in label and "\u202e" not in label and "\u200b" not in label
    assert name_text("Or\u200bders\u202e") == "Orders"
    assert (
        name_text("*bold* _it_ `code` ~struck~")
        == "\u2217bold\u2217 \uff3fit\uff3f \u02cbcode\u02cb \u223cstruck\u223c"
    )


def test_two_names_that_look_alike_in_one_list_are_told_apart_by_their_ids() -> None:
    real = Sync(id=SYNC_ID, name="Orders nightly")
    forged = Sync(id=EXEC_ID, name="Orders\u200b nightly")
    view = syncs.sync_list(
        [syncs.SyncLine(real, None), syncs.SyncLine(forged, None)], running_only=False, hidden=0, now=NOW
    )
    assert SYNC_ID in view.text and EXEC_ID in view.text
    assert view.text.count("Orders nightly") == 2


def test_a_section_past_slacks_limit_is_cut_with_its_marks_closed() -> None:
    source = blocks.bold("x" * 5000) + " " + blocks.code("y")
    [block] = blocks.Builder().section(source).blocks
    text = block["text"]["text"]
    assert len(text) <= blocks.SECTION_LIMIT and text.count("*") == 2 and text.endswith("*…")


def test_every_invisible_or_control_character_unicode_has_is_dropped() -> None:
    missed = [
        f"U+{code_point:04X}"
        for code_point in range(0x110000)
        if unicodedata.category(chr(code_point)) in ("Cf", "Cc", "Cs", "Co")
        and chr(code_point) not in "\n\t"
        and blocks.escape(chr(code_point)) != ""
    ]
    assert missed == []
