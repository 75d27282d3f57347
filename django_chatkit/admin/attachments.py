"""The admin list of uploaded files, with previews and signed download links."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.files.storage import InvalidStorageError, storages
from django.http import FileResponse, Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_chatkit.admin.mixins import AttachmentLinksMixin, user_search_fields
from django_chatkit.attachments.files import is_inline
from django_chatkit.models import (
    Attachment,
)


# ModelAdmin[Attachment] only for the type checker: ModelAdmin takes no subscript at runtime.
@admin.register(Attachment)
class AttachmentAdmin(AttachmentLinksMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Uploaded files: owner, thread, type, size, preview and download."""

    list_display = (
        "name",
        "owner",
        "thread_link",
        "type",
        "mime_type",
        "display_size",
        "preview",
        "download",
        "created_at",
    )
    list_filter = ("type", "upload_state", "created_at")
    list_select_related = ("user", "thread")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    fields = (
        "preview",
        "name",
        "chatkit_id",
        "owner",
        "scope",
        "thread_link",
        "type",
        "mime_type",
        "display_size",
        "download",
        "upload_state",
        "storage",
        "file_name",
        "uploaded_at",
        "created_at",
    )
    readonly_fields = fields
    #: Largest preview, in CSS pixels, in the list and on the detail page.
    thumbnail_size = 64
    detail_thumbnail_size = 320

    class Media:
        css = {"all": ("django_chatkit/admin/transcript.css",)}

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return ["name", "=chatkit_id", *user_search_fields()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # read-only: the form would have nothing to save

    @admin.display(description=_("owner"), ordering="user")
    def owner(self, obj: Attachment) -> str:
        return obj.user.get_username()

    @admin.display(description=_("thread"), ordering="thread")
    def thread_link(self, obj: Attachment) -> SafeString | str | None:
        if obj.thread_id is None:
            return None
        url = reverse(f"{self.admin_site.name}:django_chatkit_thread_change", args=[obj.thread_id])
        return format_html('<a href="{}">{}</a>', url, obj.thread)

    @admin.display(description=_("size"), ordering="size")
    def display_size(self, obj: Attachment) -> str | None:
        return filesizeformat(obj.size) if obj.size is not None else None

    def _thumbnail(self, obj: Attachment, size: int) -> SafeString | str | None:
        preview, _download = self.get_attachment_links(obj)
        if not preview:
            return None
        return format_html(
            '<img class="ck-thumb" src="{}" alt="{}" loading="lazy" '
            'style="max-width:{}px;max-height:{}px">',
            preview,
            obj.name,
            size,
            size,
        )

    @admin.display(description=_("preview"))
    def preview(self, obj: Attachment) -> SafeString | str | None:
        return self._thumbnail(obj, self.thumbnail_size)

    @admin.display(description=_("download"))
    def download(self, obj: Attachment) -> SafeString | str | None:
        _preview, url = self.get_attachment_links(obj)
        if not url:
            return None
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/file/",
                self.admin_site.admin_view(self.file_view),
                name="django_chatkit_attachment_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        """The attachment's bytes for a staff member with *view* permission.

        Only PNG/JPEG/GIF/WebP images are served inline (``?inline=1``); everything else is
        a download, sandboxed and never sniffed, so an uploaded HTML or SVG file cannot
        run script on the admin's origin.
        """
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("This attachment does not exist."))
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        if not obj.file_name:
            raise Http404(_("This attachment has no file."))
        try:
            handle = storages[obj.storage].open(obj.file_name, "rb")
        except (InvalidStorageError, FileNotFoundError, OSError) as exc:
            raise Http404(_("The file of this attachment is missing.")) from exc
        inline = request.GET.get("inline") == "1" and is_inline(obj)
        response = FileResponse(
            handle,
            as_attachment=not inline,
            filename=obj.name,
            content_type=obj.mime_type if inline else "application/octet-stream",
        )
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        response["X-Content-Type-Options"] = "nosniff"
        return response
