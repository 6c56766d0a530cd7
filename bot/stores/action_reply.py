"""Check the action server's replies with a JSON Schema validator built once.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls
``jsonschema.validate(result, schema)`` on every custom-action reply. That
function first re-checks the *schema* against its metaschema and builds a new
validator each time; for Rasa's events schema this is about 20 ms of CPU, half
of a whole turn here (bench/turn_profile.py, docs/benchmarks.md). The reply
itself still gets the same check: same schema (read from Rasa's own
``action_response_format_spec``), same validator class ``jsonschema`` picks,
same best error, same message added, same ``ValidationError`` raised.

Why a patch: Rasa 3.6 has no setting and no seam for it (``RemoteAction`` is
built by ``rasa.core.actions.action.action_for_name_or_text`` with no class
to choose). So it lives in this one module, applied with the store patch in
``failsafe.py`` when the tracker store is built, and
``tests/unit/test_action_reply.py`` fails if Rasa changes the method or where
``run`` calls it.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Text

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

@functools.lru_cache(maxsize=1)
def _reply_validator():
    """The validator for Rasa's reply schema, checked and built on first use."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """Rasa's ``_validate_action_result`` without rebuilding the validator per call."""
    error = best_match(_reply_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


validate_action_result.prebuilt = True  # type: ignore[attr-defined]


def validate_replies_with_a_prebuilt_validator() -> None:
    """Replace ``RemoteAction._validate_action_result`` (idempotent)."""
    if not getattr(RemoteAction._validate_action_result, "prebuilt", False):
        RemoteAction._validate_action_result = validate_action_result

