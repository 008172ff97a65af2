"""polytomic-bot: the command line. Settings come from the environment (see .env.example)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import commands
from bot.config import ConfigError, Mode, Settings, load_settings
from bot.db import grants as grant_store
from bot.db import migrate, sqlite_lock
from bot.db.bounds import OutcomeUnknown
from bot.db.engine import Database, sqlite_file
from bot.logs import setup_logging
from bot.permissions import as_rules

DESCRIPTION = """\
Slack chatops for Polytomic: `/polytomic cancel <sync>` stops a running sync from Slack,
with a confirm button, per-sync permissions and a live status message.

Settings are read from the environment; run with a bad or missing one and the process stops
with a one-line error that names it. See .env.example for every variable."""

SUBCOMMANDS = {
    "serve": "run the HTTP app (POST /slack/events, /healthz, /readyz, /metrics) on $PORT in one "
    "process (waitress), with the tracker in the same process; upgrades the database first",
    "socket": "run over Slack Socket Mode (needs SLACK_APP_TOKEN, no public URL), with the tracker",
    "worker": "run the tracker alone: it polls Polytomic and edits status messages for every "
    "unfinished cancellation; upgrades the database first",
    "migrate": "upgrade the database schema to the newest migration, then exit (the Procfile's release "
    "phase); processes started together upgrade one at a time",
    "grant": "give a permission without Slack, for bootstrapping: grant U123|S123 cancel|admin SYNC|'*'",
    "revoke": "take a permission back: revoke U123|S123 cancel|admin SYNC|'*'",
    "grants": "list every grant and the BOT_ADMINS; reads only, so it may run beside the bot",
    "webhook": "the organization's one Polytomic webhook, signed with POLYTOMIC_WEBHOOK_SECRET: "
    "`webhook register URL` (URL ends with /polytomic/webhook), `webhook show`, `webhook remove`; "
    "refuses to take over or remove one that is not this bot's without --replace",
    "demo": "try the bot with nothing configured: a simulated Polytomic, the real bot and a local "
    "page standing in for Slack, on http://127.0.0.1:PORT; reads no setting from the environment",
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
        if name == "demo":
            p.add_argument(
                "--port", type=int, default=3000, help="the page's port on 127.0.0.1 (0: a free one)"
            )
            p.add_argument(
                "--database-url",
                help="the bot's database (default: a SQLite file in a temporary directory, removed on exit)",
            )
        if name == "webhook":
            p.add_argument("action", choices=("register", "show", "remove"))
            p.add_argument("url", nargs="?", help="register: the bot's https://…/polytomic/webhook")
            p.add_argument(
                "--replace",
                action="store_true",
                help="take over (register) or remove a webhook that is not this bot's",
            )
    return parser


IN_USE = 3  # exit status: another live process holds the SQLite file, and nothing was done
NOT_READY = 1  # exit status of `grants` on a database without the newest schema
CANNOT_START = 1  # exit status: the database, the lock file or the port is not usable


class CannotStart(Exception):
    """What keeps a command from starting, in one line that names it (never a secret)."""


def _settings(mode: Mode) -> Settings:
    try:
        return load_settings(mode)
    except ConfigError as error:
        print(f"polytomic-bot: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


@contextmanager
def _sqlite_held(settings: Settings, way_out: str) -> Iterator[None]:
    """Hold the SQLite file's lock (nothing on PostgreSQL) for the block. When another live
    process holds it, exit with IN_USE after one line that ends with `way_out`, before anything
    touched the database."""
    try:
        handle = sqlite_lock.hold(settings.database_url)
    except sqlite_lock.AlreadyRunning as error:
        print(f"polytomic-bot: {error}, and SQLite allows one process: {way_out}", file=sys.stderr)
        raise SystemExit(IN_USE) from None
    except OSError as error:  # a missing directory, a lock path that is a directory, permissions
        raise CannotStart(
            f"cannot open the SQLite lock file {error.filename or 'beside the database'}: "
            f"{error.strerror or error}"
        ) from None
    try:
        yield
    finally:
        if handle is not None:
            handle.close()


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
    way_out = f"use `/polytomic {args.command}` in Slack while the bot runs, or stop it and run this again"
    with _sqlite_held(settings, way_out):
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        try:
            migrate.upgrade(settings.database_url)  # for bootstrapping, before any bot has run
            _change_grant(args, settings, subject, scope)
        except SQLAlchemyError as error:  # the grant and its audit row are one transaction
            from bot.db.health import describe

            raise CannotStart(
                f"nothing was changed: could not write to the database {shown}: {describe(error)}"
            ) from None
        except OutcomeUnknown:
            raise CannotStart(
                f"the database {shown} did not answer the COMMIT, so the {args.command} may or may not "
                "be recorded: `polytomic-bot grants` shows which"
            ) from None
    return 0


def _change_grant(
    args: argparse.Namespace, settings: Settings, subject: commands.Subject, scope: str
) -> None:
    verb: grant_store.Change = "grant" if args.command == "grant" else "revoke"
    db = Database(settings.database_url)
    try:
        changed = grant_store.change(db, verb, subject, args.action, scope, actor=f"cli:{getpass.getuser()}")
    finally:
        db.dispose()
    who = f"{subject.kind} {subject.id}"
    if verb == "grant":
        print(f"granted {args.action} on {scope} to {who}" if changed else "already granted")
    else:
        print(f"revoked {args.action} on {scope} from {who}" if changed else "no such grant")


def _list_grants(settings: Settings) -> int:
    """Reads only: no lock and no upgrade, so it is safe beside a running bot (on SQLite, WAL
    lets it read beside the writer); a database that is not at the newest schema is named."""
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():  # connecting would create an empty file
        print(
            f"polytomic-bot: the SQLite database {shown} does not exist: run `polytomic-bot migrate` "
            "to create it, or point DATABASE_URL at the bot's database",
            file=sys.stderr,
        )
        return NOT_READY
    db = Database(settings.database_url, pool_size=1)
    try:
        problem = migrate.schema_problem(migrate.current_revision(db.engine))
        if problem is not None:
            what, fix = problem
            print(f"polytomic-bot: {shown} {what}: {fix}", file=sys.stderr)
            return NOT_READY
        rules = as_rules(grant_store.every_grant(db))
    finally:
        db.dispose()
    for admin in sorted(settings.bot_admins):
        print(f"BOT_ADMINS  user {admin}  every permission")
    for rule in rules:
        print(f"#{rule.id}  {rule.subject_kind} {rule.subject_id}  {rule.action}  {rule.scope}")
    if not rules and not settings.bot_admins:
        print("no grants and no BOT_ADMINS")
    return 0


def _database_failure(error: SQLAlchemyError, settings: Settings) -> CannotStart:
    from bot.db.health import describe

    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    return CannotStart(f"cannot use the database {shown}: {describe(error)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a start-up failure (the database, the lock file, the port) is one line
    on stderr, as a bad setting is, instead of a traceback."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except CannotStart as error:
        print(f"polytomic-bot: {error}", file=sys.stderr)
        return CANNOT_START


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        # Settings of its own, never the environment's (bot/demo/settings.py).
        from bot import demo

        return demo.main(demo.DemoOptions(port=args.port, database_url=args.database_url))
    if args.command == "check":
        # Reports every bad or missing setting itself instead of stopping at the first.
        from bot import check

        return check.main()
    mode = {"serve": Mode.SERVE, "socket": Mode.SOCKET, "worker": Mode.WORKER}.get(
        args.command, Mode.DATABASE
    )
    settings = _settings(mode)
    setup_logging(settings)
    try:
        return _command(args, settings)
    except SQLAlchemyError as error:
        raise _database_failure(error, settings) from None


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "webhook":
        from bot import webhook_cli

        if args.action == "register" and not args.url:
            print("polytomic-bot: webhook register needs the URL to deliver to", file=sys.stderr)
            return 2
        return webhook_cli.main(args.action, args.url, args.replace, settings)
    if args.command in ("grant", "revoke"):
        return _grant_command(args, settings)
    if args.command == "grants":
        return _list_grants(settings)

    if args.command == "migrate":
        with _sqlite_held(settings, "stop it, then migrate (serve, socket and worker upgrade on start)"):
            migrate.upgrade(settings.database_url)
        print("database is at the newest migration")
        return 0

    from bot import runner
    from bot.serving import CannotListen

    with _sqlite_held(settings, "use PostgreSQL through DATABASE_URL to run several"):
        try:
            migrate.upgrade(settings.database_url)
            {"serve": runner.serve, "socket": runner.socket_mode, "worker": runner.worker}[args.command](
                settings
            )
        except runner.StartupError as error:
            print(f"polytomic-bot: {error}", file=sys.stderr)
            return 2
        except CannotListen as error:
            raise CannotStart(str(error)) from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
