"""The one operators' test that needs the real process (the others moved to
tests/scenario/test_operators.py): a Resume click that lands while the tracker's own thread is
still in the final pass, posting a slow thread reply."""

from __future__ import annotations

from typing import Any

from tests.harness import CHANNEL, INCIDENTS, SlackUser, all_text, button, status_messages, wait_until


def first_answer(user: SlackUser, text: str) -> dict[str, Any]:
    ack, url = user.command(text)
    assert ack.status_code == 200
    return user.answers(url)[0]


def sections_text(answer: dict[str, Any]) -> str:
    """What the answer's sections show (mrkdwn), one per line."""
    return "\n".join(b["text"]["text"] for b in answer.get("blocks") or [] if b.get("type") == "section")


def has_button(message: dict[str, Any], action_id: str) -> bool:
    return any(
        element.get("action_id") == action_id
        for block in message.get("blocks") or []
        for element in block.get("elements") or []
    )


def click_answer(user: SlackUser, action_id: str, value: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    click, url = user.click(action_id, value, **kwargs)
    assert click.status_code == 200
    return url, user.answers(url)[0]


def test_resume_clicked_while_the_final_pass_is_still_running(
    start_bot: Any, slack: Any, polytomic: Any
) -> None:
    bot = start_bot(INCIDENT_CHANNEL=INCIDENTS)
    sync = polytomic.add_sync(name="Nightly Orders")
    execution = sync.start_execution(cancel_delay=1.0)
    pat = SlackUser(bot, slack, "UADMIN", CHANNEL)
    prompt = first_answer(pat, f"cancel {sync.id}")
    pat.click("cancel_pause_confirm", button(prompt, "cancel_pause_confirm")["value"])
    wait_until(lambda: status_messages(slack) and status_messages(slack, INCIDENTS), what="the notices")
    slack.set_latency("chat.postMessage", 1.5)  # the incident thread reply will be slow

    def final() -> Any:
        message = status_messages(slack)[0]
        return message if has_button(message.latest, "resume_schedule") else None

    message = wait_until(final, 15, what="the Resume schedule button")
    resume = button(message.latest, "resume_schedule")
    _url, answer = click_answer(pat, "resume_schedule", resume["value"], message_ts=message.ts)
    assert sections_text(answer) == "Resumed the schedule of *Nightly Orders*."
    assert answer["text"] == "Resumed the schedule of Nightly Orders."
    assert execution.status == "canceled" and sync.active is True
    # The resume landed inside the window: the final pass is still posting its thread reply.
    [notice] = status_messages(slack, INCIDENTS)
    assert slack.thread(INCIDENTS, notice.ts) == []
    wait_until(
        lambda: not has_button(slack.message(CHANNEL, message.ts).latest, "resume_schedule"),
        5,
        what="the status message to lose its Resume button",
    )
    assert "then resumed by <@UADMIN>" in all_text(slack.message(CHANNEL, message.ts).latest)
