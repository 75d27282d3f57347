"""README.md's error table lists every JSON error the app answers, and only those.

The codes are collected from the source of ``django_chatkit/``: every call with an HTTP
error status followed by a code (``error_response(404, "not_found", ...)``,
``AttachmentRejected(403, "upload_url_used", ...)``, ``RequestRefused(...)``), and every
class that declares both (``RateLimited.status`` / ``.code``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import django_chatkit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(django_chatkit.__file__).parent
TABLE_ROW = re.compile(r"^\| (\d{3}) \| `([a-z_]+)` \| .+ \|$", re.MULTILINE)


def is_status(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and 400 <= node.value < 600


def is_code(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def errors_in(tree: ast.AST) -> set[tuple[int, str]]:
    """The ``(status, code)`` pairs written in one module."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for status, code in zip(node.args, node.args[1:], strict=False):
                if is_status(status) and is_code(code):
                    found.add((status.value, code.value))
        elif isinstance(node, ast.ClassDef):
            attributes = {
                target.id: statement.value
                for statement in node.body
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
            status, code = attributes.get("status"), attributes.get("code")
            if status is not None and code is not None and is_status(status) and is_code(code):
                found.add((status.value, code.value))
    return found


def errors_in_code() -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        if "migrations" not in path.parts:
            found |= errors_in(ast.parse(path.read_text(), filename=str(path)))
    return found


def errors_in_readme() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The protocol endpoint") : text.index("### Example with curl")]
    return [(int(status), code) for status, code in TABLE_ROW.findall(section)]


def test_the_collector_finds_each_way_of_answering_an_error():
    source = """
error_response(404, "not_found", "Not found.")
raise AttachmentRejected(403, "upload_url_used", "Used.")
answer(exc.status, exc.code, "dynamic: not a literal")

class Limited(Exception):
    status = 429
    code = "rate_limited"

class NotAnError:
    status = 200
    code = "ok"
"""
    assert errors_in(ast.parse(source)) == {
        (404, "not_found"),
        (403, "upload_url_used"),
        (429, "rate_limited"),
    }


def test_readme_error_table_matches_the_code():
    table = errors_in_readme()
    assert len(table) == len(set(table)), "a row appears twice in the README's error table"
    in_code = errors_in_code()
    assert {"upload_url_used", "not_authenticated", "rate_limited"} <= {c for _, c in in_code}
    assert sorted(in_code - set(table)) == [], "answered by the app, missing from the README"
    assert sorted(set(table) - in_code) == [], "in the README, answered nowhere"
