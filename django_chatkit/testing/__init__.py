"""Test a ChatKit server like the rest of a Django project.

* :class:`ChatKitClient` / :class:`AsyncChatKitClient`: the ChatKit protocol through
  Django's test client or against a live server, answers as the SDK's types;
* :class:`ScriptedModel`: a deterministic ``agents.Model`` that plays a script and
  records what the agent sent it;
* :mod:`django_chatkit.testing.plugin`: pytest fixtures (``chatkit_client``,
  ``chatkit_user``...), registered on install through the ``pytest11`` entry point.

pytest imports this package (for its plugin) before pytest-django has set Django up, so
the names below are imported on first use, not here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_chatkit.testing.assertions import assert_answered, assert_refused, refused
    from django_chatkit.testing.client import AsyncChatKitClient
    from django_chatkit.testing.model import (
        Handoff,
        ModelRequest,
        ScriptedModel,
        ScriptExhausted,
        ToolCall,
    )
    from django_chatkit.testing.results import ChatKitRefused, ChatKitResult
    from django_chatkit.testing.sync import ChatKitClient
    from django_chatkit.testing.transports import LoginFailed

_EXPORTS = {
    "assert_answered": "django_chatkit.testing.assertions",
    "assert_refused": "django_chatkit.testing.assertions",
    "refused": "django_chatkit.testing.assertions",
    "AsyncChatKitClient": "django_chatkit.testing.client",
    "ChatKitClient": "django_chatkit.testing.sync",
    "ChatKitRefused": "django_chatkit.testing.results",
    "ChatKitResult": "django_chatkit.testing.results",
    "LoginFailed": "django_chatkit.testing.transports",
    "ModelRequest": "django_chatkit.testing.model",
    "ScriptExhausted": "django_chatkit.testing.model",
    "ScriptedModel": "django_chatkit.testing.model",
    "ToolCall": "django_chatkit.testing.model",
    "Handoff": "django_chatkit.testing.model",
}

__all__ = [
    "AsyncChatKitClient",
    "ChatKitClient",
    "ChatKitRefused",
    "ChatKitResult",
    "Handoff",
    "LoginFailed",
    "ModelRequest",
    "ScriptExhausted",
    "ScriptedModel",
    "ToolCall",
    "assert_answered",
    "assert_refused",
    "refused",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
