"""The import graph of django_chatkit: its cycles and its imports inside functions.

    python scripts/import_graph.py [PACKAGE_DIR]

Reads every module of the package (standard library ``ast`` only, nothing is imported)
and collects each import of one of its modules, at module level and inside functions
alike (an import inside a function runs too, only later): ``import a.b``,
``from a.b import c`` (an edge to ``a.b.c`` when ``c`` is a submodule, else to ``a.b``:
a name a package's ``__init__`` re-exports is an edge to the package) and relative
imports. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``: that is an edge to
the package too, except from a module inside it (its ``__init__`` has already run).
Imports under ``if TYPE_CHECKING:`` never run and are left out.

Prints the cycles (strongly connected components of more than one module, and modules
that import themselves) and the imports of package modules inside functions, each with
the comment on its line (the reason it is not at the top). Exit code 1 on a cycle.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "django_chatkit"


@dataclass(frozen=True)
class Import:
    """One import of a package module by another."""

    source: str  # the importing module
    target: str  # the module imported
    path: Path
    line: int
    in_function: bool
    comment: str  # the comment on the import's first line ("" without one)
    implicit: bool = False  # a package whose ``__init__`` importing a submodule runs


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def comments(source: str) -> dict[int, str]:
    """The comment of each line that has one (``#`` and the text after it)."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(
    nodes: list[ast.AST], in_function: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements in and below ``nodes``, with whether each is in a function."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(list(node.orelse), in_function)  # the body never runs
        else:
            inside = in_function or isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from _import_nodes(list(ast.iter_child_nodes(node)), inside)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name of a ``from`` import's module (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]
) -> list[str]:
    """The package modules one import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in known]
    parent = _absolute(module, is_package, node)
    targets = []
    for alias in node.names:
        submodule = f"{parent}.{alias.name}"
        if submodule in known:
            targets.append(submodule)
        elif parent in known:
            targets.append(parent)
    return targets


def _packages_run(source: str, target: str, known: set[str]) -> list[str]:
    """The packages whose ``__init__`` importing ``target`` runs, seen from ``source``:
    ``a.b`` for ``a.b.c``, except the packages ``source`` itself is in."""
    parts = target.split(".")
    packages = [".".join(parts[:end]) for end in range(1, len(parts))]
    return [
        package
        for package in packages
        if package in known and not (source == package or source.startswith(package + "."))
    ]


def collect(package_dir: Path = PACKAGE_DIR) -> list[Import]:
    """Every import of a package module in the package."""
    names = module_names(package_dir)
    known = set(names)
    imports = []
    for module, path in names.items():
        source = path.read_text()
        line_comments = comments(source)
        is_package = path.name == "__init__.py"
        for node, in_function in _import_nodes([ast.parse(source, filename=str(path))]):
            for target in _targets(module, is_package, node, known):
                comment = line_comments.get(node.lineno, "")
                imports += [
                    Import(module, package, path, node.lineno, in_function, comment, implicit=True)
                    for package in _packages_run(module, target, known)
                ]
                imports.append(Import(module, target, path, node.lineno, in_function, comment))
    return imports


def cycles(imports: list[Import]) -> list[list[str]]:
    """The strongly connected components (Tarjan) of more than one module, and the
    modules that import themselves, each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in imports:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        # Recursive: the package has a few dozen modules, far below the recursion limit.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def function_level(imports: list[Import]) -> list[Import]:
    """The imports written inside functions (without the packages their ``__init__`` runs)."""
    return [edge for edge in imports if edge.in_function and not edge.implicit]


def main(argv: list[str]) -> int:
    package_dir = Path(argv[0]).resolve() if argv else PACKAGE_DIR
    imports = collect(package_dir)
    root = package_dir.parent
    modules = {edge.source for edge in imports} | {edge.target for edge in imports}
    print(f"{len(module_names(package_dir))} modules, {len(imports)} imports between them")
    found = cycles(imports)
    if found:
        print(f"\n{len(found)} import cycle(s):")
        for component in found:
            print("  " + " <-> ".join(component))
    else:
        print(f"\nNo import cycle among the {len(modules)} modules that import each other.")
    inside = function_level(imports)
    print(f"\n{len(inside)} import(s) of package modules inside functions:")
    for edge in inside:
        where = f"{edge.path.relative_to(root)}:{edge.line}"
        print(f"  {where}  {edge.source} -> {edge.target}  {edge.comment or '(no comment)'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
