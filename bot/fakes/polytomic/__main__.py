"""`python -m bot.fakes.polytomic`: a fake Polytomic to poke at by hand."""

from __future__ import annotations

import contextlib
import logging
import threading

from bot.fakes.polytomic.server import FakePolytomic


def main() -> None:
    logging.basicConfig(level=logging.DEBUG)
    with FakePolytomic() as server:
        salesforce = server.add_connection("Salesforce (demo)", "salesforce")
        demo = server.add_sync(name="Demo: Contacts to Salesforce", target_connection_id=salesforce.id)
        demo.start_execution(rows_per_second=250)
        server.add_sync(name="Demo: paused", active=False).add_past_execution("failed")
        print(f"fake Polytomic at {server.url}  key={server.api_key}  running sync={demo.id}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
