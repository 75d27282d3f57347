"""The ORM-backed ChatKit ``Store``: threads, items and attachment metadata.

:class:`DjangoStore` lives in :mod:`django_chatkit.store.backend`; the rest of the package
is what it is built from (compiled statements, feedback, deletion).
"""

from django_chatkit.store.backend import DjangoStore, clamp_limit

__all__ = ["DjangoStore", "clamp_limit"]
