"""The lab's scheduler: one thread that runs the slow transitions (restart
fuse, boot, reboot after an eject) at their due times on the lab's clock,
in due order (:class:`~.lab.Lab` ``after`` gives it scaled xapi delays).
"""

import heapq
import itertools
import logging
import threading

LOG = logging.getLogger(__name__)


class Scheduler(object):
    """Runs callables at (scaled) times on one thread, in due order."""

    def __init__(self, clock):
        self.clock = clock
        self._heap = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='xapi-sim-scheduler')
        self._thread.start()

    def at(self, due, fn):
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), fn))
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                while not self._closed and (not self._heap
                                            or self._heap[0][0] > self.clock.monotonic()):
                    wait = self._heap[0][0] - self.clock.monotonic() if self._heap else None
                    self.clock.wait(self._cond, wait)
                if self._closed:
                    return
                _due, _seq, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                LOG.exception('simulator transition failed')

    @property
    def idle(self):
        with self._cond:
            return not self._heap

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)
