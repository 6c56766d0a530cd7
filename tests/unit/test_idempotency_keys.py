"""Idempotency-Key format (channels/common/idempotency.py): 1-128 visible ASCII, else 422 naming the field."""
from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from channels.common.errors import status_of
from channels.common.idempotency import fingerprint, parse_key


@pytest.mark.parametrize("key", ["a", "order-1", "x" * 128, "!~#$%&'()*+,-./:;<=>?@[]^_`{|}", "550e8400-e29b-41d4"])
def test_good_keys_pass(key):
    assert parse_key(key) == key


def test_no_key_is_none():
    assert parse_key(None) is None


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 129, "tab\there", "ção", "nl\n", "\x7f", 12])
def test_bad_keys_are_422_naming_the_field(key):
    with pytest.raises(InvalidInput) as error:
        parse_key(key)
    assert error.value.field == "Idempotency-Key" and status_of(error.value) == 422
    with pytest.raises(InvalidInput) as frame_error:
        parse_key(key, "id")
    assert frame_error.value.field == "id"


def test_the_fingerprint_tells_requests_apart():
    assert fingerprint("oi", {"a": 1}) == fingerprint("oi", {"a": 1})
    assert fingerprint("oi", None) != fingerprint("oi ", None)
