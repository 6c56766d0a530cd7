"""Custom actions of the ISP assistant, served by ``rasa run actions``.

Actions stay thin: they read the tracker, call ``bot`` and answer. Importing
this package masks personal data in every log line of the action server.
"""
from bot.pii import install_log_masking

install_log_masking()
