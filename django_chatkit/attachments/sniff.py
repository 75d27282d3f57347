"""What an upload really is: MIME types from the first bytes, not from the client.

A browser declares a type from the file's extension, an attacker declares anything.
Images must carry the signature of a raster format (PNG, JPEG, GIF, WebP), PDFs the
``%PDF-`` header, text types must be UTF-8 without NUL bytes. No decoder runs on the
bytes: a signature check is enough to decide how a file is served (images ``inline``,
everything else as a download with ``nosniff``), and the model provider decodes.
"""

from __future__ import annotations

import mimetypes

HEAD_BYTES = 8192

# Raster formats the ChatKit UI previews and the Responses API accepts as input_image.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "text/x-markdown": "text/markdown",
    "application/x-pdf": "application/pdf",
}

_TEXT_TYPES = ("application/json", "application/xml", "application/x-ndjson")


def normalize_mime_type(value: str | None) -> str:
    """``"Image/JPG; q=1"`` -> ``"image/jpeg"``; ``""`` for anything that is no MIME type."""
    mime = (value or "").split(";", 1)[0].strip().lower()
    if mime.count("/") != 1 or len(mime) > 255 or not mime.isascii() or " " in mime:
        return ""
    return _ALIASES.get(mime, mime)


# Python's own table plus what it lacks, not the system's: the same on every machine.
MIME_TYPES = mimetypes.MimeTypes(filenames=())
MIME_TYPES.add_type("text/markdown", ".md")
MIME_TYPES.add_type("text/markdown", ".markdown")


def guess_mime_type(name: str) -> str:
    """The type a file name suggests (used only when the client declares none)."""
    return normalize_mime_type(MIME_TYPES.guess_type(name, strict=False)[0])


def extensions(mime_type: str) -> list[str]:
    """The file name extensions of ``mime_type``, most common first."""
    primary = MIME_TYPES.guess_extension(mime_type, strict=False)
    others = sorted(set(MIME_TYPES.guess_all_extensions(mime_type, strict=False)) - {primary})
    return [primary, *others] if primary else others


def is_allowed(mime_type: str, allowed: tuple[str, ...]) -> bool:
    """Is ``mime_type`` in the allow-list (entries may be ``"type/*"``)?"""
    if not mime_type:
        return False
    family = mime_type.split("/", 1)[0] + "/*"
    return mime_type in allowed or family in allowed


def is_text_type(mime_type: str) -> bool:
    return (
        mime_type.startswith("text/")
        or mime_type in _TEXT_TYPES
        or mime_type.endswith(("+json", "+xml"))
    )


def sniff_image(head: bytes) -> str | None:
    """The raster image type whose signature ``head`` starts with, if any."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _is_utf8_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of a partial read is fine.
        return (
            not complete and exc.start >= len(head) - 3 and exc.reason.startswith("unexpected end")
        )
    return True


class ContentMismatch(ValueError):
    """The bytes are not what the declared type says."""


def verify_content(declared: str, head: bytes, *, complete: bool) -> str:
    """Check the first bytes of a file against its declared type; return the real type.

    ``complete`` tells whether ``head`` is the whole file. A raster image declared as
    another raster format is accepted under its real type (browsers name types after
    extensions); every other mismatch raises :class:`ContentMismatch`.
    """
    image = sniff_image(head)
    if declared in IMAGE_TYPES:
        if image is None:
            raise ContentMismatch(f"The file is not a valid {declared} image.")
        return image
    if image is not None:
        raise ContentMismatch(f"The file is an image ({image}), not {declared}.")
    if declared == "application/pdf":
        if b"%PDF-" not in head[:1024]:
            raise ContentMismatch("The file is not a PDF document.")
    elif is_text_type(declared) and not _is_utf8_text(head, complete):
        raise ContentMismatch(f"The file is not UTF-8 text ({declared}).")
    return declared
