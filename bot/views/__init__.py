"""Every word the bot says in Slack, rendered here and nowhere else; all escaping lives here.

- `blocks`: `View`, escaping, the emphasis marks and the builder, the Block Kit primitives and
  the small formatters. A leaf: it imports no other bot module, so `bot.slack` can depend on
  `View` without depending on the database or Polytomic.
- `buttons`: every action ID, and each button value's encoder beside its decoder.
- `notes`: the words stored on an operation's row (`last_error`, `pause_error`) and shown later.
- one module per surface: `prompts` (the cancel prompt, the pick-a-sync choice), `status` (the
  channel status message and the requester's private notes), `incident` (the incident channel's
  posts), `replies` (answers to commands and clicks), `syncs` (what Polytomic says about syncs:
  status, list), `access` (permissions: why, grants, the audit trail).

Surfaces still to come (alerts, the App Home, an incident-mode summary) each get a module of
their own beside these, built from the same blocks. This package imports none of its modules,
so `bot.views.blocks` stays a leaf when imported alone.
"""
