"""Keep Rasa from answering out of memory when our Redis stores fail.

``rasa.core.agent.Agent`` wraps every tracker store in
``FailSafeTrackerStore``, whatever endpoints.yml says. On an error it logs
and then: ``retrieve`` returns ``None`` (Rasa starts an empty conversation),
``save`` writes to an ``InMemoryTrackerStore`` and ``keys`` returns ``[]``.
The customer gets an answer that forgot the conversation and nothing reaches
Redis. Both of its error hooks are patched here to re-raise
:class:`StoreUnavailable`, so the turn fails and the channel answers 503 (or
makes Meta retry); errors of any other store keep Rasa's behaviour.

Why a patch: Rasa 3.6 offers no seam here. ``Agent._create_tracker_store``
wraps the store unconditionally and passes no ``on_tracker_store_error``
callback; a subclass named in endpoints.yml is wrapped all the same, and the
``create_tracker_store`` plugin hook's result is wrapped too. So the patch
stays, in this one module, and ``tests/unit/test_stores_package.py`` fails
if Rasa changes the wrapper underneath (then look for a seam again).
"""
from __future__ import annotations

from typing import Any, Callable

from rasa.core.tracker_store import FailSafeTrackerStore

from bot.stores.errors import StoreUnavailable


def _reraising(original: Callable[[Any, Exception], None]) -> Callable[[Any, Exception], None]:
    def hook(self: FailSafeTrackerStore, error: Exception) -> None:
        if isinstance(error, StoreUnavailable):
            raise error
        original(self, error)

    hook.__doc__ = original.__doc__
    hook._lets_store_errors_through = True  # type: ignore[attr-defined]
    return hook


def let_store_errors_through() -> None:
    """Patch ``FailSafeTrackerStore``'s error hooks (idempotent)."""
    for name in ("on_tracker_store_error", "on_tracker_store_retrieve_error"):
        original = getattr(FailSafeTrackerStore, name)
        if not getattr(original, "_lets_store_errors_through", False):
            setattr(FailSafeTrackerStore, name, _reraising(original))
