"""The layering of docs/architecture.md, checked on the source (AST, nothing imported).

- ``bot/`` is transport-free: no Sanic, nothing from ``actions``, and from
  ``channels`` only the Sanic-free outbound modules in :data:`OUTBOUND`
  (code that pushes to a customer outside a request);
- those outbound modules, with every ``channels`` file they load at import
  (package ``__init__`` included), import no Sanic;
- ``actions/`` (the action server, another process) imports no Sanic and,
  from ``channels``, only :data:`OUTBOUND`;
- ``bot/stores/`` is a self-contained Rasa plugin: no other project import;
- ``tests/`` never import ``bench/``, ``bench/`` never imports ``tests/``;
  both share ``testing/``, which imports neither;
- a connector package ``channels/<x>/`` imports no other connector, only
  ``channels.common``.

Every import counts, also one inside a function.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]

OUTBOUND = (
    "channels.whatsapp.graph",
    "channels.whatsapp.settings",
    "channels.whatsapp.wire",
    "channels.socketio.outbound",
    "channels.websocket.outbound",
)
SANIC = ("sanic", "sanic_routing", "sanic_cors", "sanic_jwt")
PROJECT = ("bot", "channels", "actions", "components", "rasa_sdk_plugins", "testing", "tests", "bench")
# Today's flat connector modules and the package each becomes (remove with the move).
FLAT_CONNECTORS = {"rasa_rest": "rest", "widget": "socketio"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, module_level: bool = False) -> List[Tuple[int, str]]:
    """(line, dotted target) of every import in ``path`` (or only those run at import
    time: ``module_level``); ``from a import b`` gives ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found = []
    for node in (_module_level(tree) if module_level else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.extend((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base)
                         for alias in node.names)
    return found


def _module_level(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes run when the module is imported: not inside a function body."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def source_of(module: str, exact: bool = False) -> Optional[Path]:
    """The file of ``module`` (or of its parent, when the last part is a name in it)."""
    parts = module.split(".")
    for end in (len(parts),) if exact else (len(parts), len(parts) - 1):
        base = ROOT.joinpath(*parts[:end]) if end else None
        for candidate in (base.with_suffix(".py"), base / "__init__.py") if base else ():
            if candidate.is_file():
                return candidate
    return None


def loaded_with(module: str) -> List[Path]:
    """Every ``channels`` file importing ``module`` runs: its packages' ``__init__`` and
    what they import at module level, transitively."""
    seen: Dict[Path, None] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            path = source_of(".".join(parts[:end]))
            if path is None or path in seen or top(name) != "channels":
                continue
            seen[path] = None
            todo.extend(t for _, t in imports(path, module_level=True) if top(t) == "channels")
    return list(seen)


def top(target: str) -> str:
    return target.split(".")[0]


def under(target: str, *modules: str) -> bool:
    return any(target == m or target.startswith(m + ".") for m in modules)


def connector(module: str) -> Optional[str]:
    """``channels.desk.routes`` -> ``desk``; a flat ``channels.desk_broker`` -> ``desk``."""
    parts = module.split(".")
    if parts[0] != "channels" or len(parts) < 2:
        return None
    return FLAT_CONNECTORS.get(parts[1], parts[1])


# -- the rules: each returns the forbidden targets of one file -----------------------------

def transport_free(path: Path) -> List[str]:
    """bot/ and actions/: no Sanic, no actions (from bot), channels only through OUTBOUND."""
    own = top(module_name(path))
    return [t for _, t in imports(path)
            if top(t) in SANIC
            or (top(t) == "channels" and not under(t, *OUTBOUND))
            or (own == "bot" and top(t) == "actions")]


def standalone_store(path: Path) -> List[str]:
    return [t for _, t in imports(path) if top(t) in PROJECT and not under(t, "bot.stores")]


def no_tests_bench(forbidden: Tuple[str, ...]) -> Callable[[Path], List[str]]:
    def rule(path: Path) -> List[str]:
        return [t for _, t in imports(path) if top(t) in forbidden]
    return rule


def own_connector_only(path: Path) -> List[str]:
    mine = connector(module_name(path))
    return [t for _, t in imports(path)
            if connector(t) not in (None, mine, "common")]


def outbound_sanic_free(path: Path) -> List[str]:
    """An outbound module, and every channels file importing it loads, imports no Sanic."""
    return [f"{p.relative_to(ROOT).as_posix()}: {t}" for p in loaded_with(module_name(path))
            for _, t in imports(p, module_level=True) if top(t) in SANIC]


def files(*folders: str, exclude: str = "") -> List[Path]:
    found = []
    for folder in folders:
        base = ROOT / folder
        found.extend(sorted(base.rglob("*.py")) if base.is_dir() else [])
    return [p for p in found if not (exclude and p.relative_to(ROOT).as_posix().startswith(exclude))]


RULES: Dict[str, Tuple[Callable[[Path], List[str]], Callable[[], List[Path]]]] = {
    "bot is transport-free": (transport_free, lambda: files("bot")),
    "actions import no Sanic and no connector": (transport_free, lambda: files("actions")),
    "bot/stores is self-contained": (standalone_store, lambda: files("bot/stores")),
    "tests do not import bench": (no_tests_bench(("bench",)), lambda: files("tests")),
    "bench does not import tests": (no_tests_bench(("tests",)), lambda: files("bench")),
    "testing imports neither tests nor bench": (no_tests_bench(("tests", "bench")), lambda: files("testing")),
    "outbound modules load no Sanic": (
        outbound_sanic_free, lambda: [p for p in (source_of(m, exact=True) for m in OUTBOUND) if p]),
    "connectors import only themselves and channels.common": (
        own_connector_only, lambda: files("channels", exclude="channels/common")),
}


def violations(rule: str, path: Path) -> List[str]:
    check, _ = RULES[rule]
    return check(path)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_holds(rule):
    _, collect = RULES[rule]
    broken = {}
    for path in collect():
        relative = path.relative_to(ROOT).as_posix()
        found = violations(rule, path)
        if found:
            broken[relative] = found
    assert not broken, f"{rule}: {broken} (see docs/architecture.md)"


def test_the_checker_sees_every_kind_of_import(tmp_path, monkeypatch):
    """Relative, aliased, from-package and in-function imports are all seen (else every
    rule above would pass on a checker that sees nothing)."""
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    (tmp_path / "bot").mkdir()
    sample = tmp_path / "bot" / "sample.py"
    sample.write_text("import sanic.response as r\nfrom . import settings\n"
                      "def f():\n    from channels import rest\n    from channels.whatsapp.graph import G\n")
    targets = [t for _, t in imports(sample)]
    assert targets == ["sanic.response", "bot.settings", "channels.rest", "channels.whatsapp.graph.G"]
    assert sorted(t for _, t in imports(sample, module_level=True)) == ["bot.settings", "sanic.response"]
    assert transport_free(sample) == ["sanic.response", "channels.rest"]
    assert connector("channels.rasa_rest") == connector("channels.rest.routes") == "rest"
