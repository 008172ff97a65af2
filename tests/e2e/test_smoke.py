from __future__ import annotations

from tests.harness import SlackUser, all_text, button, wait_until


def test_cancel_story_smoke(start_bot, slack, polytomic):
    bot = start_bot(INCIDENT_CHANNEL="CINCIDENT")
    sync = polytomic.add_sync(name="Salesforce contacts")
    execution = sync.start_execution(cancel_delay=0.5)
    user = SlackUser(bot, slack, "UADMIN", "CGENERAL")
    ack, url = user.command(f"cancel {sync.id}")
    assert ack.status_code == 200
    prompt = user.answers(url)[0]
    print(prompt)
    confirm = button(prompt, "cancel_confirm")
    click, click_url = user.click("cancel_confirm", confirm["value"])
    assert click.status_code == 200
    wait_until(lambda: any("*canceled* after" in all_text(m.latest) for m in slack.messages_in("CGENERAL")), 15)
    print(slack.messages_in("CGENERAL"))
    print(slack.messages_in("CINCIDENT"))
    print(slack.responses(click_url))
    assert polytomic.effective_cancels(sync.id) == 1
