"""``DjangoAttachmentStore``: ChatKit attachments on Django's storage API.

Bytes live in the storage named by ``CHATKIT_ATTACHMENT_STORAGE`` (an alias of
``STORAGES``) under a random path the server chooses; the client's file name is only
metadata. Every attachment belongs to the user (and scope) of the context that created
it: another user's id behaves exactly like a missing one.

Uploads arrive in one of three ways, all checked the same way (size limit, allow-list,
content matching the declared type):

``direct``
    ``POST`` multipart ``file`` to the upload view (:meth:`DjangoAttachmentStore.upload`),
    authenticated like the endpoint (session cookie and CSRF header).
``two_phase``
    ``attachments.create`` (:meth:`~DjangoAttachmentStore.create_attachment`) returns an
    ``upload_descriptor`` whose URL points at our upload view for that attachment only:
    signed, expiring after ``CHATKIT_UPLOAD_URL_MAX_AGE`` and usable once
    (:meth:`~DjangoAttachmentStore.receive_upload`).
two-phase, presigned
    with ``CHATKIT_S3_PRESIGNED_UPLOADS`` and an ``S3Storage``, the descriptor is a
    presigned S3 ``PUT`` instead: the bytes never pass through Django, and are verified
    (size, content) the first time the attachment is previewed or sent in a message.
    The ``PUT`` writes to a staging key; finalizing copies the object to the key it is
    served from, so the URL, which S3 cannot make single-use, changes nothing after.

Previews and downloads go through signed URLs (see ``attachments/files.py``).
"""

from __future__ import annotations

import secrets
from typing import IO, Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.store import AttachmentStore, NotFoundError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from django_chatkit.attachments.files import (
    absolute_url,
    check_upload,
    completed,
    display_name,
    file_url,
    is_s3,
    new_file_name,
    new_staging_name,
    presigned_put,
    read_upload_token,
    refresh_attachment,
    save_file,
    too_large,
    upload_url,
)
from django_chatkit.attachments.sniff import (
    IMAGE_TYPES,
    extensions,
    guess_mime_type,
    is_allowed,
    normalize_mime_type,
)
from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.exceptions import (
    AttachmentRejected,
    UnsupportedAttachmentType,
    UploadForbidden,
    UploadURLUsed,
)
from django_chatkit.ids import new_id, require_findable
from django_chatkit.managers import Owner
from django_chatkit.models import Attachment, UploadState
from django_chatkit.ratelimit import check_upload_rate_limit

__all__ = [
    "DjangoAttachmentStore",
    "composer_attachments",
    "upload_strategy",
]


def upload_strategy(request: HttpRequest | None = None) -> dict[str, str]:
    """The ``api.uploadStrategy`` option of the ChatKit widget, from the settings.

    ``{"type": "direct", "uploadUrl": <absolute URL of the upload view>}`` or
    ``{"type": "two_phase"}``.
    """
    strategy = conf.CHATKIT_UPLOAD_STRATEGY
    if strategy == "two_phase":
        return {"type": "two_phase"}
    if strategy == "direct":
        path = reverse("django_chatkit:attachment-upload")
        return {"type": "direct", "uploadUrl": absolute_url(path, request)}
    raise ImproperlyConfigured(
        f"CHATKIT_UPLOAD_STRATEGY = {strategy!r}: use 'direct' or 'two_phase'."
    )


def composer_attachments() -> dict[str, Any]:
    """The ``composer.attachments`` option of the ChatKit widget, from the settings: the
    client refuses what the server would refuse, before uploading it."""
    accept = {
        mime_type: extensions(mime_type) for mime_type in conf.CHATKIT_ATTACHMENT_ALLOWED_TYPES
    }
    return {
        "enabled": True,
        "maxSize": conf.CHATKIT_ATTACHMENT_MAX_BYTES,
        "maxCount": conf.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE,
        "accept": accept,
    }


def _allowed_type(mime_type: str) -> str:
    if not is_allowed(mime_type, conf.CHATKIT_ATTACHMENT_ALLOWED_TYPES):
        raise UnsupportedAttachmentType(
            f"Files of type {mime_type or 'unknown'} cannot be attached."
        )
    return mime_type


def _build(
    attachment_id: str,
    name: str,
    mime_type: str,
    pk: int,
    request: HttpRequest | None,
    descriptor: ck.AttachmentUploadDescriptor | None = None,
) -> ck.Attachment:
    if mime_type in IMAGE_TYPES:
        return ck.ImageAttachment(
            id=attachment_id,
            name=name,
            mime_type=mime_type,
            preview_url=file_url(pk, request),  # type: ignore[arg-type]
            upload_descriptor=descriptor,
        )
    return ck.FileAttachment(
        id=attachment_id, name=name, mime_type=mime_type, upload_descriptor=descriptor
    )


