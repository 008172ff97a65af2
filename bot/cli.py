"""polytomic-bot: the command line. Settings come from the environment (see .env.example)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from bot import commands, grants
from bot.config import ConfigError, Mode, Settings, load_settings
from bot.db.engine import Database
from bot.logs import setup_logging

DESCRIPTION = """\
Slack chatops for Polytomic: `/polytomic cancel <sync>` stops a running sync from Slack,
with a confirm button, per-sync permissions and a live status message.

Settings are read from the environment; run with a bad or missing one and the process stops
with a one-line error that names it. See .env.example for every variable."""

SUBCOMMANDS = {
    "serve": "run the HTTP app (POST /slack/events, /healthz, /readyz, /metrics) on $PORT under "
    "gunicorn, with the tracker in the same process; upgrades the database first",
    "socket": "run over Slack Socket Mode (needs SLACK_APP_TOKEN, no public URL), with the tracker",
    "worker": "run the tracker alone: it polls Polytomic and edits status messages for every "
    "unfinished cancellation; upgrades the database first",
    "migrate": "upgrade the database schema to the newest migration, then exit",
    "grant": "give a permission without Slack, for bootstrapping: grant U123|S123 cancel|admin SYNC|'*'",
    "revoke": "take a permission back: revoke U123|S123 cancel|admin SYNC|'*'",
    "grants": "list every grant and the BOT_ADMINS",
    "check": "verify the set-up (settings, Slack token and scopes, signing secret or app token, "
    "Polytomic key, database, incident channel): one PASS/FAIL line each with the fix; "
    "exits 1 if any fails",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polytomic-bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name in ("grant", "revoke"):
            p.add_argument("subject", help="a Slack user ID (U…/W…) or user group ID (S…)")
            p.add_argument("action", choices=commands.ACTIONS, help="the permission")
            p.add_argument("scope", help="a sync ID, a Polytomic URL with one, or '*' for every sync")
    return parser


def _settings(mode: Mode) -> Settings:
    try:
        return load_settings(mode)
    except ConfigError as error:
        print(f"polytomic-bot: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _grant_command(args: argparse.Namespace, settings: Settings) -> int:
    subject = commands.parse_subject(args.subject)
    scope = commands.parse_scope(args.scope)
    if subject is None:
        print(
            "polytomic-bot: the subject must be a Slack user ID (U…) or user group ID (S…)", file=sys.stderr
        )
        return 2
    if scope is None:
        print("polytomic-bot: the scope must be a sync ID, a Polytomic URL with one, or '*'", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        from bot import audit
        from bot.db import migrate

        migrate.upgrade(db.engine)
        actor = f"cli:{getpass.getuser()}"
        if args.command == "grant":
            changed = grants.add_grant(db, subject, args.action, scope, granted_by=actor)
            print(
                f"granted {args.action} on {scope} to {subject.kind} {subject.id}"
                if changed
                else "already granted"
            )
        else:
            changed = grants.remove_grant(db, subject, args.action, scope)
            print(
                f"revoked {args.action} on {scope} from {subject.kind} {subject.id}"
                if changed
                else "no such grant"
            )
        with db.transaction() as session:
            audit.record(
                session,
                actor=actor,
                action=args.command,
                sync_id=None if scope == "*" else scope,
                outcome=f"{subject.kind} {subject.id} {args.action} {scope}: "
                + ("changed" if changed else "unchanged"),
            )
    finally:
        db.dispose()
    return 0


def _list_grants(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        from bot.db import migrate

        migrate.upgrade(db.engine)
        rules = grants.list_rules(db)
    finally:
        db.dispose()
    for admin in sorted(settings.bot_admins):
        print(f"BOT_ADMINS  user {admin}  every permission")
    for rule in rules:
        print(f"#{rule.id}  {rule.subject_kind} {rule.subject_id}  {rule.action}  {rule.scope}")
    if not rules and not settings.bot_admins:
        print("no grants and no BOT_ADMINS")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        # Reports every bad or missing setting itself instead of stopping at the first.
        from bot import check

        return check.main()
    mode = {"serve": Mode.SERVE, "socket": Mode.SOCKET, "worker": Mode.WORKER}.get(
        args.command, Mode.DATABASE
    )
    settings = _settings(mode)
    setup_logging(settings)
    if args.command in ("grant", "revoke"):
        return _grant_command(args, settings)
    if args.command == "grants":
        return _list_grants(settings)

    from bot import runner

    if args.command == "migrate":
        runner.upgrade_schema(settings)
        print("database is at the newest migration")
        return 0
    try:
        lock = runner.sqlite_guard(settings)
    except runner.AlreadyRunning as error:
        print(f"polytomic-bot: {error}", file=sys.stderr)
        return 3
    try:
        runner.upgrade_schema(settings)
        {"serve": runner.serve, "socket": runner.socket_mode, "worker": runner.worker}[args.command](settings)
    except runner.StartupError as error:
        print(f"polytomic-bot: {error}", file=sys.stderr)
        return 2
    finally:
        if lock is not None:
            lock.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
