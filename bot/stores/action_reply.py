"""Check the action server's replies with a JSON Schema validator built once.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls
``jsonschema.validate(result, schema)`` on every custom-action reply. That
function first re-checks the *schema* against its metaschema and builds a new
validator each time; for Rasa's events schema this is about 20 ms of CPU, half
of a whole turn here (bench/turn_profile.py, docs/benchmarks.md). The reply
itself still gets the same check: same schema (read from Rasa's own
``action_response_format_spec``), same validator class ``jsonschema`` picks,
same best error, same message added, same ``ValidationError`` raised.

Each event is checked against its own type's part of the schema. Rasa's
events schema is a ``oneOf`` of 23 parts, one per event type, each fixing
``event`` to its own name; ``oneOf`` makes the validator try all 23 on every
event (about 0.3 ms of a 5-6 ms turn). An event whose ``event`` names one
type can only match that type's part, so a reply whose events each match
their own type's part (and whose rest matches the schema without the
``oneOf``) is valid for the whole schema too; anything else goes through the
whole schema, for Rasa's own error. :func:`_parts_by_type` checks at build
time that the schema is still shaped so (otherwise the whole schema always).

Why a patch: Rasa 3.6 has no setting and no seam for it (``RemoteAction`` is
built by ``rasa.core.actions.action.action_for_name_or_text`` with no class
to choose). So it lives in this one module, applied with the store patch in
``failsafe.py`` when the tracker store is built, and
``tests/unit/test_action_reply.py`` fails if Rasa changes the method or where
``run`` calls it.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Dict, Optional, Text

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


def _parts_by_type(schema: Dict[Text, Any]) -> Optional[Dict[Text, Dict[Text, Any]]]:
    """Event type name -> its part of the events ``oneOf``; None unless every part
    fixes ``event`` to a name of its own and every event must carry a string ``event``."""
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    if "event" not in items.get("required", ()) or items.get("properties", {}).get("event") != {"type": "string"}:
        return None
    parts: Dict[Text, Dict[Text, Any]] = {}
    for part in items.get("oneOf", ()):
        name = part.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str) or name in parts:
            return None
        parts[name] = part
    return parts or None


@functools.lru_cache(maxsize=1)
def _by_type_validators():
    """(validator of the schema without the events' ``oneOf``, one validator per event
    type), or None when the schema is not shaped for it."""
    schema = RemoteAction.action_response_format_spec()
    parts = _parts_by_type(schema)
    if parts is None:
        return None
    cls = validator_for(schema)
    rest = copy.deepcopy(schema)
    del rest["properties"]["events"]["items"]["oneOf"]
    return cls(rest), {name: cls(part) for name, part in parts.items()}


def _valid_by_type(result: Any) -> bool:
    """True only when the whole schema would accept ``result`` (False: ask it)."""
    validators = _by_type_validators()
    if validators is None:
        return False
    rest, by_type = validators
    if not rest.is_valid(result):
        return False
    for event in result.get("events") or ():
        part = by_type.get(event["event"])
        if part is None or not part.is_valid(event):
            return False
    return True


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """Rasa's ``_validate_action_result`` without rebuilding the validator per call."""
    if _valid_by_type(result):
        return True
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

