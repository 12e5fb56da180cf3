"""Progress of long operations: a bar on a terminal, plain lines otherwise.

The workflow reports phases (``preflight``, ``join``, ``wait until live``,
``eject``, ``designate new master``...) and fractions (the XAPI task's
``progress``, 0.0..1.0); the session's waits report what they wait for
(``waiting for host U enabled and live: 30 s of 600 s``, see
:class:`xenpool_driver.xapi.waits.WaitReporter`), which the workflow passes
on as a phase of its own.

On a terminal a phase with a fraction is a tqdm bar; a phase without one
(the wait until live) is one status line saying what is awaited and for how
long, redrawn every second. :meth:`Progress.close` ends the line (a newline
after it) before the command prints its result, so the result line is never
torn. When output is not a terminal (CI, a pipe, a log file) each phase, each
new tenth of progress and each wait report is one plain line.
"""

import re
import sys
import threading
import time

import tqdm

#: What a phase without a fraction waits for, until the wait reports itself.
AWAITED = {
    'wait until live': 'the joined host enabled and live on the master '
                       '(its xapi restarts as a slave)',
}

_WAIT = re.compile(r'^waiting for (?P<what>.+?): (?P<elapsed>[\d.]+) s of '
                   r'(?P<timeout>[\d.]+) s(?: \((?P<note>.*)\))?$')

#: Seconds between two redraws of a status line.
TICK = 1.0


def _thread_ticker(callback, interval=TICK):
    """Call ``callback()`` every ``interval`` s in a daemon thread; returns stop()."""
    stopped = threading.Event()

    def loop():
        while not stopped.wait(interval):
            callback()
    thread = threading.Thread(target=loop, name='xenpool-progress', daemon=True)
    thread.start()

    # NOTE: stop() does not join: the caller holds the display's lock, which
    # a redraw in flight waits for; a late redraw of the next line is harmless.
    return stopped.set


class Progress(object):
    """Callable progress sink: ``progress(phase, fraction)``.

    :param stream: where to write (default ``sys.stderr``).
    :param tty: force bar (True) or lines (False); default: ``stream.isatty()``.
    :param clock: monotonic clock (tests).
    :param ticker: ``ticker(callback) -> stop`` redrawing a status line
        (tests inject one that never sleeps); default: a daemon thread.
    """

    def __init__(self, stream=None, tty=None, clock=time.monotonic, ticker=None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.ticker = ticker or _thread_ticker
        self._lock = threading.RLock()
        self._bar = None
        self._stop_ticker = None
        self._phase = None
        self._started = None
        self._wait = None        # the last wait report, parsed
        self._last_tenth = -1

    def __call__(self, phase, fraction=None):
        with self._lock:
            if fraction is None and _WAIT.match(phase or '') and self._phase is not None:
                self._waiting(phase)
                return
            if phase != self._phase:
                self._start(phase, fraction is not None)
            if fraction is not None:
                self._fraction(phase, fraction)

    # -- the phases -----------------------------------------------------------------

    def _start(self, phase, has_fraction):
        self._end()
        self._phase, self._started, self._wait = phase, self.clock(), None
        self._last_tenth = -1
        if not self.tty:
            self._line('  %s ...' % phase)
        elif has_fraction:
            self._bar = tqdm.tqdm(total=100, desc=phase, file=self.stream, leave=True,
                                  dynamic_ncols=True,
                                  bar_format='{desc:<20} {bar} {percentage:3.0f}% '
                                             '{elapsed}')
        else:
            self._bar = tqdm.tqdm(total=None, file=self.stream, leave=True,
                                  dynamic_ncols=True, bar_format='{desc}',
                                  desc=self.status())
            self._stop_ticker = self.ticker(self._redraw)

    def _fraction(self, phase, fraction):
        fraction = max(0.0, min(1.0, float(fraction)))
        if self._bar is not None and self._bar.total:
            self._bar.n = round(fraction * 100, 1)
            self._bar.refresh()
            return
        if self._bar is not None:
            # NOTE: a phase first reported without a fraction gets its bar now
            self._end()
            self._phase = None
            self._start(phase, True)
            self._fraction(phase, fraction)
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self._line('  %s: %d%%' % (phase, tenth * 10))

    def _waiting(self, text):
        """A wait's own report: what it waits for, for how long, xapi's state."""
        match = _WAIT.match(text)
        self._wait = match.groupdict()
        if not self.tty:
            self._line('  %s' % text)
            return
        if self._bar is None or self._bar.total:
            # NOTE: a wait inside a bar's phase: a status line of its own
            self._end()
            self._bar = tqdm.tqdm(total=None, file=self.stream, leave=True,
                                  dynamic_ncols=True, bar_format='{desc}')
            self._stop_ticker = self.ticker(self._redraw)
        self._redraw()

    def status(self):
        """The status line of the current phase without a fraction."""
        elapsed = self.clock() - (self._started or self.clock())
        if self._wait is not None:
            text = '%s: waiting for %s, %.0f s (of %s s)' % (
                self._phase, self._wait['what'], elapsed, self._wait['timeout'])
            if self._wait.get('note'):
                text += ' - %s' % self._wait['note']
            return text
        what = AWAITED.get(self._phase)
        if what:
            return '%s: waiting for %s, %.0f s' % (self._phase, what, elapsed)
        return '%s, %.0f s' % (self._phase, elapsed)

    def _redraw(self):
        with self._lock:
            if self._bar is not None and not self._bar.total:
                self._bar.set_description_str(self.status(), refresh=True)

    def _line(self, text):
        self.stream.write(text + '\n')
        self.stream.flush()

    def _end(self):
        if self._stop_ticker is not None:
            stop, self._stop_ticker = self._stop_ticker, None
            stop()
        if self._bar is not None:
            bar, self._bar = self._bar, None
            if not bar.total:
                bar.set_description_str(self.status(), refresh=False)
            bar.close()

    def close(self):
        """End the current phase's display, its line ended (idempotent).

        Called before the command prints its result or its error.
        """
        with self._lock:
            self._end()
            self._phase = None
