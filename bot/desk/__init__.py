"""The handoff desk's state: agents, logins, the queue and its conversations.

Rasa-free and Redis-only, so the action server (``action_handoff``), every
``rasa run`` replica (``channels/desk.py``) and the CLI
(``python -m bot.desk``) share one truth and a restart loses nothing.
:class:`Desk` wires the stores together on one Redis client.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Dict, Optional

from bot.desk.auth import Auth, AuthSettings
from bot.desk.conversations import Conversations
from bot.desk.events import DeskEvents
from bot.desk.keys import Keys
from bot.desk.users import Users
from bot.redis_pool import get_redis, get_subscriber_redis


@dataclass
class Desk:
    users: Users
    conversations: Conversations
    events: DeskEvents
    keys: Keys

    @classmethod
    def create(cls, redis=None, prefix: Optional[str] = None) -> "Desk":
        """All stores on ``redis`` (default: the process's shared client)."""
        subscriber = None if redis is not None else get_subscriber_redis()
        redis = redis if redis is not None else get_redis()
        keys = Keys(prefix)
        users = Users(redis, keys)
        events = DeskEvents(redis, keys, subscriber)
        return cls(users, Conversations(redis, users, events, keys), events, keys)

    @classmethod
    def shared(cls) -> "Desk":
        """The process's Desk for the running event loop (its Redis client is bound to it)."""
        loop = id(asyncio.get_event_loop())
        if loop not in _shared:
            _shared[loop] = cls.create()
        return _shared[loop]

    def auth(self, settings: Optional[AuthSettings] = None) -> Auth:
        """Logins and tokens; needs ``DESK_JWT_SECRET`` unless ``settings`` are given."""
        return Auth(self.users.redis, self.users, settings, self.keys)


_shared: Dict[int, Desk] = {}
