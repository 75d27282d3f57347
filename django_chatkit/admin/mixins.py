"""What the thread and attachment admins share: owner search fields and signed file links."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.http import (
    HttpRequest,
)
from django.urls import NoReverseMatch, reverse

from django_chatkit.attachments.files import file_token, is_inline
from django_chatkit.models import (
    Attachment,
)


def user_search_fields(prefix: str = "user__") -> list[str]:
    """Search fields for the owner: the user model's username field and email field."""
    user_model = get_user_model()
    fields = [f"{prefix}{user_model.USERNAME_FIELD}"]
    email = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(email)
    except FieldDoesNotExist:
        pass
    else:
        if email != user_model.USERNAME_FIELD:
            fields.append(f"{prefix}{email}")
    return fields


def signed_file_url(attachment: Attachment, request: HttpRequest | None = None) -> str | None:
    """The signed, expiring URL of ``attachment``'s bytes served by ``django_chatkit.urls``
    (absolute when ``request`` is given), or ``None`` if those URLs are not mounted."""
    try:
        path = reverse(
            "django_chatkit:attachment-file", kwargs={"token": file_token(attachment.pk)}
        )
    except NoReverseMatch:
        return None
    return request.build_absolute_uri(path) if request is not None else path


class AttachmentLinksMixin:
    """How the admin links to attachment bytes (override :meth:`get_attachment_links`)."""

    admin_site: admin.AdminSite

    def get_attachment_links(
        self, attachment: Attachment, request: HttpRequest | None = None
    ) -> tuple[str | None, str | None]:
        """``(preview_url, download_url)`` of ``attachment``; ``None`` where there is none.

        Signed, expiring URLs of the attachment views (the ones ChatKit uses), so links
        copied out of the admin stop working after ``CHATKIT_ATTACHMENT_URL_MAX_AGE``.
        Where ``django_chatkit.urls`` is not mounted, the attachment admin's own file
        view, which checks the staff member's *view* permission on each request. A
        preview only for verified raster images (never SVG or HTML, which could run
        script).
        """
        if not attachment.file_name:
            return None, None
        url = signed_file_url(attachment, request)
        if url is None:
            url = reverse(
                f"{self.admin_site.name}:django_chatkit_attachment_file", args=[attachment.pk]
            )
            preview = f"{url}?inline=1" if is_inline(attachment) else None
            return preview, url
        return (url if is_inline(attachment) else None), url
