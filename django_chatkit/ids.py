"""Identifiers with enough entropy for a busy site, sortable by creation time.

The SDK's default ids carry 32 random bits (collisions become likely past ~100k
items). Ours are ``<prefix>_`` + 10 base32 characters of millisecond time + 16 of
randomness (80 bits): lexicographically sortable and collision-free in practice.
"""

from __future__ import annotations

import secrets
import time

from chatkit.store import NotFoundError

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by a 26-character time-ordered random id."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_base32(millis, 10)}{_base32(secrets.randbits(80), 16)}"


def findable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # lone surrogates: no database driver sends them
        return False
    return "\x00" not in value  # PostgreSQL text cannot hold NUL


def require_findable(**ids: str | None) -> None:
    """Raise ``NotFoundError`` for a client-chosen id that no row can have.

    Such ids (NUL characters pass the SDK's JSON parsing) would otherwise reach the
    database and fail there as a server error instead of a plain "not found".
    """
    for kind, value in ids.items():
        if value and not findable(value):
            raise NotFoundError(f"{kind.capitalize()} {value!r} not found")
