"""The package's layout: layers that import only downwards (so no import cycle), no
unexplained import inside a function, no private name imported from another module, no
module over 500 lines.

The import graph is ``scripts/import_graph.py``'s (imports inside functions count: they
run too, only later). A cache registers its own ``setting_changed`` receiver beside it
instead of ``conf`` reaching up to clear it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import django_chatkit

ROOT = Path(__file__).resolve().parent.parent
# The package under test: the source tree's, or the installed wheel's (make test-wheel runs
# the suite from a copy of the tree without the package).
PACKAGE = Path(django_chatkit.__file__).resolve().parent
MAX_LINES = 500

# A comment that is only a linter's or type checker's pragma gives no reason.
PRAGMA = re.compile(
    r"noqa(?::\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(?:\[[^\]]*\])?"
)


def _load_script():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


import_graph = _load_script()


# Bottom to top: a module imports from its own layer and the layers below it only.
LAYERS: list[tuple[str, ...]] = [
    # settings, errors, the request context, signals, thread hops, ids, rate limits
    ("conf", "exceptions", "context", "signals", "db", "ids", "ratelimit", "widget_classes",
     "redis_pool"),
    ("models", "managers", "handoff"),
    # the store re-signs attachment URLs (attachments.files): attachments sit below it
    ("attachments", "converters"),
    ("store", "usage"),
    # durable answers checkpoint through the store and tell open chats (live)
    ("live",),
    ("durable",),
    ("server",),
    ("views",),
    ("asgi", "admin", "client", "testing", "management", "templatetags", "urls", "routing",
     "checks", "apps"),
]  # fmt: skip


def layer(module: str) -> int:
    """The layer of a module of the package, by its first name below ``django_chatkit``."""
    top = module.split(".")[1]
    [index] = [index for index, names in enumerate(LAYERS) if top in names]
    return index


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts)


def reason(comment: str) -> str:
    """What a comment says besides pragmas (``# noqa: F401  (why)`` -> ``(why)``)."""
    return PRAGMA.sub("", comment.removeprefix("#")).strip(" #")


def test_no_import_cycle() -> None:
    assert import_graph.cycles(import_graph.collect(PACKAGE)) == []


def test_every_module_imports_only_its_own_layer_and_those_below() -> None:
    upwards = [
        f"{edge.path.relative_to(PACKAGE.parent)}:{edge.line} {edge.source} -> {edge.target}"
        for edge in import_graph.collect(PACKAGE)
        if layer(edge.target) > layer(edge.source)
    ]
    assert upwards == []


def test_every_module_has_a_layer() -> None:
    names = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in modules()}
    assert sorted(names - {"__init__"}) == sorted(name for names in LAYERS for name in names)


def test_every_import_inside_a_function_says_why() -> None:
    unexplained = [
        f"{edge.path.relative_to(PACKAGE.parent)}:{edge.line} imports {edge.target}"
        for edge in import_graph.function_level(import_graph.collect(PACKAGE))
        if not reason(edge.comment)
    ]
    assert unexplained == []


def test_no_private_name_is_imported_from_another_module() -> None:
    crossing = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "django_chatkit"
            ):
                crossing += [
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    assert crossing == []


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"


# the checks themselves ---------------------------------------------------------------


def test_the_graph_sees_cycles_through_function_level_imports_and_packages(tmp_path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def clear():\n    from pkg.high import thing  # why\n")
    (package / "high.py").write_text("from pkg.sub import helper\nthing = 1\n")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.helper import helper\n")
    (package / "sub" / "helper.py").write_text(
        "from typing import TYPE_CHECKING\nfrom pkg import low\nif TYPE_CHECKING:\n"
        "    from pkg import high\nhelper = 1\n"
    )
    imports = import_graph.collect(package)
    assert import_graph.cycles(imports) == [["pkg.high", "pkg.low", "pkg.sub", "pkg.sub.helper"]]
    [inside] = import_graph.function_level(imports)
    assert (inside.source, inside.target, inside.comment) == ("pkg.low", "pkg.high", "# why")
    assert import_graph.main([str(package)]) == 1


def test_a_reason_is_more_than_a_pragma() -> None:
    assert reason("# noqa: F401") == ""
    assert reason("# type: ignore[import-not-found]") == ""
    assert reason("# noqa: F401  (registers the checks)") == "(registers the checks)"
    assert reason("# before the app registry is ready") == "before the app registry is ready"
