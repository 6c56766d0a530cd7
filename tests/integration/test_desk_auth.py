"""Desk logins, tokens, the login limit and the user CLI against the real Redis:
the shared server and a 3-master Redis Cluster (``redis_target``; the CLI
gets ``REDIS_CLUSTER=true`` there, like a deployment would)."""
import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from bot.desk import Desk
from bot.desk.keys import Keys
from channels.common.errors import status_of
from bot.desk.auth import AuthSettings
from bot.desk.errors import Conflict, InvalidInput, LoginLocked, Unauthorized
from bot.settings import SettingsError
from testing.processes import ROOT, project_env

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
SETTINGS = AuthSettings(secret=SECRET, token_ttl=3600, max_failures=5, window=300)


@pytest.fixture
def desk_run(redis_target, key_prefix):
    """``desk_run(scenario)`` runs ``async scenario(desk, auth)`` on a fresh loop."""
    prefix = f"{key_prefix}auth{uuid.uuid4().hex[:8]}"

    def run(scenario, settings=SETTINGS):
        async def main():
            client = redis_target.async_client()
            try:
                desk = Desk.create(client, prefix)
                return await scenario(desk, desk.auth(settings))
            finally:
                await client.close()

        return asyncio.run(main())

    run.prefix = prefix
    run.target = redis_target
    run.key = Keys(prefix, cluster=redis_target.cluster)
    yield run
    redis_target.delete_prefixed(prefix)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_login_gives_a_short_lived_hs256_token_with_the_agreed_claims(desk_run):
    async def scenario(desk, auth):
        await desk.users.create("Ana", "Ana Souza", "atendente", "Senha-da-ana1")
        before = int(time.time())
        session = await auth.login(" ANA ", "Senha-da-ana1", "10.0.0.1")
        assert jwt.get_unverified_header(session.token)["alg"] == "HS256"
        claims = jwt.decode(session.token, SECRET, algorithms=["HS256"])
        assert set(claims) == {"sub", "role", "jti", "iat", "exp", "auth_time"}
        assert (claims["sub"], claims["role"]) == ("ana", "atendente")
        assert before <= claims["iat"] and claims["exp"] == claims["iat"] + 3600
        verified = await auth.verify(session.token)
        assert (verified.username, verified.name, verified.role) == ("ana", "Ana Souza",
                                                                     "atendente")
        await desk.users.update("ana", role="supervisor")  # the current role wins
        assert (await auth.verify(session.token)).role == "supervisor"

    desk_run(scenario)


def test_expired_forged_alg_none_and_revoked_tokens_are_refused(desk_run):
    async def scenario(desk, auth):
        ana = await desk.users.create("ana", "Ana", "atendente", "Senha-da-ana1",
                                      now=time.time() - 7200)
        good = await auth.login("ana", "Senha-da-ana1", "10.0.0.2")
        expired = auth.issue(ana, now=time.time() - 3601)
        claims = jwt.decode(good.token, SECRET, algorithms=["HS256"])
        forged = jwt.encode(claims, "another-secret-of-the-same-length-as-ours!", "HS256")
        unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        no_jti = jwt.encode({k: v for k, v in claims.items() if k != "jti"}, SECRET, "HS256")
        for token, reason in ((expired.token, "expired"), (forged, "Signature"),
                              (unsigned, "invalid token"), (no_jti, "jti"),
                              ("not-a-jwt", "invalid token"), ("", "missing"), (None, "missing")):
            with pytest.raises(Unauthorized) as refused:
                await auth.verify(token)
            assert reason in refused.value.message and status_of(refused.value) == 401
        assert (await auth.verify(good.token)).username == "ana"
        await auth.logout(good.token)
        with pytest.raises(Unauthorized, match="revoked"):
            await auth.verify(good.token)

    desk_run(scenario)


def test_revocation_lasts_until_the_token_expires(desk_run):
    async def scenario(desk, auth):
        await desk.users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        session = await auth.login("ana", "Senha-da-ana1", "10.0.0.3")
        await auth.logout(session.token)
        return session

    session = desk_run(scenario)
    ttl = desk_run.target.client.ttl(desk_run.key("revoked", session.jti))
    assert 3590 <= ttl <= 3600


