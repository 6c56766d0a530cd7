"""The desk's routes map errors only through channels/common/errors.py."""
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.desk.errors import AlreadyClaimed, Conflict, LoginLocked, Unauthorized
from bot.errors import UpstreamFailed
from channels.common.errors import as_app_error, error_response, status_of
from channels.desk.input import DeskInput
from channels.desk.ws import error_code


def test_desk_errors_get_their_status_from_the_common_mapping():
    assert status_of(AlreadyClaimed("c1", "in_progress", "ana")) == 409
    locked = error_response(LoginLocked(42))
    assert (locked.status, locked.headers["Retry-After"]) == (429, "42")
    assert status_of(UpstreamFailed("refused", "channel")) == 502
    down = error_response(as_app_error(RedisConnectionError("gone")))
    assert down.status == 503 and b"Redis" in down.body


def test_a_401_names_the_bearer_scheme():
    answer = error_response(Unauthorized("token expired"))
    assert (answer.status, answer.headers["WWW-Authenticate"]) == (401, "Bearer")


def test_socket_error_codes():
    assert error_code(Conflict("not deliverable", "channel")) == "rejected"
    assert error_code(AlreadyClaimed("c1", "in_progress", "ana")) == "alreadyclaimed"


def test_every_route_is_registered_once():
    uris = sorted((route.uri, tuple(sorted(route.methods or ())))
                  for route in DeskInput().blueprint(None)._future_routes)
    assert len(uris) == len(set(uris)) == 44  # 19 + refresh, departments (3), canned (4), labels, notes, search, assist, reports, outreach, attachments, /media
