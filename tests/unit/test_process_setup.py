"""Process set-up of `rasa run` (channels/common/logs.py, workers.py), without a server:
our loggers keep Rasa's level when a library lowers the root logger's, and a forked
Sanic worker drops the main process' signal handler it inherited."""
from __future__ import annotations

import logging
import os
import signal

import pytest

from channels.common import logs, workers


@pytest.fixture
def levels():
    names = ("", "rasa") + logs.PROJECT_LOGGERS
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_our_loggers_keep_rasas_level_when_the_root_logger_changes(levels):
    logging.getLogger("rasa").setLevel(logging.INFO)
    logs.follow_rasa_level()
    logging.getLogger().setLevel(logging.WARNING)  # what importing numpy.distutils does
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    try:
        logging.getLogger("channels.rest").info("kept")
        logging.getLogger("bot.desk").debug("below Rasa's level")
        logging.getLogger("elsewhere").info("not ours: the root level applies")
    finally:
        logging.getLogger().removeHandler(collect)
    assert collect.lines == ["kept"]


def test_our_loggers_follow_debug(levels):
    logging.getLogger("rasa").setLevel(logging.DEBUG)  # rasa run --debug
    logs.follow_rasa_level()
    assert all(logging.getLogger(name).level == logging.DEBUG for name in logs.PROJECT_LOGGERS)


def _forked_handlers(parent_handler) -> str:
    """Fork with ``parent_handler`` on SIGTERM; what the child has on SIGTERM and SIGINT."""
    previous = signal.signal(signal.SIGTERM, parent_handler)
    read, write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # the child: report and leave without running pytest's exit handlers
            term, interrupt = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
            name = getattr(term, "__name__", str(term))
            os.write(write, f"{name} {interrupt is signal.SIG_IGN}".encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read) as pipe:
            return pipe.read()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sanic_worker_drops_the_inherited_handler():
    workers.install()
    workers.install()  # once per process however many connectors call it
    # a handler defined where Sanic's serve_multiple defines its own
    sanic_like = eval(compile("lambda s, f: None", "/x/site-packages/sanic/server/runners.py", "eval"))
    assert _forked_handlers(sanic_like) == "_stop_starting_worker True"


def test_other_forks_keep_their_handlers():
    workers.install()

    def own_handler(signum, frame):
        pass

    assert _forked_handlers(own_handler).startswith("own_handler ")


def test_a_serving_worker_freezes_what_it_loaded_out_of_the_collector():
    import asyncio
    import gc

    before = gc.get_threshold()
    loaded = [[] for _ in range(1000)]  # stands for the model (containers: what the collector walks)
    try:
        asyncio.run(workers.freeze_loaded_objects())
        assert gc.get_freeze_count() >= len(loaded) and not gc.is_finalized(loaded)
        assert all(not any(o is x for x in gc.get_objects(0)) for o in loaded[:3])  # out of the young generation
        assert gc.get_threshold() == workers.GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
