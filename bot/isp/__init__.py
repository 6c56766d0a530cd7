"""ISP backends (ERPs). ``ISP_BACKEND`` names a module here; adding an ERP is
adding one module that defines ``create_backend()`` returning an IspBackend."""
from __future__ import annotations

import importlib
import os
import re

from bot.isp.base import IspBackend


def create_backend(name: str | None = None) -> IspBackend:
    """The backend named by ``ISP_BACKEND`` (default ``demo``)."""
    name = (name or os.environ.get("ISP_BACKEND") or "demo").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in ("base", "caching"):
        raise ValueError(f"ISP_BACKEND must name an adapter module in bot/isp, got {name!r}")
    try:
        module = importlib.import_module(f"bot.isp.{name}")
    except ModuleNotFoundError:
        raise ValueError(f"ISP_BACKEND={name!r}: no module bot/isp/{name}.py") from None
    return module.create_backend()