def test_disabled_unknown_and_password_changed_agents_lose_their_sessions(desk_run):
    async def scenario(desk, auth):
        users = desk.users
        await users.create("ana", "Ana", "atendente", "Senha-da-ana1", now=time.time() - 60)
        await users.create("bia", "Bia", "admin", "Senha-da-bia1", now=time.time() - 60)
        ana = await auth.login("ana", "Senha-da-ana1", "10.0.0.4")
        bia_old = auth.issue(await users.get("bia"), now=time.time() - 30)
        await users.set_disabled("ana")
        with pytest.raises(Unauthorized, match="disabled"):
            await auth.verify(ana.token)
        with pytest.raises(Unauthorized):  # and cannot log in again
            await auth.login("ana", "Senha-da-ana1", "10.0.0.4")
        await users.set_disabled("ana", False)
        assert (await auth.verify(ana.token)).username == "ana"
        await users.set_password("bia", "Nova-senha-bia1")
        with pytest.raises(Unauthorized, match="password change"):
            await auth.verify(bia_old.token)
        with pytest.raises(Unauthorized):
            await auth.login("bia", "Senha-da-bia1", "10.0.0.4")
        fresh = await auth.login("bia", "Nova-senha-bia1", "10.0.0.4")
        assert (await auth.verify(fresh.token)).role == "admin"
        ghost = jwt.encode({"sub": "ghost", "role": "admin", "jti": "x",
                            "iat": int(time.time()), "exp": int(time.time()) + 60},
                           SECRET, "HS256")
        with pytest.raises(Unauthorized, match="unknown"):
            await auth.verify(ghost)

    desk_run(scenario)


def test_five_failed_logins_lock_the_address_even_for_the_right_password(desk_run):
    async def scenario(desk, auth):
        await desk.users.create("ana", "Ana", "atendente", "Senha-da-ana1")
        for _ in range(2):  # successes do not count
            await auth.login("ana", "Senha-da-ana1", "10.0.0.5")
        for attempt in range(5):
            with pytest.raises(Unauthorized):
                await auth.login("ana" if attempt % 2 else "nobody", "errada!!", "10.0.0.5")
        with pytest.raises(LoginLocked) as locked:
            await auth.login("ana", "Senha-da-ana1", "10.0.0.5")
        assert status_of(locked.value) == 429 and 290 <= locked.value.retry_after <= 300
        assert await auth.failures("10.0.0.5") == 5
        # Another address is not affected.
        assert (await auth.login("ana", "Senha-da-ana1", "10.0.0.6")).agent.username == "ana"

    desk_run(scenario)


def test_concurrent_guesses_never_exceed_the_limit(desk_run):
    async def scenario(desk, auth):
        await desk.users.create("ana", "Ana", "atendente", "Senha-da-ana1")

        async def guess(n):
            try:
                await auth.login("ana", f"chute-{n:04d}", "10.0.0.7")
            except (Unauthorized, LoginLocked) as error:
                return type(error).__name__

        outcomes = await asyncio.gather(*(guess(n) for n in range(12)))
        assert outcomes.count("Unauthorized") == 5 and outcomes.count("LoginLocked") == 7
        assert await auth.failures("10.0.0.7") == 5

    desk_run(scenario)


def test_bad_login_input_and_settings_name_the_field(desk_run, monkeypatch):
    async def scenario(desk, auth):
        for username, password, field in (("", "x", "username"), ("ana", "", "password"),
                                          (None, "x", "username")):
            with pytest.raises(InvalidInput) as bad:
                await auth.login(username, password, "10.0.0.8")
            assert bad.value.field == field
        for args, field in ((("a", "Ana", "atendente", "Senha-longa1"), "username"),
                            (("ana", " ", "atendente", "Senha-longa1"), "name"),
                            (("ana", "Ana", "root", "Senha-longa1"), "role"),
                            (("ana", "Ana", "atendente", "curta"), "password")):
            with pytest.raises(InvalidInput) as bad:
                await desk.users.create(*args)
            assert bad.value.field == field
        await desk.users.create("ana", "Ana", "atendente", "Senha-longa1")
        with pytest.raises(Conflict):
            await desk.users.create("ana", "Outra Ana", "admin", "Senha-longa1")

    desk_run(scenario)
    monkeypatch.setenv("DESK_JWT_SECRET", "short")
    with pytest.raises(SettingsError, match="DESK_JWT_SECRET"):
        AuthSettings.from_env()
    monkeypatch.setenv("DESK_JWT_SECRET", SECRET)
    monkeypatch.setenv("DESK_TOKEN_TTL_SECONDS", "ten")
    with pytest.raises(SettingsError, match="DESK_TOKEN_TTL_SECONDS"):
        AuthSettings.from_env()
    monkeypatch.delenv("DESK_TOKEN_TTL_SECONDS")
    assert AuthSettings.from_env().token_ttl == 8 * 3600


def _cli(prefix, redis_target, *args, **env):
    return subprocess.run(
        [sys.executable, "-m", "bot.desk", *args], cwd=ROOT, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60,
        env=project_env(**{"REDIS_URL": redis_target.settings.url, "REDIS_KEY_PREFIX": prefix,
                           "REDIS_CLUSTER": "true" if redis_target.cluster else "false",
                           "DESK_USER_PASSWORD": "", **env}),
    )


