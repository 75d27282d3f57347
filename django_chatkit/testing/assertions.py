"""Assertions that make ChatKit tests read as what they check."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django_chatkit.testing.results import ChatKitRefused, ChatKitResult

__all__ = ["assert_answered", "assert_refused", "refused"]


def assert_answered(result: ChatKitResult) -> ChatKitResult:
    """``result`` is a stream that was accepted and ran to its end without an ``error``
    event; returns it, to read on."""
    if not result.ok:
        raise AssertionError(f"{result.op} was refused: {result.status} {result.error_code}")
    if not result.streamed:
        raise AssertionError(f"{result.op} answered JSON, not a stream")
    if result.hung_up:
        raise AssertionError(f"{result.op}: the client hung up before the stream ended")
    if result.error is not None:
        error = result.error
        raise AssertionError(f"{result.op} streamed an error: {error.code} {error.message!r}")
    return result


def assert_refused(result: ChatKitResult, status: int, code: str | None = None) -> None:
    """The endpoint refused the request of ``result`` with ``status`` (and ``code``)."""
    if (result.status, code and result.error_code) != (status, code):
        raise AssertionError(
            f"{result.op}: expected a refusal {status} {code or ''}, got {result.status} "
            f"{result.error_code or ''} ({result.error_message or 'no message'})"
        )


@contextlib.contextmanager
def refused(status: int, code: str | None = None) -> Iterator[list[ChatKitRefused]]:
    """A block whose request must be refused with ``status`` (and ``code``)::

        with refused(404, "not_found"):
            chatkit_client.get_thread("thr_missing")

    The list it gives holds the :class:`ChatKitRefused` once the block has ended.
    """
    caught: list[ChatKitRefused] = []
    try:
        yield caught
    except ChatKitRefused as exc:
        caught.append(exc)
        if (exc.status, code and exc.code) != (status, code):
            raise AssertionError(f"expected a refusal {status} {code or ''}, got: {exc}") from exc
    else:
        raise AssertionError(f"the request was not refused (expected {status} {code or ''})")
