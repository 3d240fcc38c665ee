"""Decode the user's portrait into one predictable shape.

Everything downstream (face detection, checks, crops, the model itself) wants an upright,
8-bit, 3-channel RGB array. Photos arrive as anything a browser or phone can produce: CMYK
JPEGs from print workflows, 16-bit PNGs from raw converters, palette GIFs, RGBA PNGs with a
cut-out background, phone JPEGs stored sideways with an EXIF orientation tag. This module is
the single place that decodes them (with Pillow), so every quirk is handled once, and every
failure becomes an :class:`ImageLoadError` whose message can be shown to the user as-is.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["DEFAULT_MAX_PIXELS", "ImageLoadError", "LoadedImage", "load_image"]

#: Refuse images above this many pixels (50 MP) before decoding them: a small, highly compressed
#: file can expand to gigabytes in memory (a "decompression bomb"), and no portrait needs more.
DEFAULT_MAX_PIXELS = 50_000_000

#: EXIF tag 0x0112 (Orientation) → the Pillow transpose that makes the pixels upright.
#: Same table as ``PIL.ImageOps.exif_transpose``; kept here so it can be applied after the mode
#: conversion (which drops ``info``/EXIF) and so the tag value is reported to the checks.
_EXIF_ORIENTATION_TAG = 0x0112
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_UNREADABLE_FIX = "Open it in an image editor, save it as a JPG or PNG, and upload it again."


class ImageLoadError(ValueError):
    """The file could not be turned into a usable image.

    The message is a complete user-facing sentence (what is wrong and how to fix it), so the UI
    can display ``str(error)`` without rewording it.
    """


@dataclass
class LoadedImage:
    """A decoded portrait, normalised for the rest of the app.

    ``rgb`` is always ``(H, W, 3)`` ``uint8`` and already upright (EXIF orientation applied) with
    any transparency composited onto white. The other fields remember what had to be done to get
    there, so the checks can tell the user (e.g. "rotated automatically", "converted from WEBP").
    """

    rgb: np.ndarray
    source_format: str
    """Pillow's format name of the file as uploaded: "PNG", "JPEG", "WEBP", "BMP", "GIF", ..."""
    exif_orientation: int
    """EXIF orientation tag 1..8 that was applied; 1 means the pixels were already upright."""
    had_alpha: bool
    """True when at least one pixel was not fully opaque (an all-opaque alpha channel is ignored)."""
    path: str
    bits_per_channel: int
    """Bit depth of the source samples (8 for ordinary photos, 16 for 16-bit PNG/TIFF, 1 for bilevel)."""
    frame_count: int = 1
    """Frames in the file (animated GIF/WEBP/APNG have more than one; only the first is used)."""
    source_mode: str = "RGB"
    """Pillow's mode of the file as uploaded ("RGB", "CMYK", "I;16", "P", ...), before conversion."""

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` into a :class:`LoadedImage`, or raise :class:`ImageLoadError`.

    The pixel count is checked from the header, before any pixel data is decoded, so an oversized
    or malicious file costs nothing. Animated images (GIF, WEBP, APNG) contribute their first frame:
    the model takes a single still portrait.
    """
    path_str = os.fspath(path)
    name = Path(path_str).name or path_str
    if not os.path.isfile(path_str):
        raise ImageLoadError(f"The image file '{name}' was not found. Please upload it again.")
    _refuse_unusable_file(path_str, name)
    if _png_is_damaged(path_str):
        raise ImageLoadError(
            f"The file '{name}' could not be read as an image: it is a damaged PNG (its data does not "
            f"match its checksums, so parts of the picture are lost). {_UNREADABLE_FIX}"
        )

    try:
        with Image.open(path_str) as im:
            source_format = im.format or "unknown"
            width, height = im.size
            _check_pixel_limit(name, width, height, max_pixels)
            frame_count = _frame_count(im)
            if frame_count > 1:
                im.seek(0)
            source_mode = im.mode
            bits = _bits_per_channel(im)
            orientation = _exif_orientation(im)
            im.load()
            rgba = _to_rgb_or_rgba(im)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses > ~179 MP in Image.open itself, before our own check can read the size;
        # its message carries the pixel count ("Image size (400000000 pixels) exceeds limit ...").
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)) / 1e6:.1f} megapixels)" if found else ""
        raise ImageLoadError(
            f"The image '{name}' is too large to open safely{size}: it has more than "
            f"{max_pixels / 1e6:g} megapixels, the limit. Resize it (a portrait needs no more than "
            "about 2000 × 2000) and upload it again."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # OSError covers "image file is truncated" and broken compressed streams; SyntaxError and
        # ValueError are what some Pillow plugins raise for malformed headers.
        raise ImageLoadError(
            f"The file '{name}' could not be read as an image (it is not an image, or it is damaged "
            f"or incomplete). {_UNREADABLE_FIX}"
        ) from exc

    transpose = _ORIENTATION_TRANSPOSE.get(orientation)
    if transpose is not None:
        rgba = rgba.transpose(transpose)

    arr = np.asarray(rgba, dtype=np.uint8)
    had_alpha = False
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3]
        had_alpha = bool((alpha < 255).any())
        rgb = _flatten_on_white(arr[:, :, :3], alpha) if had_alpha else arr[:, :, :3]
    else:
        rgb = arr
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)

    return LoadedImage(
        rgb=rgb,
        source_format=source_format,
        exif_orientation=orientation,
        had_alpha=had_alpha,
        path=path_str,
        bits_per_channel=bits,
        frame_count=frame_count,
        source_mode=source_mode,
    )


def _sniff(path: str, size: int = 512) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def _refuse_unusable_file(path: str, name: str) -> None:
    """Specific messages for what Pillow would only call "cannot identify image file"."""
    if os.path.getsize(path) == 0:
        raise ImageLoadError(
            f"The file '{name}' could not be read as an image: it is empty (0 bytes). {_UNREADABLE_FIX}"
        )
    head = _sniff(path).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if name.lower().endswith((".svg", ".svgz")) or head.startswith(b"<svg") or (
        head.startswith((b"<?xml", b"<!doctype svg", b"<!--")) and b"<svg" in _sniff(path, 4096).lower()
    ):
        raise ImageLoadError(
            f"The file '{name}' is an SVG (a vector drawing), which cannot be used as a portrait: the "
            "model needs a photo made of pixels. Export it as a PNG (at least 512 × 512) or upload a photo."
        )


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_is_damaged(path: str) -> bool:
    """True when a PNG's chunk checksums do not match its data.

    Pillow skips the checksum of the pixel data (IDAT) and, for some damage, decodes garbage or a
    black picture without any error, so the checks would then judge a picture nobody took. One
    streaming pass over the file (a 50 MB upload: ~50 ms). A PNG cut short is left to Pillow,
    which reports it as truncated.
    """
    try:
        with open(path, "rb") as f:
            if f.read(8) != _PNG_SIGNATURE:
                return False
            while True:
                head = f.read(8)
                if len(head) < 8:
                    return False
                length, kind = int.from_bytes(head[:4], "big"), head[4:]
                if length > 0x7FFFFFFF:
                    return True
                crc = zlib.crc32(kind)
                left = length
                while left:
                    block = f.read(min(left, 1 << 20))
                    if not block:
                        return False  # cut short: Pillow says so
                    crc = zlib.crc32(block, crc)
                    left -= len(block)
                stored = f.read(4)
                if len(stored) < 4:
                    return False
                if int.from_bytes(stored, "big") != crc & 0xFFFFFFFF:
                    return True
                if kind == b"IEND":
                    return False
    except OSError:
        return False


def _frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except Exception:  # noqa: BLE001 - counting frames of a damaged animation: treat as one
        return 1


def _check_pixel_limit(name: str, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageLoadError(
            f"The image '{name}' has no pixels ({width} × {height}). {_UNREADABLE_FIX}"
        )
    if width * height > max_pixels:
        raise ImageLoadError(
            f"The image '{name}' is {width} × {height} pixels ({width * height / 1e6:.1f} megapixels), "
            f"over the limit of {max_pixels / 1e6:g} megapixels. Resize it (a portrait needs no more "
            "than about 2000 × 2000) and upload it again."
        )


def _bits_per_channel(im: Image.Image) -> int:
    """Best-effort source bit depth, read from the mode and the not-yet-decoded tile's raw mode.

    Pillow opens 16-bit RGB(A) PNG/TIFF as 8-bit "RGB"/"RGBA" and only the raw mode ("RGB;16B")
    still says 16 bits, so this must run before ``load()`` clears the tile list.
    """
    if im.mode == "1":
        return 1
    if im.mode.startswith("I;16") or im.mode == "I":
        return 16
    if im.mode == "F":
        return 32
    for tile in getattr(im, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        rawmode = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else "")
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 8


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1..8); 1 when absent or unreadable (bad EXIF must not block upload)."""
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 - any EXIF parsing error just means "no usable tag"
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit "RGB", or "RGBA" when the source can carry transparency.

    High-bit-depth greyscale is rescaled in NumPy because Pillow's ``convert("L")`` clips 16-bit
    values at 255 instead of scaling them (a 16-bit PNG would come out almost white).
    """
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        data = np.asarray(im)
        if mode == "F":
            data = data.astype(np.float64)
            finite = np.isfinite(data)
            data = np.where(finite, data, 0.0)
            peak = float(data.max()) if data.size else 0.0
            scaled = data * 255.0 if peak <= 1.0 else data
        else:
            data = data.astype(np.float64)
            peak = float(data.max()) if data.size else 0.0
            # mode "I" may hold 8-bit or 16-bit samples; only rescale when values exceed 8 bits.
            scaled = data / 257.0 if (mode != "I" or peak > 255) else data
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2), mode="RGB")
    if mode == "RGB":
        if "transparency" in im.info:
            return im.convert("RGBA")
        return im.copy()
    if mode == "RGBA":
        return im.copy()
    if mode in ("LA", "PA", "La", "RGBa"):
        return im.convert("RGBA")
    if mode == "P":
        if "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA"):
            return im.convert("RGBA")
        return im.convert("RGB")
    if mode == "L" and "transparency" in im.info:
        return im.convert("RGBA")
    # L, 1, CMYK, YCbCr, LAB, HSV and the rest: Pillow knows a direct conversion to RGB.
    return im.convert("RGB")


def _flatten_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite onto white: the model has no notion of transparency, and transparent pixels often
    hold arbitrary (frequently black) colour that would otherwise show through."""
    a = alpha.astype(np.uint32)[:, :, None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)
