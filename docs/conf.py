"""Sphinx configuration of the django_chatkit documentation (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django_chatkit  # noqa: E402  (the package's __init__ imports nothing of Django)

project = "django-openai-chatkit"
author = "django_chatkit developers"
copyright = "django_chatkit developers"
release = django_chatkit.__version__
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
exclude_patterns = ["_build"]
root_doc = "index"
# A reference to a setting or a page that does not exist is a warning, so an error.
nitpicky = True
highlight_language = "python"

html_theme = "alabaster"
html_title = f"django-openai-chatkit {release}"
html_theme_options = {
    "description": "A production Django backend for OpenAI's ChatKit",
    "fixed_sidebar": True,
    "page_width": "1100px",
}


def setup(app: Sphinx) -> None:
    # ``.. setting:: CHATKIT_X`` marks where a setting is described, and
    # :setting:`CHATKIT_X` links to it (as in Django's own documentation).
    app.add_crossref_type(
        directivename="setting", rolename="setting", indextemplate="pair: %s; setting"
    )
