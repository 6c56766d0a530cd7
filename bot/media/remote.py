"""A file fetched from a URL a chat client gave us, without letting the URL reach inside.

A URL attachment (REST, WebSocket) makes the server fetch whatever the client
names: without guards, the Redis port, the cloud metadata service
(169.254.169.254) or an admin page on the private network (SSRF). So:

- ``https`` on port 443 only, no user or password in the URL, at most 2,048 characters;
- the host's addresses must all be public (``ipaddress.is_global``): an IP
  literal is checked as written, a name when it is resolved, by the resolver
  the connection itself uses, so a DNS answer cannot change between the
  check and the connection (rebinding);
- no redirects (a 3xx is refused: the client gives the file's final URL);
- at most the largest file we keep (``Content-Length`` first, then counted
  while reading) and ``MEDIA_URL_TIMEOUT_SECONDS`` in all.

Tests serve files from 127.0.0.1: ``MEDIA_URL_TEST_HOSTS`` lists exact
``host:port`` pairs allowed over plain http on any address. Never set it in
production (the README says so; ``make run`` does not).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.errors import InvalidInput, PayloadTooLarge

logger = logging.getLogger(__name__)

MAX_URL_CHARS = 2048
CHUNK = 64 * 1024


class RefusedAddress(Exception):
    """The URL's host is not a public address (not an OSError: aiohttp must not retry it)."""


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(ThreadedResolver):
    """Resolves like aiohttp does, and refuses a name with any non-public address."""

    def __init__(self, test_hosts: Tuple[str, ...]) -> None:
        super().__init__()
        self.test_hosts = test_hosts

    async def resolve(self, hostname: str, port: int = 0, family: int = socket.AF_INET) -> List[Dict[str, Any]]:
        hosts = await super().resolve(hostname, port, family)
        if f"{hostname}:{port}" in self.test_hosts:
            return hosts
        if not hosts or not all(is_public(entry["host"]) for entry in hosts):
            raise RefusedAddress(hostname)
        return hosts


def checked_url(value: str, field: str, test_hosts: Tuple[str, ...]) -> URL:
    """The URL if it may be fetched; InvalidInput naming ``field`` otherwise."""
    if len(value) > MAX_URL_CHARS:
        raise InvalidInput(field, f"must be at most {MAX_URL_CHARS} characters")
    try:
        url = URL(value)
        host = url.host  # decoded here: an invalid "xn--" name raises (UnicodeError is a ValueError)
    except (ValueError, TypeError):
        raise InvalidInput(field, "is not a URL") from None
    if not url.is_absolute() or not host:
        raise InvalidInput(field, "must be an absolute https:// URL")
    if url.user or url.password:
        raise InvalidInput(field, "must not carry a user or password")
    if f"{host}:{url.port}" in test_hosts and url.scheme in ("http", "https"):
        return url
    if url.scheme != "https":
        raise InvalidInput(field, "must be an https:// URL")
    if url.port != 443:
        raise InvalidInput(field, "must use the https port (443)")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:  # a name: its addresses are checked when resolved; here, that it is one
            host.encode("idna").decode("idna")
        except UnicodeError:
            raise InvalidInput(field, "is not a URL (its host is no valid name)") from None
        return url
    if not is_public(str(literal)):
        raise InvalidInput(field, "must not point to a private, loopback or reserved address")
    return url


async def fetch_url(value: str, field: str, max_bytes: int, timeout_seconds: float,
                    test_hosts: Tuple[str, ...] = ()) -> Tuple[bytes, Optional[str]]:
    """The file's bytes and declared type; InvalidInput (422) or PayloadTooLarge (413) naming ``field``."""
    url = checked_url(value, field, test_hosts)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(test_hosts), force_close=True)
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            async with session.get(url, allow_redirects=False, headers={"User-Agent": "isp-bot-media/1"}) as answer:
                if 300 <= answer.status < 400:
                    raise InvalidInput(field, "redirects are not followed: give the file's final URL")
                if answer.status != 200:
                    raise InvalidInput(field, f"the server answered HTTP {answer.status}")
                if answer.content_length is not None and answer.content_length > max_bytes:
                    raise PayloadTooLarge(f"{field}: the file has {answer.content_length} bytes; "
                                          f"at most {max_bytes}", field)
                data = bytearray()
                async for chunk in answer.content.iter_chunked(CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        raise PayloadTooLarge(f"{field}: the file has more than {max_bytes} bytes", field)
                return bytes(data), answer.headers.get("Content-Type")
    except RefusedAddress:
        raise InvalidInput(field, "must not point to a private, loopback or reserved address") from None
    except asyncio.TimeoutError:
        raise InvalidInput(field, f"could not be fetched within {timeout_seconds:g}s") from None
    except aiohttp.ClientError as error:
        logger.info("media: a client's URL could not be fetched: %s", type(error).__name__)
        raise InvalidInput(field, f"could not be fetched ({type(error).__name__})") from None
