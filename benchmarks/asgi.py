"""ASGI applications of the Django stacks, set up as the README recommends for production.

``application``: Django's handler for every request (stacks b, c and f).
``lean_application``: the same project behind :class:`~django_chatkit.asgi.ChatKitRouter`,
the lean path (stacks b' and c'): ``POST`` to the ChatKit endpoint goes straight to
its view, everything else to ``application``.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

application = get_asgi_application()

from django_chatkit.asgi import ChatKitRouter  # noqa: E402
from django_chatkit.server import get_server  # noqa: E402

lean_application = ChatKitRouter(application)

get_server()  # the server and its imports at startup, not on the first request
gc.freeze()  # full collections skip what startup loaded (pauses of 126-166 ms otherwise)
