"""WebSocket routes of django_chatkit, for the project's ``asgi.py``.

Include them next to the HTTP application, inside ``AuthMiddlewareStack`` (the socket
authenticates with the session)::

    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()  # first: it sets up Django

    from django_chatkit.routing import websocket_urlpatterns

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    })

The socket is served at ``/chatkit/live/``; to serve it elsewhere, route
:class:`~django_chatkit.live.consumers.LiveUpdatesConsumer` yourself and set
``CHATKIT_LIVE_URL`` to that path (the template tag reads it).
"""

from django.urls import path

from django_chatkit.live.consumers import LiveUpdatesConsumer

websocket_urlpatterns = [
    path("chatkit/live/", LiveUpdatesConsumer.as_asgi(), name="chatkit-live"),
]
