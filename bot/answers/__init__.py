"""Work after the ack, on the responder pool, split by feature (was interactions.py).

- `requester`: who asked, where, and how to answer them (`Requester.from_context`);
- `deciding`: permission decisions, asked, audited and explained (`Decider`);
- `syncs`: read-only answers about syncs (help, the cancel prompt, status, list);
- `access`: who may do what (why, audit, grant, revoke, grants);
- `clicks`: clicks that change a row (resume, try again).

Each answer takes the pieces it uses, not the whole `Services`; the listeners pass them.
"""

from bot.answers.requester import Requester

__all__ = ["Requester"]
