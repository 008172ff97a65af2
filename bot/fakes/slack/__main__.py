"""`python -m bot.fakes.slack --port 8099`: a fake Slack to poke at by hand."""

from __future__ import annotations

from bot.fakes.slack.server import main

if __name__ == "__main__":
    main()