class DjangoAttachmentStore(AttachmentStore[ChatKitContext]):
    """Stores attachment bytes in a Django storage (a ``STORAGES`` alias).

    ``storage`` overrides ``CHATKIT_ATTACHMENT_STORAGE`` for this store. Each row records
    the alias its bytes were written to, so changing the setting later keeps old files
    readable.
    """

    def __init__(self, storage: str | None = None) -> None:
        self._storage = storage

    @property
    def storage_alias(self) -> str:
        return self._storage or conf.CHATKIT_ATTACHMENT_STORAGE

    def get_storage(self) -> Storage:
        return storages[self.storage_alias]

    def generate_attachment_id(self, mime_type: str, context: ChatKitContext) -> str:
        return new_id("atc")

    # two-phase -------------------------------------------------------------------------

    async def create_attachment(
        self, input: ck.AttachmentCreateParams, context: ChatKitContext
    ) -> ck.Attachment:
        """Register an attachment and return where to upload its bytes.

        Refuses (:class:`AttachmentRejected`) what the upload would refuse anyway: a
        declared size over the limit (413) or a type off the allow-list (415); then
        counts one upload against ``CHATKIT_UPLOAD_RATE_LIMIT`` (``RateLimited``, 429).
        """
        owner = Owner.of(context)
        request = context.request
        name = display_name(input.name)
        mime_type = _allowed_type(normalize_mime_type(input.mime_type))
        if input.size > conf.CHATKIT_ATTACHMENT_MAX_BYTES:
            raise too_large(input.size)
        if input.size < 0:
            raise AttachmentRejected("The size cannot be negative.")
        await check_upload_rate_limit(context.user)  # last: a refused request is not counted
        alias = self.storage_alias
        storage = storages[alias]
        presigned = conf.CHATKIT_S3_PRESIGNED_UPLOADS and is_s3(storage)
        attachment_id = self.generate_attachment_id(mime_type, context)
        # A presigned PUT writes to a staging key: finalizing copies it to the key served.
        file_name = new_staging_name() if presigned else ""
        nonce = "" if presigned else secrets.token_urlsafe(24)

        def create() -> ck.Attachment:
            with transaction.atomic():
                row = Attachment.objects.create(
                    **owner.columns(),
                    chatkit_id=attachment_id,
                    type="image" if mime_type in IMAGE_TYPES else "file",
                    name=name,
                    mime_type=mime_type,
                    size=input.size,
                    storage=alias,
                    file_name=file_name,
                    upload_state=UploadState.PRESIGNED if presigned else UploadState.PENDING,
                    upload_nonce=nonce,
                    payload="{}",
                )
                if presigned:
                    descriptor = ck.AttachmentUploadDescriptor(
                        url=presigned_put(storage, file_name, mime_type),  # type: ignore[arg-type]
                        method="PUT",
                        headers={"Content-Type": mime_type},
                    )
                else:
                    descriptor = ck.AttachmentUploadDescriptor(
                        url=upload_url(row.pk, attachment_id, nonce, request),  # type: ignore[arg-type]
                        method="POST",
                    )
                attachment = _build(attachment_id, name, mime_type, row.pk, request, descriptor)
                row.set_attachment(attachment)
                row.save(update_fields=["payload"])
                return attachment

        return await run_db(create)

    async def receive_upload(
        self,
        attachment_id: str,
        token: str,
        content: IO[bytes],
        size: int,
        request: HttpRequest | None = None,
    ) -> ck.Attachment:
        """Store the bytes sent to a two-phase upload URL.

        The URL is the credential: its signature binds the attachment row and a nonce,
        it expires after ``CHATKIT_UPLOAD_URL_MAX_AGE`` and the nonce is cleared by the
        upload that succeeds (a refused file leaves the URL usable until it expires). A
        request logged in as somebody else than the owner is refused.
        """
        pk, nonce = read_upload_token(token)  # UploadURLExpired, InvalidUploadURL (403)
        row = await run_db(
            lambda: Attachment.objects.filter(pk=pk, chatkit_id=attachment_id).first()
        )
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        if request is not None:
            user = await request.auser()
            if user.is_authenticated and user.pk != row.user_id:
                raise UploadForbidden()
        if row.upload_state != UploadState.PENDING or not constant_time_compare(
            row.upload_nonce, nonce
        ):
            raise UploadURLUsed()

        storage = storages[row.storage]

        def store() -> tuple[str, str]:
            mime_type = check_upload(content, size, row.mime_type)
            name = save_file(storage, new_file_name(mime_type), content, mime_type)
            return mime_type, name

        mime_type, stored = await sync_to_async(store, thread_sensitive=False)()
        attachment = completed(row.to_chatkit(), mime_type)

        def commit() -> int:
            return Attachment.objects.filter(
                pk=row.pk, upload_state=UploadState.PENDING, upload_nonce=nonce
            ).update(
                file_name=stored,
                size=size,
                mime_type=mime_type,
                uploaded_at=timezone.now(),
                upload_state=UploadState.COMPLETE,
                upload_nonce="",
                payload=attachment.model_dump_json(),
            )

        if not await run_db(commit):  # a concurrent upload with the same URL won
            await sync_to_async(storage.delete, thread_sensitive=False)(stored)
            raise UploadURLUsed()
        return refresh_attachment(attachment, request)

    # direct ----------------------------------------------------------------------------

    async def upload(
        self,
        content: IO[bytes],
        context: ChatKitContext,
        *,
        name: str | None,
        mime_type: str | None,
        size: int,
    ) -> ck.Attachment:
        """Check and store an uploaded file, record it, and return its attachment.

        ``mime_type`` is what the client declared (the file name's type when it
        declares none). Counts one upload against ``CHATKIT_UPLOAD_RATE_LIMIT``
        (``RateLimited``, 429) once the declared type is allowed, before the bytes are
        checked. The caller saves the result with ``Store.save_attachment``.
        """
        owner = Owner.of(context)
        request = context.request
        display = display_name(name)
        declared = normalize_mime_type(mime_type)
        if declared in ("", "application/octet-stream"):
            declared = guess_mime_type(display) or declared
        _allowed_type(declared)
        # Before the bytes are checked and stored: the limit protects the storage.
        await check_upload_rate_limit(context.user)
        alias = self.storage_alias
        storage = storages[alias]

        def store() -> tuple[str, str]:
            verified = _allowed_type(check_upload(content, size, declared))
            return verified, save_file(storage, new_file_name(verified), content, verified)

        verified, stored = await sync_to_async(store, thread_sensitive=False)()
        attachment_id = self.generate_attachment_id(verified, context)

        def create() -> ck.Attachment:
            with transaction.atomic():
                row = Attachment.objects.create(
                    **owner.columns(),
                    chatkit_id=attachment_id,
                    type="image" if verified in IMAGE_TYPES else "file",
                    name=display,
                    mime_type=verified,
                    size=size,
                    storage=alias,
                    file_name=stored,
                    uploaded_at=timezone.now(),
                    upload_state=UploadState.COMPLETE,
                    payload="{}",
                )
                attachment = _build(attachment_id, display, verified, row.pk, request)
                row.set_attachment(attachment)
                row.save(update_fields=["payload"])
                return attachment

        try:
            return await run_db(create)
        except BaseException:
            await sync_to_async(storage.delete, thread_sensitive=False)(stored)
            raise

    # reading and deleting ----------------------------------------------------------------

    async def read_bytes(self, attachment_id: str, context: ChatKitContext) -> bytes:
        """The bytes of the context's own, uploaded attachment (``NotFoundError`` else)."""
        owner = Owner.of(context)
        require_findable(attachment=attachment_id)

        def read() -> bytes:
            row = (
                Attachment.objects.owned_by(owner)
                .filter(chatkit_id=attachment_id)
                .exclude(file_name="")
                .exclude(upload_state__in=[UploadState.PENDING, UploadState.PRESIGNED])
                .only("storage", "file_name")
                .first()
            )
            if row is None:
                raise NotFoundError(f"Attachment {attachment_id} not found")
            try:
                with storages[row.storage].open(row.file_name, "rb") as handle:
                    data = handle.read(conf.CHATKIT_ATTACHMENT_MAX_BYTES + 1)
            except FileNotFoundError:
                raise NotFoundError(f"Attachment {attachment_id} has no bytes") from None
            if len(data) > conf.CHATKIT_ATTACHMENT_MAX_BYTES:
                raise too_large(len(data))
            return data

        return await run_db(read)

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        """Delete the bytes of the context's own attachment (``NotFoundError`` for a
        missing or foreign id, before anything is touched). The SDK then deletes the row
        with ``Store.delete_attachment``."""
        owner = Owner.of(context)
        require_findable(attachment=attachment_id)

        def delete() -> None:
            row = (
                Attachment.objects.owned_by(owner)
                .filter(chatkit_id=attachment_id)
                .only("pk", "storage", "file_name")
                .first()
            )
            if row is None:
                raise NotFoundError(f"Attachment {attachment_id} not found")
            if row.file_name:
                storages[row.storage].delete(row.file_name)
                Attachment.objects.filter(pk=row.pk).update(file_name="")

        await run_db(delete)
