"""``tests.support.asgi`` with the protocol endpoint on the lean path (django_chatkit.asgi)."""

from tests.support.asgi import application as django_application  # sets up Django first

# isort: split
from django_chatkit.asgi import ChatKitRouter  # imports models: after Django's setup

application = ChatKitRouter(django_application)
