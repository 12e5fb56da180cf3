"""The lab's one clock: every wait of the simulator goes through it.

:class:`RealClock` is time itself. A test injects another object with the
same three methods (``Lab(clock=...)``) to drive the lab's time without
sleeping, e.g. :class:`ManualClock`.
"""

import threading
import time


class RealClock(object):
    """Monotonic time; waits block for real."""

    def monotonic(self):
        return time.monotonic()

    def wait(self, waitable, seconds):
        """Wait on an Event or a held Condition for at most ``seconds``.

        :returns: what ``waitable.wait`` returns (True when it was set /
            notified before the time ran out).
        """
        return waitable.wait(None if seconds is None else max(0.0, seconds))

    def sleep(self, seconds):
        time.sleep(max(0.0, seconds))


class ManualClock(object):
    """Time that moves only when a test calls :meth:`advance`.

    Waits return as soon as their waitable is set or notified; a wait whose
    time has run out (by :meth:`advance`) returns False. Nothing sleeps for
    the simulated time: a test sees a wait begin and its deadline
    (:meth:`wait_for_deadline`, :meth:`deadlines`), then moves time past it.
    """

    #: Real seconds a wait blocks between looks at the virtual time.
    POLL = 0.001

    def __init__(self, start=1000.0):
        self._now = float(start)
        self._moved = threading.Condition()
        self._deadlines = []        # of the timed waits now blocked

    def monotonic(self):
        return self._now

    def advance(self, seconds):
        with self._moved:
            self._now += float(seconds)
            self._moved.notify_all()

    def deadlines(self):
        """The deadlines (virtual time) of the timed waits now blocked whose
        time has not come, sorted."""
        with self._moved:
            return sorted(d for d in self._deadlines if d > self._now)

    def wait_for_deadline(self, at, timeout=10.0):
        """Block (real time, at most ``timeout``) until a timed wait with the
        deadline ``at`` (virtual time) is blocked: the simulator is waiting
        for the clock to reach it. Raises AssertionError on timeout."""
        def blocked():
            return any(abs(d - at) < 1e-6 for d in self._deadlines)
        with self._moved:
            if not self._moved.wait_for(blocked, timeout):
                raise AssertionError('no wait until %r (waits until %r, now %r)'
                                     % (at, sorted(self._deadlines), self._now))

    def wait(self, waitable, seconds):
        deadline = None if seconds is None else self._now + max(0.0, seconds)
        if deadline is not None:
            with self._moved:
                self._deadlines.append(deadline)
                self._moved.notify_all()
        try:
            while True:
                if isinstance(waitable, threading.Event):
                    if waitable.is_set():
                        return True
                if deadline is not None and self._now >= deadline:
                    return False
                # NOTE: a Condition's wait needs its lock held (the caller
                # holds it); it wakes on notify or after POLL to look at the
                # clock.
                if waitable.wait(self.POLL) and not isinstance(waitable, threading.Event):
                    return True
        finally:
            if deadline is not None:
                with self._moved:
                    self._deadlines.remove(deadline)

    def sleep(self, seconds):
        self.wait(threading.Event(), seconds)
