"""One clock for the engine, the background jobs and SpiffWorkflow's timer checks.

Everything that asks "what time is it?" about a workflow goes through :func:`now`:
the engine's timestamps and ``next_timer_at``, the timer poller's "due by now", and
SpiffWorkflow's own decision whether a timer has fired. Tests move the clock with
:func:`set_now` / :func:`advance` / :func:`frozen_at`; in production it is the real
UTC time and nothing else.

How SpiffWorkflow 3.2.0 is made to follow it (checked in the wheel's source):

* ``SpiffWorkflow/bpmn/specs/event_definitions/timer.py`` is the only module of the
  library that reads the time. It does so as ``datetime.now(timezone.utc)`` through the
  module-global name ``datetime`` (``TimeDateEventDefinition.has_fired``,
  ``DurationTimerEventDefinition.has_fired`` when it fixes and checks its due
  instant, ``CycleTimerEventDefinition.cycle_complete``, and
  ``get_timedelta_from_start`` / ``parse_iso_recurring_interval`` for "from now").
  There is no parameter or hook to pass "now" in.
* So :func:`install` rebinds that one module-global name to :class:`SpiffDatetime`, a
  stand-in whose ``now()`` reads our clock and which forwards every other attribute
  (``fromisoformat``, ``combine``, ``fromisocalendar``, ...) to the real ``datetime``
  class, and answers ``isinstance(x, SpiffDatetime)`` like ``isinstance(x, datetime)``.
  Every value it produces is a plain ``datetime``: nothing new reaches task data,
  serialized state or the database, and with the clock unset the behaviour is the
  library's own.
* Rejected alternatives: subclasses of the timer event definitions would have to be
  registered with the parser and the serializer and would change the serialized
  spec (hence every spec's content hash); a ``datetime`` subclass would leak
  subclass instances out of ``fromisoformat``; patching ``datetime.datetime`` itself
  is impossible (a C type) and would be global.
* :func:`install` runs when this module is imported (``workflows.engine`` imports it)
  and is idempotent. A test may still monkeypatch the timer module's ``datetime``;
  pytest puts this stand-in back afterwards.

The clock is process-wide (not per thread): worker threads in a test see the time
the test set. Other processes have their own clock (the real time unless they set it).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

_lock = threading.Lock()
_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """The current instant, timezone-aware in UTC (the real time unless a test set it)."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    real = datetime.now(timezone.utc)
    offset = _offset
    return real + offset if offset else real


def set_now(when: datetime | None) -> None:
    """Stop the clock at ``when`` (aware); ``None`` lets it run in real time again (offset kept)."""
    global _frozen
    if when is not None and when.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    with _lock:
        _frozen = None if when is None else when.astimezone(timezone.utc)


def advance(delta: timedelta) -> datetime:
    """Move the clock forward by ``delta`` (frozen or running); returns the new now."""
    global _frozen, _offset
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta
    return now()


def reset() -> None:
    """Back to the real time."""
    global _frozen, _offset
    with _lock:
        _frozen = None
        _offset = timedelta(0)


def is_real() -> bool:
    """Whether the clock is the real time (nothing set)."""
    return _frozen is None and not _offset


@contextmanager
def frozen_at(when: datetime) -> Iterator[datetime]:
    """Within the block the clock stands at ``when`` (moved by :func:`advance`); then real again."""
    set_now(when)
    try:
        yield when
    finally:
        reset()


# --- SpiffWorkflow's timer module ---------------------------------------------------------


class _DatetimeForwarder(type):
    """Metaclass: class attributes other than ``now`` come from the real ``datetime``."""

    def __getattr__(cls, name: str) -> Any:
        return getattr(datetime, name)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, datetime)


class SpiffDatetime(metaclass=_DatetimeForwarder):
    """What SpiffWorkflow's timer module sees as ``datetime``: ``now()`` follows :func:`now`."""

    @staticmethod
    def now(tz: tzinfo | None = None) -> datetime:
        current = now()
        if tz is None:  # datetime.now() semantics: naive local time
            return current.astimezone().replace(tzinfo=None)
        return current.astimezone(tz)


def install() -> None:
    """Make SpiffWorkflow's timer checks read this clock (idempotent)."""
    if _spiff_timer.datetime is not SpiffDatetime:
        _spiff_timer.datetime = SpiffDatetime  # type: ignore[misc]


install()
