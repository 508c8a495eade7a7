"""The layers point one way: each module imports only from its own layer and the layers below.

    entry points (app.py, chalicelib.entrypoints, chalicelib.devserver, scripts)
      -> bootstrap (the composition root) -> adapters, services, security
      -> http -> services, security
      -> services | adapters  (neither imports the other)
      -> ports -> domain -> base (errors, jsonio, clock, ids, config)

Imports are read with `ast`, including those inside functions and under ``TYPE_CHECKING``: a
deferred import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BASE = {"chalicelib", "chalicelib.errors", "chalicelib.jsonio", "chalicelib.clock", "chalicelib.ids"}
BASE |= {"chalicelib.config", "chalicelib.observability"}

ALLOWED: dict[str, set[str]] = {
    "base": {"base"},
    "domain": {"base", "domain"},
    "ports": {"base", "domain", "ports"},
    "adapters": {"base", "domain", "ports", "adapters"},
    "services": {"base", "domain", "ports", "services"},
    "security": {"base", "domain", "ports", "security"},
    "http": {"base", "domain", "ports", "services", "security", "http"},
    "bootstrap": {"base", "domain", "ports", "services", "security", "adapters", "bootstrap"},
    "entrypoints": {
        "base",
        "domain",
        "ports",
        "services",
        "security",
        "adapters",
        "http",
        "bootstrap",
        "entrypoints",
    },
}


def layer_of(module: str) -> str | None:
    """The layer of a first-party module, or None for anything else (stdlib, third party)."""
    if module == "app" or module.startswith("scripts"):
        return "entrypoints"
    if not module.startswith("chalicelib"):
        return None
    if module in BASE:
        return "base"
    parts = module.split(".")
    second = parts[1]
    return {
        "domain": "domain",
        "ports": "ports",
        "adapters": "adapters",
        "services": "services",
        "worker": "services",
        "security": "security",
        "http": "http",
        "bootstrap": "bootstrap",
        "entrypoints": "entrypoints",
        "devserver": "entrypoints",
    }.get(second, "unlisted")


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from chalicelib import jsonio`` names a module: judge the module, not the package
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def first_party(name: str) -> str:
    """``chalicelib.services.views.location`` -> the module part that names a layer's file."""
    parts = name.split(".")
    while len(parts) > 1 and not (
        ROOT.joinpath(*parts).with_suffix(".py").exists() or ROOT.joinpath(*parts).is_dir()
    ):
        parts.pop()
    return ".".join(parts)


SOURCES = sorted(
    [ROOT / "app.py", *ROOT.glob("chalicelib/**/*.py"), *ROOT.glob("scripts/**/*.py")],
)


def violations() -> list[str]:
    found = []
    for path in SOURCES:
        source = module_name(path)
        own = layer_of(source)
        assert own not in (None, "unlisted"), f"{source} belongs to no layer: add it to layer_of"
        for line, imported in imports_of(path):
            target = layer_of(first_party(imported))
            if target is None:
                continue
            assert target != "unlisted", f"{imported} belongs to no layer: add it to layer_of"
            if target not in ALLOWED[own]:
                found.append(f"{path.relative_to(ROOT)}:{line}: {own} -> {target} ({imported})")
    return found


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert violations() == []


def test_the_domain_modules_have_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in ROOT.glob("chalicelib/domain/*.py"):
        source = module_name(path)
        graph[source] = {
            first_party(name)
            for _, name in imports_of(path)
            if first_party(name).startswith("chalicelib.domain.") and first_party(name) != source
        }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ())
        )

    assert [m for m in graph if reaches(m, m, set())] == []


@pytest.mark.parametrize(
    ("source", "imported", "expected"),
    [
        ("chalicelib.adapters.aws.sqs", "chalicelib.services.views", "adapters -> services"),
        ("chalicelib.services.consumer", "chalicelib.http.params", "services -> http"),
        ("chalicelib.http.middleware", "chalicelib.bootstrap", "http -> bootstrap"),
        ("chalicelib.domain.model", "chalicelib.ports", "domain -> ports"),
    ],
)
def test_the_table_refuses_upward_arrows(source: str, imported: str, expected: str) -> None:
    own, target = layer_of(source), layer_of(imported)
    assert own is not None and target is not None
    assert target not in ALLOWED[own] and f"{own} -> {target}" == expected
