"""Image attachments for multimodal prompts."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

SUPPORTED_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

# The Messages API refuses images above 5 MB (base64-decoded).
MAX_IMAGE_BYTES = 5 * 1024 * 1024

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ImageError(ValueError):
    """An image that cannot be sent to Claude; the message says why."""


@dataclass
class ImageAttachment:
    """An image attachment for sending to Claude.

    Attributes:
        data: Base64-encoded image data.
        media_type: MIME type of the image (e.g. "image/jpeg").
    """

    data: str
    media_type: str

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str | None = None) -> ImageAttachment:
        """Build an attachment from raw bytes, checking type and size.

        Args:
            raw: The image file's bytes.
            media_type: Its MIME type; sniffed from the bytes when None.

        Returns:
            The attachment.

        Raises:
            ImageError: Empty, too large, or not JPEG, PNG, GIF or WebP.
        """
        if not raw:
            raise ImageError("the image is empty")
        if len(raw) > MAX_IMAGE_BYTES:
            raise ImageError(
                f"the image is {len(raw) / 1e6:.1f} MB; Claude accepts at most "
                f"{MAX_IMAGE_BYTES / 1e6:.0f} MB"
            )
        kind = sniff_media_type(raw) or media_type
        if kind not in SUPPORTED_MEDIA_TYPES:
            raise ImageError(
                f"unsupported image type {kind or 'unknown'}; send JPEG, PNG, GIF or WebP"
            )
        return cls(data=base64.b64encode(raw).decode("ascii"), media_type=kind)

    def to_content_block(self) -> dict[str, Any]:
        """The Messages API ``image`` content block for this attachment."""
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": self.media_type, "data": self.data},
        }


def sniff_media_type(raw: bytes) -> str | None:
    """Recognise JPEG, PNG, GIF and WebP by their first bytes.

    Args:
        raw: The start of the file.

    Returns:
        The MIME type, or None when not recognised.
    """
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def build_user_message(prompt: str, images: list[ImageAttachment]) -> dict[str, Any]:
    """Build a stream-json user message with image content blocks then the text.

    Args:
        prompt: Text prompt to accompany the images.
        images: Image attachments to include.

    Returns:
        A message dict suitable for ``ClaudeSDKClient.query()``.
    """
    content = [image.to_content_block() for image in images]
    content.append({"type": "text", "text": prompt})
    return {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
        "uuid": str(uuid.uuid4()),
    }
