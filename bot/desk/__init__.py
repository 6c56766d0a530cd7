"""The handoff desk's state: agents, logins, the queue and its conversations.

Rasa-free and Redis-only, so the action server (``action_handoff``), every
``rasa run`` replica (``channels/desk/``) and the CLI
(``python -m bot.desk``) share one truth and a restart loses nothing.
:class:`Desk` wires the stores together on one Redis client.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Dict, Optional

from bot.desk.auth import Auth
from bot.desk.canned import CannedReplies
from bot.desk.conversations import Conversations
from bot.desk.departments import Departments
from bot.desk.events import DeskEvents
from bot.desk.keys import Keys
from bot.desk.settings import AuthSettings, DeskSettings
from bot.desk.users import Users
from bot.redis_pool import get_redis, get_subscriber_redis, is_cluster


@dataclass
class Desk:
    users: Users
    conversations: Conversations
    departments: Departments
    canned: CannedReplies
    events: DeskEvents
    keys: Keys
    settings: DeskSettings
    _auth: Optional[Auth] = field(default=None, init=False, repr=False)

    @classmethod
    def create(cls, redis=None, prefix: Optional[str] = None,
               settings: Optional[DeskSettings] = None) -> "Desk":
        """All stores on ``redis`` (default: the process's shared client).

        The ``DESK_*`` settings are read here, once per Desk, unless given.
        """
        settings = settings or DeskSettings.from_env()
        subscriber = None if redis is not None else get_subscriber_redis()
        redis = redis if redis is not None else get_redis()
        keys = Keys(prefix, cluster=is_cluster(redis))
        users = Users(redis, keys, presence_ttl=settings.presence_ttl_seconds)
        events = DeskEvents(redis, keys, subscriber)
        conversations = Conversations(redis, users, events, keys, settings)
        return cls(users, conversations, Departments(redis, keys), CannedReplies(redis, keys), events, keys,
                   settings)

    @classmethod
    def shared(cls) -> "Desk":
        """The process's Desk for the running event loop (its Redis client is bound to it)."""
        loop = id(asyncio.get_event_loop())
        if loop not in _shared:
            _shared[loop] = cls.create()
        return _shared[loop]

    def auth(self, settings: Optional[AuthSettings] = None) -> Auth:
        """Logins and tokens; ``SettingsError`` without a usable ``DESK_JWT_SECRET``
        unless ``settings`` are given."""
        if settings is not None:
            return Auth(self.users.redis, self.users, settings, self.keys)
        if self._auth is None:
            self._auth = Auth(self.users.redis, self.users, self.settings.auth(), self.keys)
        return self._auth


_shared: Dict[int, Desk] = {}
