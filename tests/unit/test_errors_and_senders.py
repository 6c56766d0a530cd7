"""The one error layer and the one sender-id helper (pure logic)."""
import json

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot import senders
from bot.errors import (
    AppError, Conflict, DependencyUnavailable, Forbidden, InvalidInput, MalformedRequest,
    NotFound, PayloadTooLarge, RateLimited, Unauthorized,
)
from channels.common.errors import MethodNotAllowed, as_app_error, error_response, status_of


@pytest.mark.parametrize("error, status", [
    (InvalidInput("to", "must be a phone number"), 422),
    (MalformedRequest("body: not valid JSON"), 400),
    (PayloadTooLarge("body: larger than 64 KiB"), 413),
    (Unauthorized("a bearer token is required"), 401),
    (Forbidden("supervisors only"), 403),
    (NotFound("conversation x not found"), 404),
    (Conflict("already claimed"), 409),
    (RateLimited("too many messages", retry_after=7), 429),
    (DependencyUnavailable("Redis does not answer"), 503),
    (AppError("a bug"), 500),
])
def test_each_error_has_one_status(error, status):
    assert status_of(error) == status
    assert error_response(error).status == status


def test_subclasses_inherit_the_status_of_their_parent():
    class AlreadyClaimed(Conflict):
        pass

    assert status_of(AlreadyClaimed("taken")) == 409


def test_body_names_the_field_and_rate_limits_say_when_to_retry():
    body = json.loads(error_response(InvalidInput("to", "must be E.164")).body)
    assert body == {"detail": "to: must be E.164", "field": "to"}
    limited = error_response(RateLimited("slow down", retry_after=0))
    assert limited.headers["Retry-After"] == "1"
    assert "field" not in json.loads(limited.body)


def test_401_says_bearer_and_405_lists_the_allowed_methods():
    assert error_response(Unauthorized("a bearer token is required")).headers["WWW-Authenticate"] == "Bearer"
    refused = error_response(MethodNotAllowed("POST", ("GET", "OPTIONS")))
    assert refused.status == 405 and refused.headers["Allow"] == "GET, OPTIONS"
    assert json.loads(refused.body) == {"detail": "method POST is not allowed here; use GET, OPTIONS"}


def test_redis_failures_are_503_and_bugs_are_not_ours():
    assert isinstance(as_app_error(RedisConnectionError("refused")), DependencyUnavailable)
    assert as_app_error(KeyError("x")) is None


@pytest.mark.parametrize("channel, local", [("wa", "5511999990000"), ("web", "abc-1"), ("api", "s1")])
def test_sender_ids_round_trip(channel, local):
    sender = senders.sender_id(channel, local)
    assert sender == f"{channel}:{local}"
    assert senders.split(sender) == (channel, local)
    assert senders.local_id(sender, channel) == local
    assert senders.sender_id(channel, sender) == sender  # already prefixed: kept
    assert senders.is_reserved(sender)


def test_other_ids_belong_to_no_channel():
    assert senders.split("maria") == (None, "maria")
    assert senders.channel_of("tel:5511") is None
    assert not senders.is_reserved("rest-user-1")
    with pytest.raises(ValueError, match="unknown channel"):
        senders.sender_id("sms", "1")
