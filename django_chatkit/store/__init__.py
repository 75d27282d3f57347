"""The ORM-backed ChatKit ``Store``: threads, items and attachment metadata.

:class:`DjangoStore` lives in :mod:`django_chatkit.store.backend`; the rest of the package
is what it is built from: the compiled statements (``statements``, ``queries``), the
write paths of items (``items``) and feedback (``feedback``), thread deletion
(``deletion``) and what a request already read (``reads``).
"""

from django_chatkit.store.backend import DjangoStore, clamp_limit

__all__ = ["DjangoStore", "clamp_limit"]
