"""Sanic worker processes (``SANIC_WORKERS`` > 1): stopping one that is still starting.

Sanic 21.12's ``serve_multiple`` sets its SIGINT/SIGTERM handler (send SIGTERM
to every worker) in the main process, then forks the workers. A worker keeps
that inherited handler until its event loop installs its own, after the
``before_server_start`` listeners, i.e. after Rasa loaded the model (a minute
on a busy machine). A SIGTERM or Ctrl-C in that window ran the *parent's*
handler in the worker: it signalled the siblings forked before it, raised
``ProcessLookupError`` into the model load, and the worker went on to serve
without a model while the main process waited for it forever. That was the
multi-worker shutdown hang.

:func:`install` (before the fork) gives each worker handlers of its own:
SIGTERM ends a worker that is still starting at once (it serves nothing yet
and holds no conversation lock; once it serves, Sanic's handler and the drain
in ``drain.py`` take over), SIGINT is ignored as Sanic itself does in a
running worker (the main process turns Ctrl-C into a SIGTERM for each). On
Linux a worker also asks for SIGTERM when the main process dies, so a main
process killed with SIGKILL leaves no worker holding the port.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
from typing import Any, Optional

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Python's default is (700, 10, 10): a turn allocates thousands of objects, so young
# collections ran several times a turn; 20,000 keeps each one short and rare.
GC_THRESHOLDS = (20_000, 50, 50)
_installed = False
_main_pid: Optional[int] = None


def _is_sanic_main_handler(handler: Any) -> bool:
    """The handler ``serve_multiple`` sets (a lambda in sanic/server/runners.py)."""
    code = getattr(handler, "__code__", None)
    return code is not None and code.co_filename.replace(os.sep, "/").endswith("sanic/server/runners.py")


def _stop_starting_worker(signum: int, _frame: Any) -> None:
    logger.info("worker %d: %s while starting, exiting", os.getpid(), signal.Signals(signum).name)
    os._exit(0)


def _die_with_main_process() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: a killed main process may leave this worker
        return
    if os.getppid() != _main_pid:  # the main process died before prctl
        os._exit(0)


def _before_fork() -> None:
    global _main_pid
    _main_pid = os.getpid()


def _after_fork_in_child() -> None:
    if not _is_sanic_main_handler(signal.getsignal(signal.SIGTERM)):
        return  # not a Sanic worker (another library's fork)
    signal.signal(signal.SIGTERM, _stop_starting_worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_main_process()


def install() -> None:
    """Set up the fork hooks once per process (the connectors call this at start-up)."""
    global _installed
    if not _installed:
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _installed = True


async def announce(*_: Any) -> None:
    """``after_server_start``: one line per worker that serves (operators count them; so do tests)."""
    logger.info("worker %d serving", os.getpid())


async def freeze_loaded_objects(*_: Any) -> None:
    """``after_server_start``: what is loaded by now (the model, Rasa, the libraries:
    objects that live as long as the process) leaves the garbage collector's
    generations, so a full collection no longer walks it, and young collections run
    less often (:data:`GC_THRESHOLDS`). Such walks stopped the whole process, every
    turn and webhook ack, for 0.2-0.5 s at the throughput ceiling (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    logger.debug("worker %d: %d objects frozen out of the collector", os.getpid(), gc.get_freeze_count())
