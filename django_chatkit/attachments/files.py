"""Attachment bytes: storage paths, signed URLs, content checks and S3 specifics.

Three kinds of signed tokens (``django.core.signing``, keyed by ``SECRET_KEY``):

* file tokens ``{"p": <row pk>}`` (salt ``FILE_SALT``) in preview/download URLs, valid
  ``CHATKIT_ATTACHMENT_URL_MAX_AGE`` seconds. The store re-signs them whenever it loads
  an attachment or a thread's items, so a stored ``preview_url`` never goes stale.
* upload tokens ``{"p": <row pk>, "n": <nonce>}`` (salt ``UPLOAD_SALT``) in two-phase
  upload URLs, valid ``CHATKIT_UPLOAD_URL_MAX_AGE`` seconds and usable once: the nonce is
  also stored on the row and cleared, atomically, by the upload that uses it.

Storage paths are chosen here, never taken from the client: a prefix, the month and 128
random bits, plus the extension of the *verified* type.

Presigned S3 uploads write to a *staging* key (``<prefix>/staging/<random>``), never to
the key a file is served from: S3 cannot make a presigned ``PUT`` single-use, so when
the upload is finalized (:func:`finalize_presigned`) the object is copied to a fresh
final key, verified there, and the staging object deleted. A later ``PUT`` to the old
URL only recreates a staging object nothing serves; ``chatkit_cleanup`` deletes those
(:func:`staging_leftovers`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from functools import cache
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.store import NotFoundError
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from pydantic import AnyUrl

from django_chatkit.attachments.sniff import (
    HEAD_BYTES,
    IMAGE_TYPES,
    ContentMismatch,
    extensions,
    is_text_type,
    verify_content,
)
from django_chatkit.conf import conf
from django_chatkit.db import run_db
from django_chatkit.exceptions import (
    AttachmentRejected,
    AttachmentTooLarge,
    FileURLExpired,
    InvalidFileURL,
    InvalidUploadURL,
    UnsupportedAttachmentType,
    UploadURLExpired,
)
from django_chatkit.models import Attachment, UploadState

logger = logging.getLogger("django_chatkit")

FILE_SALT = "django_chatkit.attachments.file"
UPLOAD_SALT = "django_chatkit.attachments.upload"
CHUNK_SIZE = 64 * 1024


def too_large(size: int | None = None) -> AttachmentTooLarge:
    limit = conf.CHATKIT_ATTACHMENT_MAX_BYTES
    return AttachmentTooLarge(f"Attachments may be at most {limit} bytes.")


# paths and names ---------------------------------------------------------------------


def _below_prefix(name: str) -> str:
    prefix = conf.CHATKIT_ATTACHMENT_PATH_PREFIX.strip("/")
    return f"{prefix}/{name}" if prefix else name


def new_file_name(mime_type: str) -> str:
    """A fresh, unguessable storage path for a file of ``mime_type``."""
    extension = next(iter(extensions(mime_type)), "")
    return _below_prefix(f"{timezone.now():%Y/%m}/{secrets.token_hex(16)}{extension}")


STAGING_DIR = "staging"


def staging_dir() -> str:
    """The folder presigned uploads write to (below ``CHATKIT_ATTACHMENT_PATH_PREFIX``)."""
    return _below_prefix(STAGING_DIR)


def new_staging_name() -> str:
    """A fresh, unguessable staging path for a presigned upload."""
    return f"{staging_dir()}/{secrets.token_hex(16)}"


def is_staging_name(name: str) -> bool:
    """Is ``name`` a staging path (rows from before staging keys hold a final path)?"""
    return name.rpartition("/")[0].rpartition("/")[2] == STAGING_DIR


def display_name(value: str | None, fallback: str = "file") -> str:
    """The client's file name reduced to something safe to show: its last path
    component, without control characters, at most 255 characters."""
    name = (value or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:255] or fallback


# URLs --------------------------------------------------------------------------------


def absolute_url(path: str, request: HttpRequest | None) -> str:
    """``path`` as an absolute URL: from the request (proxy-aware through Django's
    ``USE_X_FORWARDED_HOST``/``SECURE_PROXY_SSL_HEADER``), else ``CHATKIT_ATTACHMENT_BASE_URL``."""
    if request is not None:
        return request.build_absolute_uri(path)
    base = conf.CHATKIT_ATTACHMENT_BASE_URL
    if not base:
        raise ImproperlyConfigured(
            "Attachment URLs are built outside a request (ChatKitContext.request is None): "
            "set CHATKIT_ATTACHMENT_BASE_URL, e.g. 'https://chat.example.com'."
        )
    return base.rstrip("/") + path


def file_token(pk: int) -> str:
    return signing.dumps({"p": pk}, salt=FILE_SALT)


def file_url(pk: int, request: HttpRequest | None) -> str:
    """The signed, expiring preview/download URL of attachment row ``pk``."""
    path = reverse("django_chatkit:attachment-file", kwargs={"token": file_token(pk)})
    return absolute_url(path, request)


def read_file_token(token: str) -> int:
    """The row pk of a file token; :class:`~django_chatkit.exceptions.FileURLExpired`
    when too old, :class:`~django_chatkit.exceptions.InvalidFileURL` when forged (403)."""
    try:
        data = signing.loads(token, salt=FILE_SALT, max_age=conf.CHATKIT_ATTACHMENT_URL_MAX_AGE)
        return int(data["p"])
    except signing.SignatureExpired:
        raise FileURLExpired() from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidFileURL() from None


def upload_url(pk: int, attachment_id: str, nonce: str, request: HttpRequest | None) -> str:
    token = signing.dumps({"p": pk, "n": nonce}, salt=UPLOAD_SALT)
    path = reverse(
        "django_chatkit:attachment-upload-url",
        kwargs={"attachment_id": attachment_id, "token": token},
    )
    return absolute_url(path, request)


def read_upload_token(token: str) -> tuple[int, str]:
    """The row pk and nonce of an upload token;
    :class:`~django_chatkit.exceptions.UploadURLExpired` when too old,
    :class:`~django_chatkit.exceptions.InvalidUploadURL` when forged (403)."""
    try:
        data = signing.loads(token, salt=UPLOAD_SALT, max_age=conf.CHATKIT_UPLOAD_URL_MAX_AGE)
        return int(data["p"]), str(data["n"])
    except signing.SignatureExpired:
        raise UploadURLExpired() from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidUploadURL() from None


def _resign(url: str, request: HttpRequest | None) -> str:
    """``url`` with its file token (if it has one of ours) signed anew."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index, segment in enumerate(segments):
        if segment.count(":") != 2:
            continue
        try:
            data = signing.loads(segment, salt=FILE_SALT)
        except signing.BadSignature:
            continue
        segments[index] = file_token(int(data["p"]))
        path = "/".join(segments)
        if request is not None:
            return request.build_absolute_uri(path)
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))
    return url


