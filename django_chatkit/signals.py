"""Signals a project can connect to (sync or async receivers).

All are sent after the change is committed, with ``context`` the
:class:`ChatKitContext`. The thread and item signals are sent by
:class:`django_chatkit.store.DjangoStore`, with ``sender`` the store class. Items added
outside a request (:mod:`django_chatkit.live.updates`, staff replies) send ``item_saved`` too,
with ``sender`` ``DjangoStore`` and the thread owner's context (``request`` ``None``).

``thread_created``
    A new thread was saved. Arguments: ``thread`` (``chatkit.types.ThreadMetadata``),
    ``context``.
``thread_deleted``
    A thread, its items and its attachments were deleted. Arguments: ``thread_id``
    (the ChatKit id), ``context``.
``item_saved``
    A thread item was added or updated. Arguments: ``thread_id``, ``item``
    (``chatkit.types.ThreadItem``), ``created`` (``True`` for a new item), ``context``.
``feedback_saved``
    The user rated items (``items.feedback``), sent by
    :meth:`~django_chatkit.server.DjangoChatKitServer.add_feedback` with ``sender`` the
    server class. Arguments: ``thread_id``, ``item_ids`` (each once,
    in the order sent), ``kind`` (``"positive"`` or ``"negative"``), ``context``.
``usage_threshold_crossed``
    A user's usage reached a fraction (``CHATKIT_USAGE_THRESHOLDS``) of an allowance of
    ``CHATKIT_USAGE_LIMITS``, sent by :func:`django_chatkit.usage.record_usage` with
    ``sender`` the ``Usage`` model, once per user, allowance, period and threshold.
    Arguments: ``user``, ``scope`` (the allowance's scope, ``None`` for one counting
    every scope), ``period`` (``"day"`` or ``"month"``), ``threshold`` (e.g. ``0.8``),
    ``used`` and ``limit`` (tokens), ``context``.
"""

from django.dispatch import Signal

thread_created = Signal()
thread_deleted = Signal()
item_saved = Signal()
feedback_saved = Signal()
usage_threshold_crossed = Signal()
