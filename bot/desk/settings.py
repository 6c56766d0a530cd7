"""The desk's settings: every ``DESK_*`` variable, typed and checked in one place.

Read by :meth:`DeskSettings.from_env` when a :class:`bot.desk.Desk` is built
(the process's shared Desk is built once per event loop), or once per process
through :func:`desk_settings`. A bad value is a ``SettingsError`` that names
the variable. ``DESK_JWT_SECRET`` is only required where logins are checked
(the Rasa server), so the action server and the CLI run without it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.desk.hours import BusinessHours
from bot.settings import SECRET_MIN_CHARS, SettingsError, env_int, env_str


@dataclass(frozen=True)
class AuthSettings:
    """What :class:`bot.desk.auth.Auth` needs: the signing key and the login limits."""

    secret: str
    token_ttl: int
    max_failures: int
    window: int
    session_max: int = 24 * 3600  # refreshes stop this long after the login

    @classmethod
    def from_env(cls) -> "AuthSettings":
        return DeskSettings.from_env().auth()


@dataclass(frozen=True)
class DeskSettings:
    jwt_secret: str  # DESK_JWT_SECRET; "" when unset (then no logins: see auth())
    token_ttl_seconds: int  # DESK_TOKEN_TTL_SECONDS
    session_max_seconds: int  # DESK_SESSION_MAX_SECONDS: no refresh past this since the login
    login_max_failures: int  # DESK_LOGIN_MAX_FAILURES per address ...
    login_window_seconds: int  # ... within DESK_LOGIN_WINDOW_SECONDS
    presence_ttl_seconds: int  # DESK_PRESENCE_TTL_SECONDS without a heartbeat = offline
    retention_days: int  # DESK_RETENTION_DAYS a closed conversation is kept
    default_handling_seconds: int  # DESK_DEFAULT_HANDLING_SECONDS before any was closed
    position_check_seconds: int  # DESK_POSITION_CHECK_SECONDS between queue rounds
    position_notice_seconds: int  # DESK_POSITION_NOTICE_SECONDS between notices to one customer
    position_leader_seconds: int  # DESK_POSITION_LEADER_SECONDS lease of the notifying replica
    hours: BusinessHours  # DESK_HOURS and DESK_HOLIDAYS
    api_rate_limit_per_minute: int = 600  # DESK_API_RATE_LIMIT_PER_MINUTE per agent (per address before login)
    departments_file: str = "desk_departments.yml"  # DESK_DEPARTMENTS_FILE: seed departments and routing
    default_capacity: int = 5  # DESK_DEFAULT_CAPACITY: conversations an agent is auto-assigned at most
    assign_seconds: int = 1  # DESK_ASSIGN_SECONDS between automatic-assignment rounds
    offline_grace_seconds: int = 300  # DESK_OFFLINE_GRACE_SECONDS before an absent agent's conversations go back
    first_response_target_seconds: int = 300  # DESK_FIRST_RESPONSE_TARGET_SECONDS (SLA, per department too)
    resolution_target_seconds: int = 4 * 3600  # DESK_RESOLUTION_TARGET_SECONDS
    auto_handoff: str = "offer"  # DESK_AUTO_HANDOFF: offer | handoff | off, when the bot keeps failing
    auto_handoff_fallbacks: int = 2  # DESK_AUTO_HANDOFF_FALLBACKS not-understood answers in a row
    auto_handoff_repeats: int = 3  # DESK_AUTO_HANDOFF_REPEATS times in a row the same request

    @classmethod
    def from_env(cls) -> "DeskSettings":
        return cls(
            jwt_secret=env_str("DESK_JWT_SECRET"),
            token_ttl_seconds=env_int("DESK_TOKEN_TTL_SECONDS", 8 * 3600, 60),
            session_max_seconds=env_int("DESK_SESSION_MAX_SECONDS", 24 * 3600, 60),
            login_max_failures=env_int("DESK_LOGIN_MAX_FAILURES", 5, 1),
            login_window_seconds=env_int("DESK_LOGIN_WINDOW_SECONDS", 300, 1),
            presence_ttl_seconds=env_int("DESK_PRESENCE_TTL_SECONDS", 90, 5),
            retention_days=env_int("DESK_RETENTION_DAYS", 90, 1),
            default_handling_seconds=env_int("DESK_DEFAULT_HANDLING_SECONDS", 300, 1),
            position_check_seconds=env_int("DESK_POSITION_CHECK_SECONDS", 15, 1),
            position_notice_seconds=env_int("DESK_POSITION_NOTICE_SECONDS", 60, 1),
            position_leader_seconds=env_int("DESK_POSITION_LEADER_SECONDS", 45, 2),
            hours=BusinessHours.from_env(),
            api_rate_limit_per_minute=env_int("DESK_API_RATE_LIMIT_PER_MINUTE", 600, 0),
            departments_file=env_str("DESK_DEPARTMENTS_FILE", "desk_departments.yml"),
            default_capacity=env_int("DESK_DEFAULT_CAPACITY", 5, 1),
            assign_seconds=env_int("DESK_ASSIGN_SECONDS", 1, 1),
            offline_grace_seconds=env_int("DESK_OFFLINE_GRACE_SECONDS", 300, 10),
            first_response_target_seconds=env_int("DESK_FIRST_RESPONSE_TARGET_SECONDS", 300, 30),
            resolution_target_seconds=env_int("DESK_RESOLUTION_TARGET_SECONDS", 4 * 3600, 60),
            auto_handoff=env_choice("DESK_AUTO_HANDOFF", "offer", AUTO_HANDOFF_MODES),
            auto_handoff_fallbacks=env_int("DESK_AUTO_HANDOFF_FALLBACKS", 2, 1),
            auto_handoff_repeats=env_int("DESK_AUTO_HANDOFF_REPEATS", 3, 2),
        )

    def auth(self) -> AuthSettings:
        """The login settings; ``SettingsError`` naming ``DESK_JWT_SECRET`` when it is unusable."""
        if len(self.jwt_secret) < SECRET_MIN_CHARS:
            raise SettingsError(
                f"DESK_JWT_SECRET must be set to at least {SECRET_MIN_CHARS} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        return AuthSettings(self.jwt_secret, self.token_ttl_seconds, self.login_max_failures,
                            self.login_window_seconds, max(self.session_max_seconds, self.token_ttl_seconds))


AUTO_HANDOFF_MODES = ("offer", "handoff", "off")


def env_choice(name: str, default: str, choices: tuple) -> str:
    value = (env_str(name) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
    return value


@lru_cache(maxsize=1)
def desk_settings() -> DeskSettings:
    """The process's desk settings, read on first use."""
    return DeskSettings.from_env()