def refresh_attachment(attachment: ck.Attachment, request: HttpRequest | None) -> ck.Attachment:
    """The attachment with a freshly signed ``preview_url`` (other URLs are left alone)."""
    if not isinstance(attachment, ck.ImageAttachment):
        return attachment
    old = str(attachment.preview_url)
    new = _resign(old, request)
    if new == old:
        return attachment
    return attachment.model_copy(update={"preview_url": AnyUrl(new)})


def refresh_items(items: Sequence[ck.ThreadItem], request: HttpRequest | None) -> None:
    """Re-sign, in place, the preview URLs of the attachments of user messages."""
    for item in items:
        if isinstance(item, ck.UserMessageItem) and item.attachments:
            item.attachments = [refresh_attachment(a, request) for a in item.attachments]


# storages ----------------------------------------------------------------------------


@cache
def _s3_storage_class() -> type | None:
    try:
        from storages.backends.s3 import S3Storage
    except (ImportError, ImproperlyConfigured):
        return None
    return S3Storage


def is_s3(storage: Storage) -> bool:
    """Is ``storage`` django-storages' ``S3Storage`` (or a subclass)?"""
    s3 = _s3_storage_class()
    return s3 is not None and isinstance(storage, s3)


def _s3_key(storage: Any, name: str) -> str:
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


