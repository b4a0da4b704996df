"""Upload bytes -> a colour image for detection and its grayscale for the model, refusing what is not a photo.

The format is recognised from the first bytes (never from the file name or the client's
Content-Type): something that is no image is 415; an image that cannot be decoded (truncated,
corrupted) is 422. The pixel count is read from the header before decoding (Pillow's lazy
`Image.open`), so a small file claiming a huge canvas is refused (413) without allocating it.

What a decode costs is bounded twice: a JPEG is decoded at the coarsest of libjpeg's 1/2, 1/4, 1/8
scales that still covers `max_side` (the scaled DCT Pillow's `draft` uses; a 48 MP phone photo
decodes as 3 MP), and any image whose decoded size would still be over `max_decoded_pixels` (a
7000x7000 PNG: 49 MP, about 150 MB) is refused from its header, before a byte is decoded. Large
photos are then shrunk so their longer side is at most `max_side` before detection; boxes are
mapped back to original pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

from ..faces.images import to_gray
from .errors import UnreadableUpload, UnsupportedMediaType, UploadTooLarge

# Formats OpenCV decodes and Pillow can read the size of without decoding: what photos come as.
SUPPORTED = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")


def sniff_format(data: bytes) -> str | None:
    """The image format named by the file's signature, or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


@dataclass(frozen=True)
class PreparedImage:
    bgr: np.ndarray    # uint8 [h, w, 3], at most max_side on its longer side (what the detector sees)
    gray: np.ndarray   # uint8 [h, w], the same pixels in gray (what the model's crops come from)
    width: int         # the decoded image, before downscaling (EXIF orientation applied)
    height: int
    scale: float       # gray's size / original size (1.0 when not downscaled)
    format: str


def header_size(data: bytes, fmt: str, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the header only; a header that cannot be parsed is a corrupted file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            return image.size
    except Image.DecompressionBombError:
        raise UploadTooLarge(f"{fmt} image too large: its header claims over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} "
                             f"megapixels; the limit is {max_pixels / 1e6:.3g} (serve.max_megapixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableUpload(f"corrupted {fmt} image: its header cannot be read ({exc})") from None


def jpeg_reduction(width: int, height: int, max_side: int) -> int:
    """The largest of 1, 2, 4, 8 that keeps a JPEG's longer side at or over `max_side` when decoded."""
    longer = max(width, height)
    factor = 1
    while factor < 8 and longer / (factor * 2) >= max_side:
        factor *= 2
    return factor


_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def prepare_image(data: bytes, max_pixels: int, max_side: int, max_decoded_pixels: int | None = None) -> PreparedImage:
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(f"not an image: expected one of {', '.join(SUPPORTED)} "
                                   f"(the first bytes are {data[:8]!r})")
    width, height = header_size(data, fmt, max_pixels)
    if width * height > max_pixels:
        raise UploadTooLarge(f"{fmt} image of {width}x{height} pixels is over the limit of "
                             f"{max_pixels / 1e6:.3g} megapixels (serve.max_megapixels)")
    factor = jpeg_reduction(width, height, max_side) if fmt == "JPEG" else 1
    decoded_pixels = -(-width // factor) * -(-height // factor)
    if max_decoded_pixels is not None and decoded_pixels > max_decoded_pixels:
        raise UploadTooLarge(f"{fmt} image of {width}x{height} pixels would decode to {decoded_pixels / 1e6:.3g} "
                             f"megapixels; the limit is {max_decoded_pixels / 1e6:.3g} "
                             "(serve.max_decoded_megapixels; JPEG photos decode reduced, other formats whole)")
    try:
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _REDUCED[factor])
    except cv2.error as exc:
        raise UnreadableUpload(f"corrupted {fmt} image: {str(exc).strip().splitlines()[-1]}") from None
    if decoded is None or decoded.size == 0:
        raise UnreadableUpload(f"corrupted or truncated {fmt} image: it cannot be decoded")
    if factor > 1:  # the original size, turned as EXIF orientation turned the decoded pixels
        turned = (decoded.shape[1] > decoded.shape[0]) != (width > height) and width != height
        width, height = (height, width) if turned else (width, height)
    else:
        height, width = decoded.shape[:2]
    scale = min(1.0, max_side / max(width, height))
    if max(decoded.shape[:2]) > max_side:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        decoded = cv2.resize(decoded, size, interpolation=cv2.INTER_AREA)
    elif factor > 1:
        scale = decoded.shape[1] / width
    return PreparedImage(decoded, to_gray(decoded), width, height, scale, fmt)
