"""`polytomic-bot demo`: try the bot without a Slack workspace or a Polytomic account.

One process runs three things on 127.0.0.1:
- a simulated Polytomic (`world.py`): the fake Polytomic of the tests (bot/fakes/polytomic), with
  a dozen syncs to a few connections, some running with their rows growing, one failing every few
  minutes, its events and its signed webhook deliveries to the bot;
- the real bot (`run.py`): the same services, Bolt app, tracker, events feed and database code as
  `polytomic-bot serve`, on a SQLite file in a temporary directory, with settings made here from
  nothing (`settings.py`): nothing is read from the environment, so a shell with production
  settings exported cannot point the demo at production;
- a web page that stands in for Slack (`page.py`, `surface.py`, `static/`): the fake Slack of the
  tests (bot/fakes/slack) is the Slack the bot talks to, and the page shows what the bot posted
  there (channels, threads, ephemerals, the App Home tab) and sends the bot the signed slash
  commands and `block_actions` that Slack would.

The fakes keep a bounded history here (`max_records`, `max_events`, `max_executions`), so a demo
left running for a day stays small.
"""

from __future__ import annotations

from bot.demo.run import DemoOptions, main

__all__ = ["DemoOptions", "main"]
