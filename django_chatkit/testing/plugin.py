"""pytest fixtures for testing a ChatKit server, registered when the package is installed
(its ``pytest11`` entry point ``django_chatkit``; ``-p no:django_chatkit`` turns it off).

``chatkit_user``
    a user to chat as, in a transactional database (the endpoint's store reads it from
    other threads, which cannot see a test's uncommitted transaction);
``chatkit_client``
    a :class:`~django_chatkit.testing.ChatKitClient` logged in as ``chatkit_user``,
    through Django's test client;
``async_chatkit_client``
    its :class:`~django_chatkit.testing.AsyncChatKitClient` twin, for ``async def`` tests.

They need pytest-django (``django_user_model``, ``transactional_db``). pytest imports
this module before pytest-django sets Django up: Django and the client are imported
when a fixture runs.
"""

from __future__ import annotations

from typing import Any

import pytest

#: The password of ``chatkit_user`` (for tests that log in through a login form).
CHATKIT_USER_PASSWORD = "chatkit-user-password"


@pytest.fixture
def chatkit_user(transactional_db: None, django_user_model: Any, django_username_field: str) -> Any:
    """A user to chat as (username ``chatkit-user``, password
    :data:`CHATKIT_USER_PASSWORD`). Override this fixture for a user model with other
    required fields."""
    name = "chatkit-user@example.com" if django_username_field == "email" else "chatkit-user"
    return django_user_model._default_manager.create_user(
        **{django_username_field: name}, password=CHATKIT_USER_PASSWORD
    )


@pytest.fixture
def chatkit_client(chatkit_user: Any) -> Any:
    """A ``ChatKitClient`` through Django's test client, logged in as ``chatkit_user``."""
    from django_chatkit.testing.sync import ChatKitClient  # only once Django is set up

    client = ChatKitClient()
    client.force_login(chatkit_user)
    return client


@pytest.fixture
def async_chatkit_client(chatkit_user: Any) -> Any:
    """An ``AsyncChatKitClient`` through Django's ``AsyncClient``, logged in as
    ``chatkit_user``."""
    from asgiref.sync import async_to_sync

    from django_chatkit.testing.client import AsyncChatKitClient  # once Django is set up

    client = AsyncChatKitClient()
    async_to_sync(client.force_login)(chatkit_user)
    return client
