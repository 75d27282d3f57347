"""The error table of docs/endpoint.rst lists every JSON error the app answers, and only those.

The codes are collected from the source of ``django_chatkit/``: every class that declares
both an HTTP error status and a code (``ChatKitError`` subclasses:
``RateLimited.status_code`` / ``.code``), every call or tuple with a status followed by a
code (``answer(404, "not_found", ...)``, a mapping's ``(413, "request_too_large", ...)``)
and every error body written as a dict. A row of the page's ``list-table`` (status, then the
codes) may name several codes of one status (````a`` / ``b````).
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import django_chatkit
from tests.support import ROOT

PAGE = ROOT / "docs" / "endpoint.rst"
PACKAGE = Path(django_chatkit.__file__).parent
TABLE_ROW = re.compile(
    r"^[ \t]+\* - (\d{3})\n[ \t]+- (``[a-z_]+``(?: / ``[a-z_]+``)*)\n[ \t]+- \S", re.MULTILINE
)
CODE = re.compile(r"``([a-z_]+)``")


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
            status = attributes.get("status_code", attributes.get("status"))
            code = attributes.get("code")
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


def errors_in_docs() -> set[tuple[int, str]]:
    text = PAGE.read_text()
    section = text[text.index(".. _errors:") : text.index("Example with curl\n")]
    rows = TABLE_ROW.findall(section)
    assert len(rows) == section.count("   * - ") - 1, "a row the pattern does not read"
    return {(int(status), code) for status, codes in rows for code in CODE.findall(codes)}


def test_the_collector_finds_each_way_of_answering_an_error():
    source = """
answer(404, "not_found", "Not found.")
JsonResponse({"error": "not_authenticated", "message": "Log in."}, status=401)
raise AttachmentRejected(403, "upload_url_used", "Used.")
ANSWERS = {TooBig: (413, "request_too_large", "Too large.")}
answer(exc.status, exc.code, "dynamic: not a literal")

class Limited(ChatKitError):
    status_code = 429
    code = "rate_limited"

class Old(Exception):
    status = 415
    code = "unsupported_attachment_type"

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
        (415, "unsupported_attachment_type"),
    }


def test_a_row_may_name_several_codes():
    row = (
        "   * - 400\n"
        "     - ``too_many_fields`` / ``too_many_files``\n"
        "     - a body over Django's limits\n"
    )
    (status, codes) = TABLE_ROW.findall(row)[0]
    assert (status, CODE.findall(codes)) == ("400", ["too_many_fields", "too_many_files"])


def test_documented_error_table_matches_the_code():
    table = errors_in_docs()
    in_code = set().union(*map(errors_in, modules()))
    bodies = set().union(*map(error_bodies_in, modules()))
    assert {"upload_url_used", "rate_limited"} <= {code for _, code in in_code}
    assert sorted(in_code - table) == [], "answered by the app, missing from the docs"
    assert sorted(bodies - {code for _, code in table}) == [], "missing from the docs"
    answered = in_code | {(status, code) for status, code in table if code in bodies}
    assert sorted(table - answered) == [], "in the docs, answered nowhere"
