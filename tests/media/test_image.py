"""load_image: every file the browser may hand us becomes upright 8-bit RGB, or a clear error."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from liveavatar.media.image import DEFAULT_MAX_PIXELS, ImageLoadError, LoadedImage, load_image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def _quadrants(height: int = 40, width: int = 60) -> np.ndarray:
    """Four flat colours, so any rotation or flip is visible even after JPEG compression."""
    img = np.zeros((height, width, 3), np.uint8)
    img[: height // 2, : width // 2] = (255, 0, 0)
    img[: height // 2, width // 2 :] = (0, 255, 0)
    img[height // 2 :, : width // 2] = (0, 0, 255)
    img[height // 2 :, width // 2 :] = (255, 255, 0)
    return img


@pytest.mark.parametrize(
    ("suffix", "pil_format", "lossless"),
    [("png", "PNG", True), ("jpg", "JPEG", False), ("webp", "WEBP", False), ("bmp", "BMP", True)],
)
def test_common_formats_load_as_rgb(tmp_path: Path, astronaut: np.ndarray, suffix: str, pil_format: str, lossless: bool) -> None:
    path = tmp_path / f"astronaut.{suffix}"
    Image.fromarray(astronaut).save(path, format=pil_format)
    img = load_image(path)
    assert isinstance(img, LoadedImage)
    assert img.rgb.shape == (512, 512, 3) and img.rgb.dtype == np.uint8
    assert (img.width, img.height) == (512, 512)
    assert img.source_format == pil_format
    assert img.exif_orientation == 1
    assert img.had_alpha is False
    assert img.bits_per_channel == 8
    assert img.path == str(path)
    if lossless:
        np.testing.assert_array_equal(img.rgb, astronaut)
    else:
        assert np.abs(img.rgb.astype(int) - astronaut).mean() < 6


def test_rgba_png_is_flattened_onto_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[:, :10, 3] = 255  # left half opaque
    rgba[:, 10:15, 3] = 0  # transparent (colour underneath is black-ish and must not show)
    rgba[:, 15:, 3] = 128  # half transparent
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    img = load_image(path)
    assert img.had_alpha is True
    assert img.rgb.shape == (10, 20, 3)
    np.testing.assert_array_equal(img.rgb[:, :10], np.broadcast_to((10, 20, 30), (10, 10, 3)))
    np.testing.assert_array_equal(img.rgb[:, 10:15], 255)
    expected = np.rint((np.array([10, 20, 30]) * 128 + 255 * 127) / 255)
    np.testing.assert_allclose(img.rgb[0, 17], expected, atol=1)


def test_fully_opaque_alpha_channel_does_not_count_as_transparency(tmp_path: Path) -> None:
    rgba = np.full((8, 8, 4), 255, np.uint8)
    rgba[..., 0] = 40
    path = tmp_path / "opaque.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    img = load_image(path)
    assert img.had_alpha is False
    assert img.rgb[0, 0].tolist() == [40, 255, 255]


def test_la_png_and_palette_gif_with_transparency(tmp_path: Path) -> None:
    la = Image.fromarray(np.dstack([np.full((6, 6), 50, np.uint8), np.full((6, 6), 0, np.uint8)]), mode="LA")
    la.save(tmp_path / "la.png")
    img = load_image(tmp_path / "la.png")
    assert img.had_alpha and (img.rgb == 255).all()

    pal = Image.new("P", (6, 6), 0)
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.paste(1, (0, 0, 3, 6))
    pal.save(tmp_path / "pal.gif", transparency=0)
    img = load_image(tmp_path / "pal.gif")
    assert img.source_format == "GIF"
    assert img.had_alpha
    assert img.rgb[0, 0].tolist() == [200, 10, 10]
    assert img.rgb[0, 5].tolist() == [255, 255, 255]


def test_palette_png_without_transparency(tmp_path: Path, astronaut: np.ndarray) -> None:
    pal = Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(tmp_path / "pal.png")
    img = load_image(tmp_path / "pal.png")
    assert not img.had_alpha
    np.testing.assert_array_equal(img.rgb, np.asarray(pal.convert("RGB")))


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(tmp_path / "anim.gif") as check:
        assert check.n_frames == 2
    img = load_image(tmp_path / "anim.gif")
    assert img.rgb.shape == (16, 16, 3)
    assert img.rgb[8, 8].tolist() == [255, 0, 0]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (20, 10), (0, 0, 0, 0))  # white
    cmyk.paste((255, 0, 0, 0), (0, 0, 10, 10))  # pure cyan on the left
    cmyk.save(tmp_path / "print.jpg", quality=95)
    img = load_image(tmp_path / "print.jpg")
    assert img.source_format == "JPEG"
    assert img.rgb.shape == (10, 20, 3) and img.rgb.dtype == np.uint8
    assert np.abs(img.rgb[5, 2].astype(int) - (0, 255, 255)).max() < 20
    assert np.abs(img.rgb[5, 17].astype(int) - (255, 255, 255)).max() < 20


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    grey = np.array([[0, 257 * 64, 32768, 65535]], np.uint16).repeat(4, axis=0)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    img = load_image(tmp_path / "deep.png")
    assert img.bits_per_channel == 16
    assert img.rgb.shape == (4, 4, 3)
    assert img.rgb[0, :, 0].tolist() == [0, 64, 128, 255]
    assert (img.rgb[..., 0] == img.rgb[..., 2]).all()


def test_16bit_rgb_png(tmp_path: Path, astronaut: np.ndarray) -> None:
    deep = astronaut.astype(np.uint16) * 257  # exact 16-bit version of the 8-bit pixels
    cv2.imwrite(str(tmp_path / "deep_rgb.png"), deep[:, :, ::-1])
    img = load_image(tmp_path / "deep_rgb.png")
    assert img.bits_per_channel == 16
    np.testing.assert_array_equal(img.rgb, astronaut)


def test_bilevel_and_float_tiff(tmp_path: Path) -> None:
    bits = Image.fromarray(np.eye(8, dtype=bool))
    bits.save(tmp_path / "bits.png")
    img = load_image(tmp_path / "bits.png")
    assert img.bits_per_channel == 1
    assert img.rgb[0, 0].tolist() == [255, 255, 255] and img.rgb[0, 1].tolist() == [0, 0, 0]

    Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)).save(tmp_path / "float.tif")
    img = load_image(tmp_path / "float.tif")
    assert img.rgb.dtype == np.uint8 and img.rgb[0, 0, 0] == 0 and img.rgb[3, 3, 0] == 255


def _with_orientation(path: Path, rgb: np.ndarray, orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, format=fmt, exif=exif.tobytes())


def test_exif_orientation_6_jpeg_is_rotated_upright(tmp_path: Path) -> None:
    stored = _quadrants(40, 60)
    _with_orientation(tmp_path / "phone.jpg", stored, 6, "JPEG")
    img = load_image(tmp_path / "phone.jpg")
    assert img.exif_orientation == 6
    assert img.rgb.shape == (60, 40, 3)  # width and height swapped
    # Orientation 6 means "rotate 90° clockwise to display".
    expected = np.rot90(stored, k=-1)
    assert np.abs(img.rgb.astype(int) - expected).mean() < 8
    assert np.abs(img.rgb[5, 35].astype(int) - (255, 0, 0)).max() < 40  # stored top-left → top-right


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    stored = _quadrants(30, 50)
    path = tmp_path / f"o{orientation}.png"
    _with_orientation(path, stored, orientation, "PNG")
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    img = load_image(path)
    assert img.exif_orientation == orientation
    np.testing.assert_array_equal(img.rgb, expected)


def test_invalid_orientation_value_is_ignored(tmp_path: Path) -> None:
    _with_orientation(tmp_path / "bad.jpg", _quadrants(), 42, "JPEG")
    img = load_image(tmp_path / "bad.jpg")
    assert img.exif_orientation == 1 and img.rgb.shape == (40, 60, 3)


def test_text_file_named_png_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert "could not be read as an image" in message
    assert "JPG or PNG" in message and "notes.png" in message
    assert isinstance(info.value, ValueError)


def test_truncated_png_is_rejected(tmp_path: Path, astronaut: np.ndarray) -> None:
    full = tmp_path / "full.png"
    Image.fromarray(astronaut).save(full)
    blob = full.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ImageLoadError, match="could not be read as an image"):
        load_image(cut)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="could not be read"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nowhere.png")


def test_pixel_limit_edge(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(path)
    assert load_image(path, max_pixels=20_000).width == 200  # exactly at the limit: allowed
    with pytest.raises(ImageLoadError) as info:
        load_image(path, max_pixels=19_999)
    message = str(info.value)
    assert "200 × 100" in message and "limit" in message and "0.019999 megapixels" in message


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path, astronaut: np.ndarray) -> None:
    """A damaged file over the limit reports the limit: the header alone decided, no pixels were read."""
    full = tmp_path / "full.png"
    Image.fromarray(astronaut).save(full)
    cut = tmp_path / "bomb.png"
    cut.write_bytes(full.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(cut, max_pixels=1000)


def test_default_limit_is_50_megapixels() -> None:
    assert DEFAULT_MAX_PIXELS == 50_000_000


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` but holds no pixel data: a bomb costs 60 bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 20_000])  # 100 MP (under Pillow's own hard limit) and 400 MP (over it)
def test_decompression_bomb_header_is_rejected_with_the_limit(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert "50 megapixels" in message and "Resize" in message
