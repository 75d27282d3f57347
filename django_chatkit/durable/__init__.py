"""Durable answers: a closed tab or a reload does not lose the answer; Stop still stops.

With ``CHATKIT_DURABLE_RESPONSES = True`` (or a server's ``durable_responses = True``),
an answer whose client goes away runs on to its end and is stored: the view streams it
through a durable :class:`~django_chatkit.views.streaming.EventStream`, which a
disconnect no longer cancels. Stop is an explicit request instead (the ``{% chatkit %}``
page sends it when ChatKit aborts its fetch): ``POST threads/<id>/cancel/`` beside the
protocol endpoint, or :func:`request_cancel` from Python, reaching the worker that runs
the answer in any process.

* ``running``: the ``RunningResponse`` rows (one per thread: 409 for a second message
  while an answer runs; limits; dead workers' answers marked interrupted);
* ``worker``: this process's answers, heartbeat, cancel listener and SIGTERM grace;
* ``checkpoints``: the answer so far, saved every ``CHATKIT_CHECKPOINT_INTERVAL``;
* ``runs``: a durable request from the view's side;
* ``cancel``: :func:`request_cancel`.
"""

from django_chatkit.durable.cancel import request_cancel
from django_chatkit.durable.runs import is_durable

__all__ = ["is_durable", "request_cancel"]
