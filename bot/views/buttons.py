"""Every button's action ID, and each button value's encoder beside its decoder.

A button's value is a small wire format: a view writes it into the message and Slack sends it
back, unchanged, in the click. Both halves live here so they cannot drift: `<name>_value(...)`
encodes, `parse_<name>_value(value)` decodes. A decoder returns None for anything that is not
one of ours (not JSON, the wrong shape, an ID of the wrong form, longer than a button holds),
so a listener only has to answer "that button is not valid any more". Imports nothing but the
standard library: listeners and views both use it.
"""

from __future__ import annotations

import json
import re

CONFIRM_ACTION = "cancel_confirm"
PAUSE_CONFIRM_ACTION = "cancel_pause_confirm"
DISMISS_ACTION = "cancel_dismiss"
RETRY_ACTION = "cancel_retry"
RESUME_ACTION = "resume_schedule"
PICK_ACTION = "sync_pick"  # one of several syncs with the same name
LIST_CANCEL_ACTION = "list_cancel"  # "Cancel…" next to a running sync in /polytomic list
HOME_CANCEL_ACTION = "home_cancel"  # "Cancel…" next to a running sync on the Home tab
HOME_REFRESH_ACTION = "home_refresh"  # "Refresh" on the Home tab
HOME_LINK_ACTION = "home_link"  # "Status message" (a link) on the Home tab: `home_link_<op ID>`
HOME_CANCEL_MODAL = "home_cancel_modal"  # the callback_id of the Home tab's confirm modal
# A stop's buttons (bot/views/stops.py): the prompt's, then the summary's.
STOP_CONFIRM_ACTION = "stop_confirm"  # Cancel N syncs / Pause N schedules / Resume N schedules
STOP_PAUSE_CONFIRM_ACTION = "stop_pause_confirm"  # Cancel N and pause their schedules
STOP_DISMISS_ACTION = "stop_dismiss"  # Keep running
STOP_ABORT_ACTION = "stop_abort"  # Abort the rest
STOP_RESUME_ACTION = "stop_resume"  # Resume the N schedules

MAX_VALUE = 2000  # characters a Slack button's value holds
PICK_VERBS = ("cancel", "status", "why", "audit")  # the commands a pick goes on with

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RETRY = re.compile(r"^(\d{1,12}):(\d{1,6})$")
_PROMPT_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def _json(value: str) -> object:
    """The JSON in a value, or None (deep nesting raises RecursionError, not ValueError)."""
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


# ---- Cancel sync / Cancel and pause (and Keep running): the sync and the run the user saw ----


def confirm_value(sync_id: str, execution_id: str) -> str:
    return json.dumps({"s": sync_id, "e": execution_id}, separators=(",", ":"))


def parse_confirm_value(value: str) -> tuple[str, str] | None:
    """(sync ID, execution ID) from a confirm button, or None if it is not one of ours."""
    if len(value) > MAX_VALUE:  # more than any Slack button can carry
        return None
    data = _json(value)
    if not isinstance(data, dict) or set(data) != {"s", "e"}:
        return None
    sync_id, execution_id = data.get("s"), data.get("e")
    if not (isinstance(sync_id, str) and _UUID.match(sync_id)):
        return None
    if not (isinstance(execution_id, str) and _EXECUTION_ID.match(execution_id)):
        return None
    return sync_id, execution_id


# ---- Cancel… on the Home tab, and its modal's private_metadata: the sync and the run shown ----
# The same wire format as the confirm buttons (`confirm_value`): the modal's submission is a
# confirm click, decided and verified again by the tracker.
home_cancel_value = confirm_value
parse_home_cancel_value = parse_confirm_value


# ---- Choose: one sync of several with the same name, and the command to go on with ----------


def pick_value(verb: str, sync_id: str) -> str:
    return json.dumps({"v": verb, "s": sync_id}, separators=(",", ":"))


def parse_pick_value(value: str) -> tuple[str, str] | None:
    """(verb, sync ID) from a Choose button, or None if it is not one of ours."""
    data = _json(value)
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        return None
    verb, sync_id = data.get("v"), data["s"]
    if verb not in PICK_VERBS or not _UUID.match(sync_id):
        return None
    return verb, sync_id


# ---- Cancel… next to a running sync in /polytomic list: the sync ----------------------------


def list_cancel_value(sync_id: str) -> str:
    return sync_id


def parse_list_cancel_value(value: str) -> str | None:
    """The sync ID from a list's Cancel… button, or None if it is not one of ours."""
    return value if _UUID.match(value) else None


# ---- Try the cancel again: the operation, and the attempt the button showed ------------------


def retry_value(op_id: int, attempt: int) -> str:
    # The attempt makes a second click on the same button a no-op.
    return f"{op_id}:{attempt}"


def parse_retry_value(value: str) -> tuple[int, int] | None:
    """(operation ID, attempt) from a retry button, or None if it is not one of ours."""
    match = _RETRY.match(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


# ---- Resume schedule: the operation that paused it ------------------------------------------


def resume_value(op_id: int) -> str:
    return str(op_id)


def parse_resume_value(value: str) -> int | None:
    """The operation ID from a resume button, or None if it is not one of ours."""
    if not value.isdigit() or len(value) > 12:
        return None
    try:
        return int(value)
    except ValueError:  # digits int() does not read, such as "²"
        return None


# ---- a stop's prompt: the ID of the row that holds what it showed (bot/db/stops.py) ---------


def stop_prompt_value(prompt_id: str) -> str:
    return prompt_id


def parse_stop_prompt_value(value: str) -> str | None:
    """The prompt row's ID from a stop prompt's button, or None if it is not one of ours."""
    return value if _PROMPT_ID.match(value) else None


# ---- a stop's summary: Abort the rest, Resume the N schedules: the stop ---------------------


def stop_value(stop_id: int) -> str:
    return str(stop_id)


def parse_stop_value(value: str) -> int | None:
    """The stop's ID from a summary's button, or None if it is not one of ours."""
    return parse_resume_value(value)


# ---- Alerts (issue 14): Restart, Pause/Resume, Cancel, Mute; and the start prompt's button ---

ALERT_RESTART_ACTION = "alert_restart"
ALERT_PAUSE_ACTION = "alert_pause"
ALERT_RESUME_ACTION = "alert_resume"
ALERT_CANCEL_ACTION = "alert_cancel"
ALERT_MUTE_HOUR_ACTION = "alert_mute_hour"
ALERT_MUTE_DAY_ACTION = "alert_mute_day"
START_CONFIRM_ACTION = "start_confirm"
MUTE_SECONDS = {ALERT_MUTE_HOUR_ACTION: 3600.0, ALERT_MUTE_DAY_ACTION: 86400.0}


def restart_value(alert_id: int, failures: int) -> str:
    # The failure count binds the restart to the failure shown: idempotent per (alert, failure).
    return f"{alert_id}:{failures}"


def parse_restart_value(value: str) -> tuple[int, int] | None:
    """(alert ID, failures shown) from a Restart button, or None if it is not one of ours."""
    return parse_retry_value(value)


def alert_value(alert_id: int) -> str:
    return str(alert_id)


def parse_alert_value(value: str) -> int | None:
    """The alert ID from a Pause, Resume, Cancel or Mute button, or None."""
    return parse_resume_value(value)


def start_value(sync_id: str) -> str:
    return sync_id


def parse_start_value(value: str) -> str | None:
    """The sync ID from the start prompt's button, or None if it is not one of ours."""
    return value if _UUID.match(value) else None
