"""Settings of the ISP backend (``ISP_*``) and of its ERP adapters (``IXC_*``).

Read when the backend is created, which the action server does once per
process (``actions.backend.backend``); errors name the variable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.settings import SettingsError, env_float, env_str

_ADAPTER_NAME = re.compile(r"[a-z][a-z0-9_]*")
NOT_ADAPTERS = ("base", "caching", "settings", "demo_seed")


@dataclass(frozen=True)
class IspSettings:
    backend: str = "demo"  # a module of bot/isp (ISP_BACKEND)
    demo_db: str = "var/demo-isp.sqlite3"  # the demo ERP's SQLite file (ISP_DEMO_DB)
    cache_seconds: float = 10.0  # ERP answers reused this long; 0 turns it off (ISP_CACHE_SECONDS)

    @classmethod
    def from_env(cls) -> "IspSettings":
        return cls(
            backend=adapter_name(env_str("ISP_BACKEND", "demo")),
            demo_db=env_str("ISP_DEMO_DB", cls.demo_db),
            cache_seconds=env_float("ISP_CACHE_SECONDS", cls.cache_seconds),
        )

    @property
    def is_demo(self) -> bool:
        return self.backend == "demo"


def adapter_name(raw: str) -> str:
    """``ISP_BACKEND``, lower-cased; only a plain module name of bot/isp."""
    name = raw.strip().lower()
    if not _ADAPTER_NAME.fullmatch(name) or name in NOT_ADAPTERS:
        raise SettingsError(f"ISP_BACKEND must name an adapter module in bot/isp, got {name!r}")
    return name


@lru_cache(maxsize=1)
def isp_settings() -> IspSettings:
    """The process's ISP settings, read once."""
    return IspSettings.from_env()


@dataclass(frozen=True)
class IxcSettings:
    url: str
    user_id: str
    token: str
    timeout_seconds: float = 5.0
    ticket_subject_id: str = "1"
    ticket_sector_id: str = "1"

    @classmethod
    def from_env(cls) -> "IxcSettings":
        """``IXC_URL``, ``IXC_USER_ID``, ``IXC_TOKEN`` required; the rest optional."""
        required = {name: env_str(name) for name in ("IXC_URL", "IXC_USER_ID", "IXC_TOKEN")}
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise SettingsError(f"ISP_BACKEND=ixc needs {', '.join(missing)}")
        return cls(
            url=required["IXC_URL"],
            user_id=required["IXC_USER_ID"],
            token=required["IXC_TOKEN"],
            timeout_seconds=env_float("IXC_TIMEOUT_SECONDS", 5.0, 0.1),
            ticket_subject_id=env_str("IXC_TICKET_SUBJECT_ID", "1"),
            ticket_sector_id=env_str("IXC_TICKET_SECTOR_ID", "1"),
        )
