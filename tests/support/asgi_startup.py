"""``tests.support.asgi`` plus ``get_server()``, as the README's ``asgi.py`` has it: a wrong
``CHATKIT_SERVER`` stops the server at startup instead of failing every request."""

from tests.support.asgi import application  # sets Django up: before code that imports models

# isort: split
from django_chatkit.server import get_server

get_server()

__all__ = ["application"]
