"""README.md's error table lists every JSON error the app answers, and only those.

The codes are collected from the source of ``django_chatkit/``: every call or tuple with
an HTTP error status followed by a code (``error_response(404, "not_found", ...)``,
``AttachmentRejected(403, "upload_url_used", ...)``, a mapping's ``(413,
"request_too_large", ...)``), and every class that declares both (``RateLimited.status``
/ ``.code``). A table row may name several codes of one status (`` `a` / `b` ``).
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import django_chatkit
from tests.support import ROOT

PACKAGE = Path(django_chatkit.__file__).parent
TABLE_ROW = re.compile(r"^\| (\d{3}) \| (`[a-z_]+`(?: / `[a-z_]+`)*) \| .+ \|$", re.MULTILINE)


def is_status(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and 400 <= node.value < 600


def is_code(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def errors_in(tree: ast.AST) -> set[tuple[int, str]]:
    """The ``(status, code)`` pairs written in one module."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call | ast.Tuple):  # a call's arguments, a (status, code) row
            values = node.args if isinstance(node, ast.Call) else node.elts
            for status, code in itertools.pairwise(values):
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


def error_bodies_in(tree: ast.AST) -> set[str]:
    """The codes of error bodies written as dicts (``{"error": "not_authenticated", ...}``,
    answered with a ``status=`` given elsewhere)."""
    return {
        value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == "error" and is_code(value)
    }


def modules() -> list[ast.AST]:
    return [
        ast.parse(path.read_text(), filename=str(path))
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    ]


def errors_in_readme() -> set[tuple[int, str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The protocol endpoint") : text.index("### Example with curl")]
    return {
        (int(status), code)
        for status, codes in TABLE_ROW.findall(section)
        for code in re.findall(r"`([a-z_]+)`", codes)
    }


def test_the_collector_finds_each_way_of_answering_an_error():
    source = """
error_response(404, "not_found", "Not found.")
JsonResponse({"error": "not_authenticated", "message": "Log in."}, status=401)
raise AttachmentRejected(403, "upload_url_used", "Used.")
ANSWERS = {TooBig: (413, "request_too_large", "Too large.")}
answer(exc.status, exc.code, "dynamic: not a literal")

class Limited(Exception):
    status = 429
    code = "rate_limited"

class NotAnError:
    status = 200
    code = "ok"
"""
    assert error_bodies_in(ast.parse(source)) == {"not_authenticated"}
    assert errors_in(ast.parse(source)) == {
        (404, "not_found"),
        (403, "upload_url_used"),
        (413, "request_too_large"),
        (429, "rate_limited"),
    }


def test_a_row_may_name_several_codes():
    row = "| 400 | `too_many_fields` / `too_many_files` | a body over Django's limits |"
    (status, codes) = TABLE_ROW.findall(row)[0]
    assert (status, re.findall(r"`([a-z_]+)`", codes)) == (
        "400",
        ["too_many_fields", "too_many_files"],
    )


def test_readme_error_table_matches_the_code():
    table = errors_in_readme()
    in_code = set().union(*map(errors_in, modules()))
    bodies = set().union(*map(error_bodies_in, modules()))
    assert {"upload_url_used", "rate_limited"} <= {code for _, code in in_code}
    assert sorted(in_code - table) == [], "answered by the app, missing from the README"
    assert sorted(bodies - {code for _, code in table}) == [], "missing from the README"
    answered = in_code | {(status, code) for status, code in table if code in bodies}
    assert sorted(table - answered) == [], "in the README, answered nowhere"
