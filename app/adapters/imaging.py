"""The photo pipeline: judge an upload by its content, decode it safely, and re-encode it.

Pure image work with Pillow (and pillow-heif for iPhone HEIC): no Flask, no database.
What comes out is always a fresh JPEG that shares no bytes with the upload:

- only JPEG, PNG and HEIF/HEIC are opened (``formats=``), whatever the name or the
  declared type says, so no other Pillow decoder ever sees patient uploads;
- the pixel count is read from the header and checked *before* anything is decoded;
- JPEGs are decoded at a reduced scale (``draft``) when that still gives the target
  size, which halves the work for a 12 MP phone photo (performance anchors P14);
- orientation is applied to the pixels, colours are converted to sRGB, and every piece
  of metadata (EXIF with GPS, camera, dates; XMP; comments; ICC; thumbnails) is left
  behind because nothing of the source's ``info`` is written out.

What services call: ``process(data, Settings)``, which answers ``Processed`` (the full
JPEG, its thumbnail and their sizes) or raises ``Rejected`` with a message for the user.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import warnings
from dataclasses import dataclass

from PIL import ExifTags
from PIL import Image
from PIL import ImageCms
from PIL import UnidentifiedImageError

from app.domain.language import N_

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "HEIF")
# Orientation tag value -> the transpose that shows the picture upright (as
# ``ImageOps.exif_transpose``), applied after resizing so it runs on fewer pixels.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# A reduced-scale JPEG decode is used when it lands within this fraction of the target
# long edge: a 4032 px photo decodes at 1/2 to 2016 px instead of 4032 px resized to 2048.
DRAFT_SLACK = 0.95
# Rows of a decoded HEIF photo turned into Pillow pixels at a time (times the reduction):
# ~4 MB for a 4032 px wide photo, where the whole picture would take ~48 MB more.
STRIP_ROWS = 128

# Marked for translation: the upload page looks the message up in the reader's language.
NOT_A_PHOTO = N_("That file is not a photo we can use. Please choose a JPEG, PNG or HEIC photo.")
DAMAGED = N_("That photo seems damaged or incomplete. Please take or choose it again.")
TOO_MANY_PIXELS = N_("That picture is too large (too many pixels). Please choose a normal photo.")


class Rejected(ValueError):
    """The upload is not an acceptable photo; the message is safe to show to the user."""


@dataclass(frozen=True)
class Settings:
    """How photos are processed (from the app config)."""

    max_pixels: int = 50_000_000
    long_edge: int = 2048
    thumb_edge: int = 320
    quality: int = 88
    thumb_quality: int = 80


@dataclass(frozen=True)
class Processed:
    """A re-encoded photo and its thumbnail, both JPEG bytes with no metadata."""

    full: bytes
    thumb: bytes
    width: int
    height: int
    source_format: str

    @property
    def full_sha256(self) -> str:
        return hashlib.sha256(self.full).hexdigest()


def process(data: bytes, settings: Settings = Settings()) -> Processed:  # noqa: B008
    """Turn uploaded bytes into a clean, upright JPEG and a thumbnail.

    :raises Rejected: for anything that is not a whole JPEG, PNG or HEIF photo within
        the pixel cap. Decoder errors of every kind are refusals, never crashes.
    """
    if not data:
        raise Rejected(NOT_A_PHOTO)
    with _open(data, settings.max_pixels) as im:
        orientation = _orientation(im)
        if im.format in ("JPEG", "MPO"):  # MPO: a JPEG with extra pictures (gain maps)
            _draft(im, settings.long_edge)
        factor = _reduction(im.size, settings.long_edge)
        reduced = None
        try:
            if im.format == "HEIF" and factor >= 2:
                reduced = _heif_reduced(data, im.info.get("icc_profile"), factor)
            else:
                im.load()
        except Image.DecompressionBombError:
            raise Rejected(TOO_MANY_PIXELS) from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure means a bad file
            log.info("photo refused: %s while decoding %s", type(exc).__name__, im.format)
            raise Rejected(DAMAGED) from None
        source_format = im.format or "?"
        if reduced is None:
            reduced = _to_srgb(im, im.info.get("icc_profile"))
        full = _fit(reduced, settings.long_edge, Image.Resampling.LANCZOS)
        del reduced  # the fitted copy is all that is needed from here
        transpose = _TRANSPOSE.get(orientation)
        if transpose is not None:
            full = full.transpose(transpose)
        thumb = _fit(full, settings.thumb_edge, Image.Resampling.BICUBIC, reducing_gap=2.0)
        return Processed(
            full=_jpeg(full, settings.quality, subsampling=0),
            thumb=_jpeg(thumb, settings.thumb_quality, subsampling=2),
            width=full.width,
            height=full.height,
            source_format=source_format,
        )


def _open(data: bytes, max_pixels: int) -> Image.ImageFile.ImageFile:
    """Open (header only) one of the accepted formats and check its pixel count."""
    _register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(TOO_MANY_PIXELS) from None
    except UnidentifiedImageError:
        raise Rejected(NOT_A_PHOTO) from None
    except Exception as exc:  # noqa: BLE001 - a broken header is a bad file, not a crash
        log.info("photo refused: %s while opening", type(exc).__name__)
        raise Rejected(DAMAGED) from None
    width, height = im.size
    if width < 1 or height < 1 or width * height > max_pixels:
        im.close()
        raise Rejected(TOO_MANY_PIXELS)
    return im


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 to 8), or 1 when absent or unreadable."""
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - broken EXIF: show the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _draft(im: Image.ImageFile.ImageFile, long_edge: int) -> None:
    """Ask libjpeg for the smallest DCT scale that still gives about ``long_edge`` px."""
    width, height = im.size
    edge = int(long_edge * DRAFT_SLACK)
    if max(width, height) <= edge:
        return
    factor = edge / max(width, height)
    # The box must keep the aspect ratio: draft picks the scale that covers both sides.
    im.draft("RGB", (max(1, round(width * factor)), max(1, round(height * factor))))


