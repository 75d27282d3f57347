"""The admin side of the human hand-off: staff reply as the assistant, take threads over
and hand them back (see :mod:`django_chatkit.handoff`).

:class:`HandoffAdminMixin` adds ``<thread>/reply/`` to a thread ``ModelAdmin``. Only staff
who may view the thread *and* hold ``django_chatkit.reply_as_assistant`` get there. A
reply is stored as an assistant message and pushed to the user's open chat at once
(:func:`django_chatkit.live.add_assistant_message`); each reply and each change of who
handles the thread is recorded in the thread's admin history.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_chatkit.handoff import set_handled_by_human
from django_chatkit.live.updates import add_assistant_message
from django_chatkit.models import Thread, ThreadItem


class ThreadReplyForm(forms.Form):
    """A reply as the assistant, and who handles the thread afterwards.

    The checkbox starts in the thread's real state: a reply leaves the thread with whoever
    handles it, and taking it over (or handing it back) is a click of its own. The state
    the form showed travels with it (``shown_handled_by_human``), so a form opened before
    a colleague took the thread over (or handed it back) does not silently undo that: only
    a checkbox the staff member changed changes the thread. A post without that field (a
    script) sets the state the checkbox says.
    """

    message = forms.CharField(
        label=gettext_lazy("Reply as the assistant"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )
    handled_by_human = forms.BooleanField(required=False)
    shown_handled_by_human = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, thread: Thread, **kwargs: Any) -> None:
        self.thread = thread
        super().__init__(*args, **kwargs)
        handled = thread.handled_by_human
        self.fields["handled_by_human"].initial = handled
        self.fields["shown_handled_by_human"].initial = handled
        self.fields["handled_by_human"].label = (
            _("Handled by a human: keep it (untick to hand the thread back to the assistant)")
            if handled
            else _("Take the thread over: a human handles it (the assistant stops answering)")
        )

    def wanted_handled_by_human(self) -> bool:
        """Who should handle the thread once the form is saved (after ``is_valid()``)."""
        handled = bool(self.cleaned_data.get("handled_by_human"))
        if "shown_handled_by_human" not in self.data:
            return handled
        shown = bool(self.cleaned_data.get("shown_handled_by_human"))
        return handled if handled != shown else self.thread.handled_by_human

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("message") and (
            self.wanted_handled_by_human() == self.thread.handled_by_human
        ):
            raise forms.ValidationError(
                _("Write a reply, or change whether a human handles the thread.")
            )
        return data


class HandoffAdminMixin:
    """Adds the staff reply page to a ``ModelAdmin`` of :class:`~django_chatkit.models.Thread`."""

    #: Template of the reply page.
    reply_template = "admin/django_chatkit/thread/reply.html"
    reply_form_class = ThreadReplyForm
    #: Recent items shown above the form on the reply page.
    reply_context_items = 10
    #: The permission that lets staff reply (besides *view* on the thread).
    reply_permission = "django_chatkit.reply_as_assistant"

    admin_site: Any
    opts: Any

    def get_urls(self) -> list[Any]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_reply"
        return [
            path("<path:object_id>/reply/", self.admin_site.admin_view(self.reply_view), name=name),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def has_reply_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        """Whether ``request.user`` may reply as the assistant (and take ``obj`` over)."""
        return request.user.has_perm(self.reply_permission)

    def reply_url(self, obj: Thread) -> str:
        info = self.opts.app_label, self.opts.model_name
        return reverse(f"{self.admin_site.name}:{info[0]}_{info[1]}_reply", args=[quote(obj.pk)])

    def handoff_context(self, request: HttpRequest, obj: Thread) -> dict[str, Any]:
        """Template context for the hand-off box of the thread page."""
        can_reply = self.has_reply_permission(request, obj)
        return {
            "handoff_can_reply": can_reply,
            "handoff_form": self.reply_form_class(thread=obj) if can_reply else None,
            "handoff_url": self.reply_url(obj),
        }

    def reply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        if not (
            self.has_view_or_change_permission(request, obj)  # type: ignore[attr-defined]
            and self.has_reply_permission(request, obj)
        ):
            raise PermissionDenied
        if request.method == "POST":
            form = self.reply_form_class(request.POST, thread=obj)
            if form.is_valid():
                self.save_reply(request, obj, form)
                change_url = reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[quote(obj.pk)],
                )
                return HttpResponseRedirect(f"{change_url}?page=last#ck-handoff")
        else:
            form = self.reply_form_class(thread=obj)
        recent = list(
            ThreadItem.objects.filter(thread_id=obj.pk)
            .order_by("-created_at", "-pk")
            .only("type", "created_at", "text")[: self.reply_context_items]
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reply to %(thread)s") % {"thread": obj},
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": obj,
            "thread": obj,
            "form": form,
            "recent_items": recent[::-1],
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.reply_template, context)

    def save_reply(self, request: HttpRequest, obj: Thread, form: ThreadReplyForm) -> None:
        """Store the reply and the hand-off state; both reach open chats after commit."""
        text = form.cleaned_data["message"]
        handled = form.wanted_handled_by_human()
        with transaction.atomic():
            changed = set_handled_by_human(obj, handled)
            item = add_assistant_message(obj, text) if text else None
        if changed:
            self.log_change(  # type: ignore[attr-defined]
                request,
                obj,
                "Handled by a human" if handled else "Handed back to the assistant",
            )
        if item is not None:
            self.log_change(  # type: ignore[attr-defined]
                request, obj, f"Replied as the assistant ({item.id})"
            )
        if handled:
            state = _("Handled by a human: the assistant does not answer this thread.")
        else:
            state = _("The assistant answers this thread.")
        if item is not None:
            state = _("Your reply was sent. %(state)s") % {"state": state}
        self.message_user(request, state, messages.SUCCESS)  # type: ignore[attr-defined]
