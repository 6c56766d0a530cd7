"""Our loggers log at Rasa's level, whatever a library does to the root logger.

Rasa sets the level of its own ``rasa`` logger (``--debug``, ``-v``,
``--quiet``, ``LOG_LEVEL``) and leaves every other logger to inherit the root
logger's. Loading the model imports skops, which imports ``numpy.distutils``,
which sets the *root* logger to WARNING (``set_verbosity(0, force=True)``
through setuptools' ``distutils.log``, a proxy of the root logger). From then
on every INFO line of ``channels.*`` and ``bot.*`` vanished from ``rasa run``
(``logging.yml`` or not): the drain's, WhatsApp's, the desk's. Our packages
now carry Rasa's level themselves. Masking is unaffected: every record is
masked when it is made (``bot.pii``).
"""
from __future__ import annotations

import logging

# The packages of ours that run inside `rasa run` (actions/ runs in the action server).
PROJECT_LOGGERS = ("channels", "bot", "components")


def follow_rasa_level() -> None:
    """Give our package loggers the level Rasa set on its own (INFO if none)."""
    level = logging.getLogger("rasa").level or logging.INFO
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(level)
