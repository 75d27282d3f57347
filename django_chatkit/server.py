"""``DjangoChatKitServer`` and the per-process server instance named by ``CHATKIT_SERVER``."""

from __future__ import annotations

from functools import cache

from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, Store
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import conf
from .context import ChatKitContext


class DjangoChatKitServer(ChatKitServer[ChatKitContext]):
    """A ``ChatKitServer`` that stores threads and files through Django.

    Subclass it, implement ``respond()``, and name the subclass in ``CHATKIT_SERVER``.
    ``store`` defaults to :class:`~django_chatkit.store.DjangoStore` and
    ``attachment_store`` to :class:`~django_chatkit.attachments.DjangoAttachmentStore`.
    """

    def __init__(
        self,
        store: Store[ChatKitContext] | None = None,
        attachment_store: AttachmentStore[ChatKitContext] | None = None,
    ) -> None:
        if store is None:
            from .store import DjangoStore

            store = DjangoStore()
        if attachment_store is None:
            from .attachments import DjangoAttachmentStore

            attachment_store = DjangoAttachmentStore()
        super().__init__(store, attachment_store)


def import_server_class(path: str | None) -> type[ChatKitServer[ChatKitContext]]:
    """Import the class named by ``CHATKIT_SERVER``; errors name the setting."""
    if not path:
        raise ImproperlyConfigured(
            "CHATKIT_SERVER is not set: name your ChatKitServer subclass, "
            "e.g. CHATKIT_SERVER = 'myproject.chat.MyServer'."
        )
    try:
        server_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"CHATKIT_SERVER = {path!r} could not be imported: {exc}"
        ) from exc
    if not (isinstance(server_class, type) and issubclass(server_class, ChatKitServer)):
        raise ImproperlyConfigured(
            f"CHATKIT_SERVER = {path!r} is not a subclass of chatkit.server.ChatKitServer."
        )
    return server_class


@cache
def get_server() -> ChatKitServer[ChatKitContext]:
    """The project's server, created once per process (cleared when the setting changes)."""
    return import_server_class(conf.CHATKIT_SERVER)()
