"""The tracker: a level-triggered reconcile loop over the operations table.

It claims due rows with a lease in the database, asks Polytomic what is true now, stores it,
and brings every Slack message about the row in line with it. Every write is conditional on
still holding the lease, so two processes never both act on one row; every Slack effect is
recorded on the row as it lands, so none is repeated.

- `loop`: the threads, capacity, nudges and the drain (no SQL, no remote calls); `run_due`
  runs it one pass at a time in the calling thread;
- `reconcile`: one claimed row through one pass, then finished or released;
- `steps`: the pass, whose steps each return an immutable `Outcome`;
- `outcome`: the `Outcome` type, and the one place remote errors become outcomes;
- `posts`: keep one Slack message in line with its view (post, edit, repost, record an error).
"""

from bot.tracker.loop import Tracker
from bot.tracker.outcome import Outcome
from bot.tracker.reconcile import Processed

__all__ = ["Outcome", "Processed", "Tracker"]
