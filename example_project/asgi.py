import gc
import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

django_asgi_app = get_asgi_application()  # before importing code that uses models

from django_chatkit.asgi import ChatKitRouter  # noqa: E402
from django_chatkit.routing import websocket_urlpatterns  # noqa: E402
from django_chatkit.server import get_server  # noqa: E402

# Production habits (README, "Production notes"): import the ChatKit server and its agent
# libraries now rather than on the first request, then keep the ~200,000 objects loaded
# at startup out of the garbage collector's full passes (each one paused the worker for
# 126-166 ms on the benchmark machine).
get_server()
gc.freeze()

application = ProtocolTypeRouter(
    {
        # The protocol endpoint on the lean path (README, "Production notes"): its POSTs
        # go straight to ChatKitView, past the middleware; everything else to Django.
        "http": ChatKitRouter(django_asgi_app),
        # Live updates (django_chatkit.live): session-authenticated, same-origin sockets.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
