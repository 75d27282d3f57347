"""``tests.support.asgi`` plus ``get_server()``, as the README's ``asgi.py`` has it: a wrong
``CHATKIT_SERVER`` stops the server at startup instead of failing every request."""

from django_chatkit.server import get_server
from tests.support.asgi import application

get_server()

__all__ = ["application"]