def copy_object(storage: Any, source: str, target: str) -> None:
    """Copy an S3 object inside its bucket (content type included); a missing source
    raises ``FileNotFoundError``."""
    from botocore.exceptions import ClientError  # here: botocore comes with the s3 extra

    try:
        storage.bucket.Object(_s3_key(storage, target)).copy_from(
            CopySource={"Bucket": storage.bucket_name, "Key": _s3_key(storage, source)}
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise FileNotFoundError(source) from None
        raise


def presigned_put(storage: Any, name: str, mime_type: str) -> str:
    """A presigned ``PUT`` URL for ``name``; the ``Content-Type`` is part of the signature."""
    return storage.bucket.meta.client.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": storage.bucket_name,
            "Key": _s3_key(storage, name),
            "ContentType": mime_type,
        },
        ExpiresIn=conf.CHATKIT_UPLOAD_URL_MAX_AGE,
        HttpMethod="PUT",
    )


def presigned_get(storage: Any, name: str, mime_type: str, disposition: str, expire: int) -> str:
    """A presigned ``GET`` URL that answers with our ``Content-Type`` and disposition."""
    return storage.url(
        name,
        parameters={"ResponseContentType": mime_type, "ResponseContentDisposition": disposition},
        expire=expire,
    )


def served_type(mime_type: str) -> str:
    """The ``Content-Type`` a file is served with (verified UTF-8 text says so)."""
    return f"{mime_type}; charset=utf-8" if is_text_type(mime_type) else mime_type


