"""Stop: ``POST threads/<thread_id>/cancel/`` beside the protocol endpoint.

With durable answers (:mod:`django_chatkit.durable`) a disconnect no longer cancels an
answer, so the ``{% chatkit %}`` page sends this when ChatKit aborts its fetch (the Stop
button), and ``manage.py chatkit_chat`` on Ctrl-C. Authenticated like the endpoint
(session cookie and CSRF header, or the project's ``get_context()``); only the thread's
owner may stop it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from django_chatkit.db import run_db
from django_chatkit.durable import request_cancel
from django_chatkit.exceptions import NotFound, failure_response
from django_chatkit.ids import findable
from django_chatkit.managers import Owner
from django_chatkit.models import Thread
from django_chatkit.views.endpoint import ChatKitView


def owned_thread(owner: Owner, thread_id: str) -> Thread:
    thread = Thread.objects.owned_by(owner).filter(chatkit_id=thread_id).first()
    if thread is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread


class CancelResponseView(ChatKitView):
    """Cancel the running answer of one of the user's threads.

    Answers ``{"cancelled": true}`` when the worker running it was told (it saves the
    partial answer and the SDK's "cancelled" note), ``{"cancelled": false}`` when no
    answer runs there; ``404`` for a missing or foreign thread.
    """

    async def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            context = await self.authenticate(request)
            thread_id = str(kwargs.get("thread_id", ""))
            if not findable(thread_id):
                raise NotFound(f"Thread {thread_id!r} not found")
            thread = await run_db(owned_thread, Owner.of(context), thread_id)
            return JsonResponse({"cancelled": await request_cancel(thread)})
        except Exception as exc:
            return failure_response(exc, "ChatKit cancel failed")
