"""Key names Redis Cluster can hold: hash tags on the keys used together.

A Lua script (or MULTI) may only touch keys of one hash slot. On a cluster
(``REDIS_CLUSTER=true``) the keys one script touches therefore share a hash
tag, the part of the name between the first ``{`` and the next ``}``:

* per conversation (tracker events + meta, lock queue + counter, outbox):
  ``<prefix>:<kind>:{conv:<sender_id>}``. The tag starts with ``conv:`` so it
  is never empty (an empty ``{}`` would hash the whole name) and ends at the
  first ``}`` of the sender id, the same for every key of that conversation,
  since the prefix and the kind hold no brace. Step-up codes already use it.
* features whose scripts combine keys across conversations (the desk: queue,
  conversations, agents, logins; WhatsApp: de-duplication records and the
  inbox): one tag for the whole feature, ``{<prefix>:desk}:...``,
  ``{<prefix>:wa}:...``, so that feature lives in one slot (one master).

On a single server the names stay as they always were (no tag), so an
existing deployment needs no migration; the layout changes only when
``REDIS_CLUSTER`` is switched on, which is a new Redis anyway.
"""
from __future__ import annotations

CONVERSATION_TAG = "conv:"


def conversation_part(sender_id: str, cluster: bool) -> str:
    """The conversation's part of a key name: tagged on a cluster."""
    return "{%s%s}" % (CONVERSATION_TAG, sender_id) if cluster else sender_id


def sender_of_part(part: str, cluster: bool) -> str:
    """Inverse of :func:`conversation_part` (for SCAN results)."""
    if cluster and part.startswith("{" + CONVERSATION_TAG) and part.endswith("}"):
        return part[len(CONVERSATION_TAG) + 1:-1]
    return part


def feature_prefix(prefix: str, feature: str, cluster: bool) -> str:
    """``<prefix>:<feature>``, or ``{<prefix>:<feature>}`` (one slot) on a cluster."""
    name = f"{prefix}:{feature}"
    return "{%s}" % name if cluster else name
