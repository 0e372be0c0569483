"""The import rules, read from the import graph (every `import` and `from ... import` in every
file, including those inside functions): the analytics core never reaches up to the interface,
its layers import only downwards, pages never import one another and ui never imports pages."""

from __future__ import annotations

import ast

from tests.paths import ROOT

# analytics/ from the bottom up: a module imports only from its own layer or the ones below it.
# outcomes/ (the measure registry and change rules) imports nothing from analytics: the core builds on it.
LAYERS = ["outcomes", "core", "ingest", "recipe", "models", "survival", "engines", "practice", "charts", "output", "__main__"]
SUBPACKAGES = {"outcomes", "ingest", "models", "survival", "engines", "practice", "charts", "output"}
INTERFACE = ("streamlit", "ui", "pages")


def _imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "analytics" or len(parts) == 1:
        return None
    if parts[1] in SUBPACKAGES or parts[1] in ("recipe", "__main__"):
        return parts[1]
    return "core" if (ROOT / "analytics" / f"{parts[1]}.py").exists() else None


def _module(path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_analytics_never_imports_the_interface():
    offenders = {
        _module(path): sorted(i for i in _imports(path) if i.split(".")[0] in INTERFACE)
        for path in (ROOT / "analytics").rglob("*.py")
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def test_analytics_layers_import_only_downwards():
    upward = []
    for path in (ROOT / "analytics").rglob("*.py"):
        mine = _layer(_module(path))
        for imported in _imports(path):
            theirs = _layer(imported)
            if mine and theirs and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{_module(path)} ({mine}) imports {imported} ({theirs})")
    assert sorted(set(upward)) == []


def test_pages_never_import_one_another_and_ui_never_imports_pages():
    offenders = []
    for folder in ("pages", "ui"):
        for path in (ROOT / folder).glob("*.py"):
            offenders += [f"{_module(path)} imports {i}" for i in _imports(path) if i.split(".")[0] == "pages"]
    assert offenders == []


def test_the_layer_rules_see_every_analytics_module():
    """A module outside every layer would escape the rules above."""
    unplaced = [_module(p) for p in (ROOT / "analytics").rglob("*.py")
                if p.name != "__init__.py" and _layer(_module(p)) is None]
    assert unplaced == []


def test_at_most_twelve_modules_at_the_top_of_analytics():
    assert len(list((ROOT / "analytics").glob("*.py"))) <= 12


def test_no_package_export_hides_a_module_of_the_same_name():
    """`from analytics.practice import watch_list` must give the module: an exported function of
    the same name would replace it on the package and break every such import."""
    import importlib
    import pkgutil
    import types

    hidden = []
    for package in sorted(SUBPACKAGES):
        loaded = importlib.import_module(f"analytics.{package}")
        for module in pkgutil.iter_modules(loaded.__path__):
            importlib.import_module(f"analytics.{package}.{module.name}")
            if not isinstance(getattr(loaded, module.name), types.ModuleType):
                hidden.append(f"analytics.{package}.{module.name}")
    assert hidden == []
