"""ISP backends (ERPs). ``ISP_BACKEND`` names a module here; adding an ERP is
adding one module that defines ``create_backend(settings: IspSettings)``
returning an IspBackend (its own settings, e.g. ``IxcSettings``, beside it in
``bot/isp/settings.py``)."""
from __future__ import annotations

import importlib
from typing import Optional

from bot.isp.base import IspBackend
from bot.isp.settings import IspSettings, adapter_name
from bot.settings import SettingsError


def create_backend(name: Optional[str] = None, settings: Optional[IspSettings] = None) -> IspBackend:
    """The backend named ``name`` or by ``ISP_BACKEND`` (default ``demo``).

    Reads the settings now (callers keep the backend: once per process).
    """
    settings = settings or IspSettings.from_env()
    name = adapter_name(name) if name else settings.backend
    try:
        module = importlib.import_module(f"bot.isp.{name}")
    except ModuleNotFoundError:
        raise SettingsError(f"ISP_BACKEND={name!r}: no module bot/isp/{name}.py") from None
    return module.create_backend(settings)