@functools.cache
def _register_heif() -> None:
    """Let Pillow open HEIF, on the first photo rather than at start."""
    # Imported here: libheif and its codecs cost every web worker ~4 MB, and most
    # requests handle no photo.
    import pillow_heif

    pillow_heif.register_heif_opener()


def _heif_reduced(data: bytes, icc: bytes | None, factor: int) -> Image.Image:
    """The HEIF photo in ``data`` decoded, in sRGB and reduced by ``factor``.

    libheif's decoded picture is turned into Pillow pixels ``STRIP_ROWS`` rows at a time
    and each strip reduced at once, rather than copied whole into a Pillow image first:
    the same pixels (a reduction and the sRGB conversion work on each block of rows on
    its own), without a second full-size copy of a 12 MP photo (~48 MB) at the peak.
    """
    import pillow_heif  # registered by _open already; its own API for the raw picture

    # The options Pillow's HEIF opener uses, so the picture is the one it would decode.
    heif = pillow_heif.open_heif(
        io.BytesIO(data), convert_hdr_to_8bit=True, hdr_to_16bit=True, remove_stride=False
    )
    picture = heif[heif.primary_index]
    buffer = picture.data  # decodes; the size can change while decoding
    mode, (width, height), stride = picture.mode, picture.size, picture.stride
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = STRIP_ROWS * factor  # whole blocks of the reduction in every strip but the last
    for top in range(0, height, rows):
        count = min(rows, height - top)
        part = buffer[top * stride : (top + count) * stride]
        strip = Image.frombuffer(mode, (width, count), part, "raw", mode, stride, 1)
        out.paste(_to_srgb(strip, icc).reduce(factor), (0, top // factor))
    return out


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """An RGB image in sRGB: alpha flattened onto white, the embedded profile ``icc``
    (from the source's ``info``) applied."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        rgb = base
    elif im.mode == "RGB":
        rgb = im.copy() if icc else im
    else:
        try:
            rgb = _eight_bit(im).convert("RGB")
        except (ValueError, OSError):
            raise Rejected(NOT_A_PHOTO) from None
    if icc:
        transform = _transform_for(bytes(icc))
        if transform is not None:
            rgb = ImageCms.applyTransform(rgb, transform) or rgb
    rgb.info.clear()
    return rgb


def _eight_bit(im: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit greyscale image (a 16-bit PNG, a scanner's TIFF) scaled to
    8 bits. Pillow's own conversion clips every value above 255, so a dark grey 16-bit
    photo (1000 of 65535) was stored as a white rectangle (adversarial review,
    2026-12-07); other modes are returned as they are."""
    sixteen = im.mode.startswith("I;16")
    if sixteen:
        im = im.convert("I")
    if im.mode not in ("I", "F"):
        return im
    _, high = im.getextrema()
    if sixteen:
        scale = 255.0 / 65535  # known to be 16-bit, however dark the photo is
    elif im.mode == "F" and high <= 1.0:
        scale = 255.0  # floating-point pixels from 0 to 1
    elif high > 255:
        scale = 255.0 / (65535 if high <= 65535 else high)
    else:
        scale = 1.0
    return im.point(lambda v: v * scale).convert("L")


# Per process: a pure function of the embedded profile's bytes.
@functools.lru_cache(maxsize=8)
def _transform_for(icc: bytes) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from an embedded profile to sRGB; None for sRGB or junk."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(source) or "").lower():
            return None
        return ImageCms.buildTransform(
            source, ImageCms.createProfile("sRGB"), "RGB", "RGB", ImageCms.Intent.PERCEPTUAL
        )
    except Exception:  # noqa: BLE001 - an unreadable profile is ignored, not fatal
        return None


def _fit(
    im: Image.Image, edge: int, method: Image.Resampling, reducing_gap: float = 3.0
) -> Image.Image:
    """Scale down so the long edge is at most ``edge`` (never up).

    Like the JPEG draft, an integer box reduction that lands within ``DRAFT_SLACK`` of
    the target is used as is (a 4032 px HEIC becomes 2016 px in a few milliseconds).
    """
    width, height = im.size
    if max(width, height) <= edge:
        return im
    factor = _reduction(im.size, edge)
    if factor >= 2:
        im = im.reduce(factor)
        width, height = im.size
        if max(width, height) <= edge:
            return im
    factor = edge / max(width, height)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return im.resize(size, method, reducing_gap=reducing_gap)


def _reduction(size: tuple[int, int], edge: int) -> int:
    """The integer box reduction ``_fit`` applies first (1: none) for a long ``edge``."""
    if max(size) <= edge:
        return 1
    return max(1, max(size) // int(edge * DRAFT_SLACK))


def _jpeg(im: Image.Image, quality: int, subsampling: int) -> bytes:
    """A baseline JPEG with nothing but pixels (no EXIF, ICC, XMP or comment).

    The full image keeps full colour resolution (4:4:4): spider veins are thin red lines,
    exactly what chroma subsampling blurs. Not progressive and not ``optimize``: on a
    noisy 2016 px photo they cost 5x and 2.4x the encode time for 8 % and 4 % fewer bytes.
    """
    im.info.clear()
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()
