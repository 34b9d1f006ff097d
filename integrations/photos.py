"""Downloading a resident's photo from the CRM, to upload it where a vendor
takes files (Lucity's citizen media endpoint).

Bounded: a size limit (read in chunks, stopped at the limit), an image
content type, and a timeout — a photo URL is outside data, and a vendor
upload must never be fed a 2 GB file or an HTML error page.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

import requests

from .base import Photo
from .errors import PermanentError, TransientError
from .http import USER_AGENT

MAX_PHOTO_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic")


def download_photo(
    url: str,
    *,
    max_bytes: int = MAX_PHOTO_BYTES,
    timeout: float = 30.0,
    session: requests.Session | None = None,
) -> Photo:
    """The photo at ``url``; ``PermanentError`` when it is not a usable image
    (too large, not an image, gone), ``TransientError`` when the host failed."""
    http = session or requests.Session()
    try:
        response = http.get(url, stream=True, timeout=timeout, headers={"User-Agent": USER_AGENT})
    except requests.RequestException as exc:
        raise TransientError(
            f"photo download failed: {exc.__class__.__name__}", system="photo"
        ) from exc
    with response:
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"photo download: HTTP {response.status_code}", system="photo")
        if response.status_code >= 400:
            raise PermanentError(f"photo download: HTTP {response.status_code}", system="photo")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in IMAGE_TYPES:
            raise PermanentError(
                f"photo download: not an image ({content_type or 'no content type'})",
                system="photo",
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise PermanentError(
                f"photo download: {int(declared)} bytes, more than {max_bytes}", system="photo"
            )
        content = bytearray()
        for chunk in response.iter_content(64 * 1024):
            content.extend(chunk)
            if len(content) > max_bytes:
                raise PermanentError(f"photo download: more than {max_bytes} bytes", system="photo")
    return Photo(bytes(content), content_type, _filename(url, content_type))


def _filename(url: str, content_type: str) -> str:
    name = urlsplit(url).path.rsplit("/", 1)[-1] or "photo"
    if "." not in name:
        name += mimetypes.guess_extension(content_type) or ".jpg"
    return name[:100]
