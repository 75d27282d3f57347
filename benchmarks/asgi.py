"""ASGI application of stacks (b) and (c), set up as the README recommends for production."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

application = get_asgi_application()

from django_chatkit.server import get_server  # noqa: E402

get_server()  # the server and its imports at startup, not on the first request
gc.freeze()  # full collections skip what startup loaded (pauses of 126-166 ms otherwise)
