"""The ``--older-than AGE`` option of every ``chatkit_*`` command, parsed in one place.

An age is a number and a unit: ``30s``, ``90m``, ``24h``, ``90d``, ``2w`` (decimals such
as ``1.5h`` are fine). A bare number is refused: ``90`` would be days to one reader and
seconds to another, and these commands delete data.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.management.base import CommandError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
HELP = "a number and a unit s, m, h, d or w (e.g. 90m, 24h, 90d, 2w)"
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_age(text: str, option: str = "--older-than") -> timedelta:
    """``"24h"`` as ``timedelta(hours=24)``; a ``CommandError`` naming ``option`` for
    anything else (no unit, an unknown unit, zero, a negative or non-numeric value)."""
    match = _AGE.match(str(text))
    if not match:
        raise CommandError(f"{option} {text!r} is not an age: use {HELP}.")
    number, unit = match[1], match[2].lower()
    if not unit:
        raise CommandError(
            f"{option} {text!r} has no unit: write {number}d for {number} days "
            f"(or {number}w, {number}h, {number}m, {number}s)."
        )
    if unit not in UNITS:
        raise CommandError(f"{option} {text!r} has an unknown unit {unit!r}: use {HELP}.")
    age = timedelta(seconds=float(number) * UNITS[unit])
    if not age:
        raise CommandError(f"{option} {text!r} must be more than zero.")
    return age
