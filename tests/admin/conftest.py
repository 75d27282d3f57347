"""The admin tests' logged-in clients (users from ``tests.support.factories``)."""

import pytest

from tests.support.factories import make_user


@pytest.fixture
def superuser_client(client, db):
    client.force_login(make_user("root", superuser=True))
    return client


@pytest.fixture
def viewer_client(client, db):
    """Staff with the two view permissions only."""
    client.force_login(make_user("viewer", staff=True, perms=("view_thread", "view_attachment")))
    return client