def read_head(storage: Storage, name: str, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a stored file (a ranged GET on S3)."""
    if is_s3(storage):
        obj: Any = storage.bucket.Object(_s3_key(storage, name))  # type: ignore[attr-defined]
        return obj.get(Range=f"bytes=0-{size - 1}")["Body"].read()
    with storage.open(name, "rb") as handle:
        return handle.read(size)


def save_file(storage: Storage, name: str, content: IO[bytes], mime_type: str) -> str:
    """Store ``content`` under ``name`` (the storage may adjust it); return the name."""
    file = File(content, name=name)
    # S3Storage stores it as the object's ContentType.
    file.content_type = mime_type  # type: ignore[attr-defined]
    return storage.save(name, file, max_length=1024)


def head_of(content: IO[bytes]) -> bytes:
    content.seek(0)
    head = content.read(HEAD_BYTES)
    content.seek(0)
    return head


def check_upload(content: IO[bytes], size: int, declared: str) -> str:
    """Enforce the size limit and the content check; return the verified type."""
    if size > conf.CHATKIT_ATTACHMENT_MAX_BYTES:
        raise too_large(size)
    head = head_of(content)
    try:
        return verify_content(declared, head, complete=size <= len(head))
    except ContentMismatch as exc:
        raise UnsupportedAttachmentType(str(exc)) from None


async def stream(handle: IO[bytes]) -> AsyncIterator[bytes]:
    """The contents of an open file, chunk by chunk, read in worker threads."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(CHUNK_SIZE):
            yield chunk
    finally:
        handle.close()


# rows --------------------------------------------------------------------------------


def completed(attachment: ck.Attachment, mime_type: str) -> ck.Attachment:
    """The attachment once its bytes are in: no upload descriptor, the verified type."""
    return attachment.model_copy(update={"upload_descriptor": None, "mime_type": mime_type})


def finalize_presigned(row: Attachment) -> Attachment:
    """Verify a file a client PUT straight into the bucket, the first time it is used.

    The staging object is copied to a fresh final key, which only this call writes, and
    verified there (bytes PUT again meanwhile do not matter). Missing: ``NotFoundError``.
    Too large or not what it claims: both objects are deleted and
    :class:`AttachmentRejected` raised. Otherwise the row becomes complete, and the
    staging object is deleted.
    """
    storage = storages[row.storage]
    staged = row.file_name
    name = new_file_name(row.mime_type) if is_staging_name(staged) else staged
    try:
        if name != staged:
            copy_object(storage, staged, name)
        size = storage.size(name)
    except FileNotFoundError:
        done = _completed_meanwhile(row)
        if done is not None:
            return done
        raise NotFoundError(f"Attachment {row.chatkit_id} has not been uploaded") from None
    head = read_head(storage, name)
    try:
        if size > conf.CHATKIT_ATTACHMENT_MAX_BYTES:
            raise too_large(size)
        try:
            mime_type = verify_content(row.mime_type, head, complete=size <= len(head))
        except ContentMismatch as exc:
            raise UnsupportedAttachmentType(str(exc)) from None
    except AttachmentRejected:
        for path in dict.fromkeys([name, staged]):
            storage.delete(path)
        raise
    payload = completed(row.to_chatkit(), mime_type).model_dump_json()
    now = timezone.now()
    finalized = Attachment.objects.filter(
        pk=row.pk, upload_state=UploadState.PRESIGNED, file_name=staged
    ).update(
        upload_state=UploadState.COMPLETE,
        upload_nonce="",
        file_name=name,
        size=size,
        mime_type=mime_type,
        uploaded_at=now,
        payload=payload,
    )
    if not finalized:  # finalized by a concurrent request: keep its copy, not ours
        if name != staged:
            storage.delete(name)
        done = _completed_meanwhile(row)
        if done is None:
            raise NotFoundError(f"Attachment {row.chatkit_id} not found")
        return done
    if name != staged:
        storage.delete(staged)
    row.upload_state, row.size, row.mime_type = UploadState.COMPLETE, size, mime_type
    row.file_name, row.uploaded_at, row.payload = name, now, payload
    return row


def _completed_meanwhile(row: Attachment) -> Attachment | None:
    return Attachment.objects.filter(pk=row.pk, upload_state=UploadState.COMPLETE).first()


def staging_leftovers(storage: Storage, alias: str, older_than: datetime) -> list[str]:
    """Staging objects of ``storage`` (alias ``alias``) last written before
    ``older_than`` that no outstanding presigned upload awaits: PUT again after their
    upload was finalized, or left by an attachment deleted before it was used."""
    if not is_s3(storage):
        return []
    folder = staging_dir()
    try:
        _, names = storage.listdir(folder)
    except FileNotFoundError:
        return []
    paths = [f"{folder}/{name}" for name in names]
    awaited = set(
        Attachment.objects.filter(
            storage=alias, upload_state=UploadState.PRESIGNED, file_name__in=paths
        ).values_list("file_name", flat=True)
    )
    return [
        path
        for path in paths
        if path not in awaited and storage.get_modified_time(path) < older_than
    ]


async def usable_attachment(row: Attachment, request: HttpRequest | None) -> ck.Attachment:
    """The SDK attachment of ``row`` if its bytes are in (fresh preview URL included);
    ``NotFoundError`` while an upload is outstanding."""
    if row.upload_state == UploadState.PRESIGNED:
        row = await run_db(finalize_presigned, row)
    if row.upload_state == UploadState.PENDING:
        raise NotFoundError(f"Attachment {row.chatkit_id} has not been uploaded")
    return refresh_attachment(row.to_chatkit(), request)


def is_inline(row: Attachment) -> bool:
    """Verified raster images are shown inline; everything else is a download."""
    return row.type == "image" and row.mime_type in IMAGE_TYPES
