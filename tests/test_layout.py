"""The package layout's contracts (DESIGN.md): arrows run one way, and no module cycle hides behind
function-local imports. Every import statement counts, wherever it sits in a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mpc", "protocols", "netsim")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, resolved to absolute names (relative imports included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{alias.name}" for alias in node.names)  # ``from pkg import module``
    return out


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    names = {_module_name(p) for p in files}
    return {_module_name(p): {m for m in _imports(p) if m in names} | {m for m in _imports(p) if m.split(".")[0] not in PACKAGES}
            for p in files}


def _layer(module: str) -> str:
    if module in ("mpc.app", "mpc.__main__") or module.startswith("mpc.app."):
        return "app"
    return module.split(".")[0]


# layer -> layers (or third-party modules) it must never import
FORBIDDEN = {
    "mpc": {"app", "protocols", "netsim"},
    "protocols": {"app", "netsim", "pynng", "socket", "subprocess", "multiprocessing", "time", "selectors"},
    "netsim": {"app", "protocols"},
}


def _violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        forbidden = FORBIDDEN.get(_layer(module), set())
        for target in sorted(targets):
            if _layer(target) in forbidden or target.split(".")[0] in forbidden:
                bad.append(f"{module} imports {target}")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), ignoring package parents:
    ``pkg.sub`` importing ``pkg`` (its own package's ``__init__``) is how Python loads it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def edges(m: str) -> list[str]:
        return [t for t in graph[m] if t in graph and not m.startswith(t + ".")]

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on.add(m)
        for t in edges(m):
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            comp = []
            while True:
                x = stack.pop()
                on.discard(x)
                comp.append(x)
                if x == m:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return out


def test_arrows_run_one_way() -> None:
    assert _violations(_graph()) == []


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_checker_sees_a_violation_and_a_cycle() -> None:
    """The contract test must be able to fail: a core module importing the app layer, and a cycle."""
    graph = {"mpc.node": {"mpc.app.cli"}, "mpc.app.cli": {"mpc.node"}, "protocols.x": {"netsim.clock"}, "netsim.clock": set()}
    assert _violations(graph) == ["mpc.node imports mpc.app.cli", "protocols.x imports netsim.clock"]
    assert _cycles(graph) == [["mpc.app.cli", "mpc.node"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_typed_package(package: str) -> None:
    assert (ROOT / package / "py.typed").exists()
