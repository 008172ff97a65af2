"""`bot/db/` is the only package that builds SQL, read from the source with `ast`.

Outside bot/db/, a module of the bot may use SQLAlchemy only for what is not a statement: its
exceptions (`sqlalchemy.exc`) and URL parsing (`sqlalchemy.engine.make_url`, `URL`). So none of
them may:
- import anything else from SQLAlchemy (`select`, `insert`, `update`, `delete`, `text`, `func`,
  `or_`, `and_`, `Session`, `Connection`, a dialect's `insert`, …), nor `import sqlalchemy`;
- pass SQL as a string to `execute`, `exec_driver_sql`, `executescript`, `scalar` or `scalars`;
- open a transaction or a session of the bot's database (`db.transaction()`, `db.core()`,
  `db.read()`, `db.sessions`, `db.read_engine`): reads and writes go through the stores' verbs.
The Alembic migrations live in bot/db/ too. tests/ and bench/ may inspect a database as they like.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"
DB = BOT / "db"
OUTSIDE = sorted(p for p in BOT.rglob("*.py") if DB not in p.parents)

# What a module outside bot/db/ may take from SQLAlchemy: errors and URL parsing, no statements.
ALLOWED: dict[str, set[str] | None] = {"sqlalchemy.exc": None, "sqlalchemy.engine": {"make_url", "URL"}}
SQL_CALLS = {"execute", "exec_driver_sql", "executescript", "scalar", "scalars"}
DATABASE_CALLS = {"transaction", "core", "read"}
DATABASE_PARTS = {"sessions", "read_sessions", "read_engine"}


def _receiver_is_a_database(node: ast.expr) -> bool:
    """`db.x`, `self.db.x`, `services.db.x`, `svc.db.x`, `database.x`: the bot's Database."""
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name in ("db", "database") or name.endswith("_db")


def _is_sql_string(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_sql_string(node.left) or _is_sql_string(node.right)
    return False


def violations(path: Path, root: Path = ROOT) -> Iterator[str]:
    where = path.relative_to(root)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy" and ALLOWED.get(alias.name, set()) is not None:
                    yield f"{where}:{node.lineno} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            names = ALLOWED.get(node.module, set())
            for alias in node.names:
                if names is not None and alias.name not in names:
                    yield f"{where}:{node.lineno} imports {node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in SQL_CALLS and node.args and _is_sql_string(node.args[0]):
                yield f"{where}:{node.lineno} passes SQL as a string to .{method}()"
            if method in DATABASE_CALLS and _receiver_is_a_database(node.func.value):
                yield f"{where}:{node.lineno} opens the database itself (.{method}())"
        if (
            isinstance(node, ast.Attribute)
            and node.attr in DATABASE_PARTS
            and _receiver_is_a_database(node.value)
        ):
            yield f"{where}:{node.lineno} reaches into the database (.{node.attr})"


def test_no_module_outside_bot_db_builds_sql() -> None:
    assert any(p.parent.name == "tracker" for p in OUTSIDE)  # the package that wrote most SQL before
    assert (DB / "migrations" / "env.py").exists()  # the migrations are inside bot/db too
    found = [v for path in OUTSIDE for v in violations(path)]
    assert found == [], "\n".join(found)


def test_the_check_catches_each_way_of_building_sql(tmp_path: Path) -> None:
    """The rules above, each on a line that breaks it, so that none of them can pass vacuously."""
    samples = {
        "from sqlalchemy import select": "imports sqlalchemy.select",
        "from sqlalchemy.orm import Session": "imports sqlalchemy.orm.Session",
        "from sqlalchemy.dialects.postgresql import insert": "imports sqlalchemy.dialects.postgresql.insert",
        "import sqlalchemy": "imports sqlalchemy",
        "conn.execute('UPDATE operations SET state = 1')": "SQL as a string to .execute()",
        "conn.exec_driver_sql(f'DELETE FROM {table}')": "SQL as a string to .exec_driver_sql()",
        "with self.db.transaction() as session: pass": "opens the database itself (.transaction())",
        "with services.db.read() as session: pass": "opens the database itself (.read())",
        "engine = db.read_engine": "reaches into the database (.read_engine)",
    }
    allowed = (
        "from sqlalchemy.exc import OperationalError\n"
        "from sqlalchemy.engine import make_url\n"
        "handle.read()\n"
        "services.operations.count_unfinished()\n"
    )
    for line, expected in samples.items():
        module = tmp_path / "sample.py"
        module.write_text(allowed + line + "\n")
        found = list(violations(module, tmp_path))
        assert len(found) == 1 and expected in found[0], (line, found)
    module = tmp_path / "sample.py"
    module.write_text(allowed)
    assert list(violations(module, tmp_path)) == []