def test_cli_creates_and_lists_agents_who_can_then_log_in(desk_run, redis_target):
    prefix = desk_run.prefix
    made = _cli(prefix, redis_target, "create-user", "--username", "ana", "--name",
                "Ana Souza", "--role", "admin", "--password", "Senha-da-ana1")
    assert made.returncode == 0 and "created admin ana" in made.stdout, made.stderr
    from_env = _cli(prefix, redis_target, "create-user", "--username", "bia", "--name", "Bia",
                    "--role", "atendente", DESK_USER_PASSWORD="Senha-da-bia1")
    assert from_env.returncode == 0, from_env.stderr
    listed = _cli(prefix, redis_target, "list-users", "--json")
    agents = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(a["username"], a["role"], a["disabled"]) for a in agents] == [
        ("ana", "admin", False), ("bia", "atendente", False)]
    assert "argon2" not in listed.stdout and "password_hash" not in listed.stdout
    assert _cli(prefix, redis_target, "disable-user", "--username", "bia").returncode == 0
    plain = _cli(prefix, redis_target, "list-users").stdout
    assert "bia\tatendente\tdisabled\tBia" in plain

    async def scenario(desk, auth):
        assert (await auth.login("ana", "Senha-da-ana1", "10.0.1.1")).agent.role == "admin"
        with pytest.raises(Unauthorized):
            await auth.login("bia", "Senha-da-bia1", "10.0.1.1")

    desk_run(scenario)


@pytest.mark.parametrize("args, code, message", [
    (["create-user", "--username", "x", "--name", "X", "--role", "admin", "--password",
      "Senha-longa1"], 2, "--username"),
    (["create-user", "--username", "joao", "--name", "Joao", "--role", "chefe",
      "--password", "Senha-longa1"], 2, "--role"),
    (["create-user", "--username", "joao", "--name", "Joao", "--role", "admin",
      "--password", "curta"], 2, "--password: 8 to 256 characters, with an upper-case letter and a digit"),
    (["create-user", "--username", "joao", "--name", "Joao", "--role", "admin"], 2,
     "--password: give --password, set DESK_USER_PASSWORD"),
    (["set-password", "--username", "ninguem", "--password", "Senha-longa1"], 1,
     "'ninguem' does not exist"),
    (["create-user", "--username", "ana", "--name", "Ana", "--role", "admin",
      "--password", "Senha-longa1"], 1, "'ana' already exists"),
])
def test_cli_errors_name_the_field(desk_run, redis_target, args, code, message):
    if "ana" in args:
        _cli(desk_run.prefix, redis_target, "create-user", "--username", "ana", "--name",
             "Ana", "--role", "admin", "--password", "Senha-longa1")
    result = _cli(desk_run.prefix, redis_target, *args)
    assert result.returncode == code and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_redis_down(desk_run, redis_target):
    result = _cli(desk_run.prefix, redis_target, "list-users", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1 and "Redis does not answer" in result.stderr


def test_refresh_rotates_the_token_until_the_session_is_a_day_old(desk_run):
    settings = AuthSettings(secret=SECRET, token_ttl=3600, max_failures=5, window=300, session_max=1800)

    async def scenario(desk, auth):
        await desk.users.create("ana", "Ana", "atendente", "Senha-da-ana1", now=time.time() - 60)
        login = await auth.login("ana", "Senha-da-ana1", "10.0.2.1")
        first = jwt.decode(login.token, SECRET, algorithms=["HS256"])
        assert first["exp"] == first["auth_time"] + 1800  # never past the session's end
        fresh = await auth.refresh(login.token)
        claims = jwt.decode(fresh.token, SECRET, algorithms=["HS256"])
        assert claims["auth_time"] == first["auth_time"] and claims["jti"] != first["jti"]
        assert claims["exp"] == first["auth_time"] + 1800
        assert (await auth.verify(fresh.token)).username == "ana"
        with pytest.raises(Unauthorized, match="revoked"):  # the old one is spent
            await auth.verify(login.token)
        with pytest.raises(Unauthorized):
            await auth.refresh(login.token)
        with pytest.raises(Unauthorized, match="log in again"):  # the session's end
            await auth.refresh(fresh.token, now=first["auth_time"] + 1800)
        with pytest.raises(Unauthorized):
            await auth.refresh("not-a-token")

    desk_run(scenario, settings)


@pytest.mark.parametrize("password", ["curta1A", "sem-maiuscula-1", "Sem-digito-nenhum", "A1"])
def test_new_passwords_need_eight_characters_an_upper_case_letter_and_a_digit(desk_run, password):
    async def scenario(desk, auth):
        with pytest.raises(InvalidInput) as bad:
            await desk.users.create("ana", "Ana", "atendente", password)
        assert bad.value.field == "password"

    desk_run(scenario)
