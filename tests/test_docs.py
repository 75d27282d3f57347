"""The documentation (docs/ and README.md) against the code it describes.

- docs/settings.rst documents every key of ``django_chatkit.conf.DEFAULTS``, each under
  ``.. setting:: NAME`` with ``Type: ...`` and its ``Default: ...`` written as a Python
  literal (inline, or the ``.. code-block:: python`` that follows), and no other setting;
- every ``CHATKIT_*`` name in the docs and the README is one of those settings (or an
  environment variable of the test suite);
- docs/checks.rst lists every check id of ``django_chatkit/checks.py``, and only those;
- the README's links into docs/ point at pages that exist.

(The error table of docs/endpoint.rst is tested by test_readme_errors.py, the signal
receiver of docs/signals.rst by test_feedback_signal.py, the walkthrough blocks by
test_readme_walkthrough.py.)
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import django_chatkit
from django_chatkit.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = Path(django_chatkit.__file__).parent
# Not settings: the suite's environment variables, the testing plugin's user password constant.
ENVIRONMENT_VARIABLES = {
    "CHATKIT_CHROMIUM",
    "CHATKIT_USER_PASSWORD",
    "CHATKIT_UPDATE_DOCS_SCREENSHOTS",
}

SETTING = re.compile(
    r"^\.\. setting:: (?P<name>\S+)\n\n``(?P=name)``\n(?P<rule>[-~=^])(?P=rule)+\n\n"
    r"(?P<body>.*?)(?=^\.\. setting:: |\Z)",
    re.MULTILINE | re.DOTALL,
)
PYTHON_BLOCK = re.compile(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)")
CHECK_ROW = re.compile(r"^[ \t]+\* - ``django_chatkit\.([EW]\d{3})``$", re.MULTILINE)


def documented_settings(text: str) -> dict[str, Any]:
    """``{name: default}`` of every setting the page documents."""
    settings: dict[str, Any] = {}
    for match in SETTING.finditer(text):
        name, body = match["name"], match["body"]
        assert name not in settings, f"{name} is documented twice"
        assert body.startswith("Type: ``"), f"{name}: the body starts with its type"
        _, found, after = body.partition("Default: ")
        assert found, f"{name}: no 'Default: '"
        if after.startswith("``"):
            literal = after[2 : after.index("``", 2)]
        else:
            block = PYTHON_BLOCK.search(after)
            assert block, f"{name}: the default is neither ``inline`` nor a code block"
            literal = textwrap.dedent(block[1])
        try:
            settings[name] = ast.literal_eval(literal.strip())
        except (ValueError, SyntaxError) as exc:
            raise AssertionError(f"{name}: the default {literal!r} is not a literal") from exc
    return settings


def test_the_settings_parser_reads_inline_and_block_defaults():
    text = """Group
-----

.. setting:: CHATKIT_A

``CHATKIT_A``
~~~~~~~~~~~~~

Type: ``int``. Default: ``2097152`` (2 MiB).

Prose.

.. setting:: CHATKIT_B

``CHATKIT_B``
~~~~~~~~~~~~~

Type: ``list[str]``. Default: PNG and text:

.. code-block:: python

   (
       "image/png",
       "text/plain",
   )
"""
    assert documented_settings(text) == {
        "CHATKIT_A": 2097152,
        "CHATKIT_B": ("image/png", "text/plain"),
    }
    with pytest.raises(AssertionError, match="CHATKIT_C: no 'Default: '"):
        documented_settings(".. setting:: CHATKIT_C\n\n``CHATKIT_C``\n---\n\nType: ``int``.\n")


def test_the_settings_page_documents_every_default():
    documented = documented_settings((DOCS / "settings.rst").read_text())
    assert sorted(documented) == sorted(DEFAULTS), "documented settings != conf.DEFAULTS"
    wrong = {
        name: (value, DEFAULTS[name])
        for name, value in documented.items()
        if (value, type(value)) != (DEFAULTS[name], type(DEFAULTS[name]))
    }
    assert wrong == {}, "documented default, conf.DEFAULTS"


def test_every_chatkit_name_in_the_docs_is_a_setting():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.rst"))]
    named = {
        (page.name, name)
        for page in pages
        for name in re.findall(r"\bCHATKIT_[A-Z0-9_]*[A-Z0-9]\b", page.read_text())
    }
    unknown = sorted(
        (page, name)
        for page, name in named
        if name not in DEFAULTS and name not in ENVIRONMENT_VARIABLES
    )
    assert unknown == [], "not a key of conf.DEFAULTS"


def test_the_checks_page_lists_every_check_id():
    source = (PACKAGE / "checks.py").read_text()
    in_code = set(re.findall(r"\"django_chatkit\.([EW]\d{3})\"", source))
    documented = CHECK_ROW.findall((DOCS / "checks.rst").read_text())
    assert len(documented) == len(set(documented)), "a check listed twice"
    assert {"E001", "W031"} <= in_code
    assert sorted(set(documented)) == sorted(in_code)


def test_the_readme_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text()
    targets = set(re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", readme))
    assert "docs/settings.rst" in targets
    assert sorted(target for target in targets if not (ROOT / target).is_file()) == []
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.rst")}
    assert sorted(pages - targets) == [], "a page the README does not link to"
