"""Who may import whom, read from the source with `ast` (nothing here is imported):

- `bot.fakes` stands in for Slack and Polytomic, so it imports none of the bot's own modules;
- nothing on the production path imports `bot.fakes`: only tests/, bench/ and bot/demo/ may;
- `bot/__init__.py` imports nothing, since every import of `bot.fakes` runs it;
- nothing outside tests/ imports `tests` (bench/ included): what both need is in `bot.fakes`;
- no module imports a test module: the helpers tests share live in tests/harness.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for top in ("bot", "tests", "bench") for p in (ROOT / top).rglob("*.py"))
# May import bot.fakes besides bot.fakes itself: the demo (a later issue) ships the fakes.
FAKES_USERS = ("tests", "bench", "bot.demo")


@dataclass(frozen=True)
class Import:
    path: Path  # relative to ROOT
    line: int
    target: str  # the module, or module.name for `from module import name`

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports_of(path: Path) -> Iterator[Import]:
    """Every import in the file, at any depth (inside functions too), relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    where = path.relative_to(ROOT)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(where, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{module}" if module else base
            for alias in node.names:
                yield Import(where, node.lineno, module if alias.name == "*" else f"{module}.{alias.name}")


IMPORTS = {path: list(imports_of(path)) for path in SOURCES}


def in_package(path: Path, *packages: str) -> bool:
    return any(within(module_name(path), package) for package in packages)


def test_the_fakes_import_no_bot_module_outside_the_fakes() -> None:
    fakes = [path for path in SOURCES if in_package(path, "bot.fakes")]
    names = {module_name(p) for p in fakes}
    assert names >= {f"bot.fakes.{m}" for m in ("polytomic", "slack", "socket_mode", "signing", "process")}
    wrong = [
        str(i)
        for path in fakes
        for i in IMPORTS[path]
        if (within(i.target, "bot") and not within(i.target, "bot.fakes"))
        or within(i.target, "tests")
        or within(i.target, "bench")
    ]
    assert wrong == [], "\n".join(wrong)


def test_only_tests_bench_and_the_demo_import_the_fakes() -> None:
    production = [path for path in SOURCES if not in_package(path, "bot.fakes", *FAKES_USERS)]
    assert any(p.name == "runner.py" for p in production)
    wrong = [str(i) for path in production for i in IMPORTS[path] if within(i.target, "bot.fakes")]
    assert wrong == [], "\n".join(wrong)


def test_the_bot_package_itself_imports_nothing() -> None:
    init = ROOT / "bot" / "__init__.py"
    wrong = [str(i) for i in IMPORTS[init] if not within(i.target, "__future__")]
    assert wrong == [], "\n".join(wrong)


def test_nothing_outside_tests_imports_tests() -> None:
    outside = [path for path in SOURCES if not in_package(path, "tests")]
    assert any(in_package(p, "bench") for p in outside)
    wrong = [str(i) for path in outside for i in IMPORTS[path] if within(i.target, "tests")]
    assert wrong == [], "\n".join(wrong)


def test_no_module_imports_a_test_module() -> None:
    test_modules = [module_name(p) for p in SOURCES if p.name.startswith("test_") or p.name == "conftest.py"]
    assert "tests.scenario.test_cancel_flow" in test_modules
    wrong = [
        str(i)
        for imports in IMPORTS.values()
        for i in imports
        if any(within(i.target, module) for module in test_modules)
    ]
    assert wrong == [], "\n".join(wrong)
