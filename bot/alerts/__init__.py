"""Alerts: channels subscribe to syncs, and failed runs arrive in Slack (issue 14).

- `rules`: what counts (pure): which runs a mode hears of, what opens or closes a streak, floods;
- `intake`: stored terminal events → alert rows due (once each, whichever process);
- `passes`: one pass over an alert or a digest: post, edit, thread replies, channel gone;
- `worker`: the loop that runs intake and passes under leases, beside the tracker.
"""
