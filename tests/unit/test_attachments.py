"""Chat attachments checked before anything is fetched, and the SSRF guards of URL fetching (pure logic)."""
import asyncio

import pytest

from bot.errors import InvalidInput, PayloadTooLarge
from bot.media.attachments import base64_chars, parse_attachment
from bot.media.remote import PublicOnlyResolver, RefusedAddress, checked_url, is_public


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2804:14c::1", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1%eth0", False), ("fd00::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("224.0.0.1", False), ("255.255.255.255", False), ("not-an-ip", False),
])
def test_only_global_addresses_are_public(address, public):
    assert is_public(address) is public


@pytest.mark.parametrize("url, reason", [
    ("http://example.com/a.jpg", "https://"),
    ("https://example.com:444/a.jpg", "443"),
    ("https://u:p@example.com/a.jpg", "user or password"),
    ("https://10.0.0.1/a.jpg", "private"),
    ("https://[::ffff:7f00:1]/a.jpg", "private"),
    ("/relative.jpg", "absolute"),
    ("https://example.com/" + "a" * 2100, "2048"),
    ("https://xn--/a.jpg", "not a URL"),  # yarl cannot decode the name (a 500 before)
    ("https://a..b/a.jpg", "not a URL"),  # aiohttp could not encode it (a 500 before)
    ("https://" + "a" * 70 + ".com/a.jpg", "not a URL"),  # a label over 63 characters
])
def test_urls_that_could_reach_inside_are_refused(url, reason):
    with pytest.raises(InvalidInput) as error:
        checked_url(url, "attachment.url", ())
    assert error.value.field == "attachment.url" and reason in error.value.reason


def test_a_public_url_and_an_allowed_test_host_pass():
    assert str(checked_url("https://cdn.example.com/a.jpg?x=1", "u", ())) == "https://cdn.example.com/a.jpg?x=1"
    assert checked_url("http://127.0.0.1:8123/a.jpg", "u", ("127.0.0.1:8123",)).port == 8123
    with pytest.raises(InvalidInput):  # the allowance is for that exact host and port only
        checked_url("http://127.0.0.1:8124/a.jpg", "u", ("127.0.0.1:8123",))


def test_a_name_resolving_to_a_private_address_is_refused_by_the_connections_own_resolver():
    async def resolve(host, port, test_hosts=()):
        return await PublicOnlyResolver(test_hosts).resolve(host, port)

    for host in ("localhost", "0x7f.1", "2130706433", "127.1"):  # names the C resolver reads as 127.0.0.1
        with pytest.raises(RefusedAddress):
            asyncio.run(resolve(host, 443))
    assert asyncio.run(resolve("localhost", 8123, ("localhost:8123",)))[0]["host"] in ("127.0.0.1", "::1")


def test_an_attachment_is_a_url_or_base64_data_with_fields_named():
    assert parse_attachment(None) is None
    assert parse_attachment({"data": "aGVsbG8=", "filename": "a.png"}).data == b"hello"
    assert parse_attachment({"data": "data:image/png;base64,aGVsbG8="}).data == b"hello"  # a browser's data: URL
    assert parse_attachment({"url": "https://example.com/a.jpg"}, "data.attachment").field == "data.attachment.url"
    for value, field in [([], "attachment"), ({}, "attachment"), ({"url": "https://e.com/a", "data": "aA=="},
                         "attachment"), ({"data": "!!"}, "attachment.data"), ({"data": ""}, "attachment.data"),
                         ({"data": 3}, "attachment.data"), ({"url": None, "data": None}, "attachment"),
                         ({"name": "a"}, "attachment.name"), ({"data": "aA==", "filename": "x" * 300},
                                                              "attachment.filename")]:
        with pytest.raises(InvalidInput) as error:
            parse_attachment(value)
        assert error.value.field == field, value


def test_base64_beyond_the_limit_is_413_before_decoding():
    assert base64_chars(3) == 4 and base64_chars(4) == 8
    with pytest.raises(PayloadTooLarge) as error:
        parse_attachment({"data": "A" * 12}, max_data_chars=8)
    assert error.value.field == "attachment.data" and "send a url" in error.value.message
