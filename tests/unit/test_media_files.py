"""What a file is, what it may be called, and who may open it (pure logic of bot/media)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import Forbidden, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from bot.media import MediaLinks, inspect_file
from bot.media.files import RECEIVABLE, safe_filename, sniff


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("PDF", "application/pdf"),
                                       ("WEBP", "image/webp")])
def test_the_type_comes_from_the_bytes(fmt, mime):
    assert sniff(image_bytes(fmt)) == mime


def test_a_file_is_named_for_what_it_is_whatever_it_was_called():
    checked = inspect_file(image_bytes("PDF"), "../../etc/Boleto Março.exe")
    assert (checked.kind, checked.mime, checked.filename) == ("document", "application/pdf", "Boleto Marco.pdf")
    assert checked.size > 0 and len(checked.sha256) == 64


@pytest.mark.parametrize("name, extension, expected", [
    ("", "png", "arquivo.png"), ("...", "pdf", "arquivo.pdf"), ('a"b<c>.png', "png", "a_b_c.png"),
    ("C:\\Users\\ana\\foto.JPG", "jpg", "foto.jpg"), ("x" * 300 + ".pdf", "pdf", "x" * 96 + ".pdf"),
])
def test_safe_filenames(name, extension, expected):
    assert safe_filename(name, extension) == expected


def test_refusals_name_the_field():
    with pytest.raises(InvalidInput) as empty:
        inspect_file(b"", "a.png")
    assert empty.value.field == "file"
    with pytest.raises(UnsupportedMediaType) as script:
        inspect_file(b"<svg onload=alert(1)>", "a.png", field="upload")
    assert script.value.field == "upload" and "jpg" in script.value.message
    with pytest.raises(UnsupportedMediaType):  # an agent may not send a sticker; a customer may
        inspect_file(image_bytes("WEBP"), "s.webp")
    assert inspect_file(image_bytes("WEBP"), "s.webp", allowed=RECEIVABLE).kind == "sticker"
    with pytest.raises(PayloadTooLarge) as big:
        inspect_file(image_bytes("PNG"), "a.png", max_bytes={"image": 10})
    assert big.value.field == "file"


def test_links_are_signed_bound_to_the_file_and_expire():
    links = MediaLinks("k" * 32, "https://bot.example.com")
    path = links.path("A" * 22, 60, now=1000)
    expires, signature = path.split("expires=")[1].split("&signature=")
    assert expires == "1060" and links.url("A" * 22, 60, now=1000) == "https://bot.example.com" + path
    links.check("A" * 22, expires, signature, now=1059)
    for media_id, when, sig, now in [("B" * 22, expires, signature, 1000), ("A" * 22, "1061", signature, 1000),
                                     ("A" * 22, expires, signature, 1061), ("A" * 22, expires, "", 1000),
                                     ("A" * 22, "-5", signature, 1000), ("A" * 22, expires, "\u00e9" * 64, 1000),
                                     ("A" * 22, "\u00b2", signature, 1000)]:
        with pytest.raises(Forbidden):
            links.check(media_id, when, sig, now=now)
    with pytest.raises(Forbidden):  # another secret signs another link
        MediaLinks("z" * 32).check("A" * 22, expires, signature, now=1000)
