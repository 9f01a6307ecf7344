"""The Huey consumer for this app: Huey's own, plus the timer poll every TIMER_POLL_SECONDS.

Huey checks periodic (crontab) tasks once a minute, on the minute. The timer poll needs
a shorter period, so the scheduler of this consumer also enqueues ``poll_timers`` every
``poll_seconds`` (crontab periodic tasks keep their once-a-minute check). Each consumer
has one scheduler: with several consumers the poll is enqueued by each of them, which is
harmless because passes are safe to run at once (see ``app.jobs.timers``).
"""
from __future__ import annotations

import time
from typing import Any

from huey.consumer import Consumer, Scheduler


class TimerScheduler(Scheduler):
    def __init__(self, *args: Any, poll_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_seconds = max(float(poll_seconds), 1.0)
        self._next_poll = time.monotonic()  # a first pass right at start-up

    def loop(self, now: Any = None) -> None:
        if self.periodic and self._next_poll <= time.monotonic():
            while self._next_poll <= time.monotonic():
                self._next_poll += self.poll_seconds
            from app.jobs.tasks import poll_timers

            task = poll_timers.s()
            # A poll still queued after two periods (workers busy with long jobs) is dropped:
            # the next one does the same work.
            task.expires = 2 * self.poll_seconds
            try:
                self.huey.enqueue(task)
            except Exception:  # noqa: BLE001 - try again at the next period
                self._logger.exception("could not enqueue the timer poll")
        super().loop(now)


class TimerConsumer(Consumer):
    scheduler_class = TimerScheduler

    def __init__(self, huey: Any, *, poll_seconds: float = 30, **options: Any) -> None:
        self.poll_seconds = poll_seconds  # read by _create_scheduler, called from Consumer.__init__
        super().__init__(huey, **options)

    def _create_scheduler(self) -> TimerScheduler:
        return self.scheduler_class(
            huey=self.huey, stop_flag=self.stop_flag, interval=self.scheduler_interval,
            periodic=self.periodic, poll_seconds=self.poll_seconds,
        )
