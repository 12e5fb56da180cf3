"""Progress of long operations: a bar on a terminal, plain lines otherwise.

The workflow reports phases (``join``, ``wait until live``, ``eject``,
``designate``) and fractions (the XAPI task's ``progress``, 0.0..1.0). On a
terminal a tqdm bar shows them; when output is not a terminal (CI, a pipe,
a log file) each phase change and each new tenth of progress is one line.
"""

import sys

import tqdm


class Progress(object):
    """Callable progress sink: ``progress(phase, fraction)``.

    :param stream: where to write (default ``sys.stderr``).
    :param tty: force bar (True) or lines (False); default: ``stream.isatty()``.
    """

    def __init__(self, stream=None, tty=None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._bar = None
        self._phase = None
        self._last_tenth = -1

    def __call__(self, phase, fraction=None):
        if phase != self._phase:
            self._start(phase)
        if fraction is None:
            return
        fraction = max(0.0, min(1.0, float(fraction)))
        if self._bar is not None:
            self._bar.n = round(fraction * 100, 1)
            self._bar.refresh()
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.stream.write('  %s: %d%%\n' % (phase, tenth * 10))
            self.stream.flush()

    def _start(self, phase):
        self.close()
        self._phase = phase
        self._last_tenth = -1
        if self.tty:
            self._bar = tqdm.tqdm(total=100, desc=phase, file=self.stream, leave=True,
                                  bar_format='{desc:<18} {bar} {percentage:3.0f}%')
        else:
            self.stream.write('  %s ...\n' % phase)
            self.stream.flush()

    def close(self):
        """Finish the current phase's bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
