"""Progress sink: a bar on a terminal, plain lines otherwise; waits say what and how long."""

import io

import pytest

from xenpool_driver.cli import progress

WAIT = 'waiting for host U2 enabled and live: 30 s of 600 s'


class _TtyStream(io.StringIO):
    def isatty(self):
        return True


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Ticker:
    """Records the redraw callback; the test ticks it (no thread, no sleep)."""

    def __init__(self):
        self.callbacks, self.stopped = [], 0

    def __call__(self, callback):
        self.callbacks.append(callback)

        def stop():
            self.stopped += 1
        return stop

    def tick(self):
        self.callbacks[-1]()


def _screen(text):
    """The last state of each terminal line (what a person sees)."""
    return [line.split('\r')[-1].rstrip() for line in text.split('\n')]


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = progress.Progress(stream=out)
    assert p.tty is False
    p('preflight')
    p('join', 0.0)
    p('join', 0.05)   # same tenth: no new line
    p('join', 0.5)
    p('join', 1.0)
    p('wait until live')
    p(WAIT)
    p.close()
    assert out.getvalue().splitlines() == [
        '  preflight ...', '  join ...', '  join: 0%', '  join: 50%', '  join: 100%',
        '  wait until live ...', '  ' + WAIT]
    assert '\r' not in out.getvalue()


def test_plain_lines_restart_the_tenths_on_a_new_phase():
    out = io.StringIO()
    p = progress.Progress(stream=out, tty=False)
    p('join', 1.0)
    p('eject', 0.2)
    assert out.getvalue().splitlines() == ['  join ...', '  join: 100%', '  eject ...',
                                           '  eject: 20%']


@pytest.mark.parametrize('value, shown', [(-0.5, '0%'), (7, '100%'), ('0.3', '30%')])
def test_fractions_are_clamped_and_coerced(value, shown):
    out = io.StringIO()
    progress.Progress(stream=out, tty=False)('join', value)
    assert out.getvalue().splitlines()[-1] == '  join: %s' % shown


def test_the_bar_follows_the_tasks_progress():
    out = _TtyStream()
    p = progress.Progress(stream=out, clock=_Clock(), ticker=_Ticker())
    assert p.tty is True
    p('join', 0.0)
    p('join', 0.42)
    assert _screen(out.getvalue())[-1].endswith('42%') or ' 42%' in _screen(
        out.getvalue())[-1]
    p('join', 1.0)
    p.close()
    p.close()   # idempotent
    text = out.getvalue()
    assert '\r' in text and '100%' in _screen(text)[-2]
    assert text.endswith('\n')


def test_wait_until_live_says_what_is_awaited_and_for_how_long():
    out, clock, ticker = _TtyStream(), _Clock(), _Ticker()
    p = progress.Progress(stream=out, clock=clock, ticker=ticker)
    p('join', 1.0)
    p('wait until live')
    clock.now += 3
    ticker.tick()
    screen = _screen(out.getvalue())
    assert '100%' in screen[-2]                     # the join's bar is left done
    assert screen[-1] == ('wait until live: waiting for the joined host enabled and live '
                          'on the master (its xapi restarts as a slave), 3 s')
    clock.now += 30
    p(WAIT)                                         # the session's wait reports
    assert _screen(out.getvalue())[-1] == (
        'wait until live: waiting for host U2 enabled and live, 33 s (of 600 s)')
    clock.now += 1
    ticker.tick()
    assert _screen(out.getvalue())[-1].endswith('34 s (of 600 s)')
    p(WAIT + ' (xapi at https://m not answering: refused)')
    assert _screen(out.getvalue())[-1].endswith(
        '34 s (of 600 s) - xapi at https://m not answering: refused')
    p.close()
    assert ticker.stopped == 1
    assert out.getvalue().endswith('\n')


def test_the_result_line_is_never_torn():
    """After close, the bar's line is ended: what follows starts a line of its own."""
    out, clock = _TtyStream(), _Clock()
    p = progress.Progress(stream=out, clock=clock, ticker=_Ticker())
    p('join', 0.5)
    p('wait until live')
    p.close()
    out.write('added host3 to lab: active\n')
    screen = _screen(out.getvalue())
    assert screen[-2] == 'added host3 to lab: active'
    assert screen[-3].startswith('wait until live: waiting for')


def test_the_thread_ticker_redraws_until_stopped():
    import threading
    done = threading.Event()
    stop = progress._thread_ticker(done.set, interval=0.001)
    try:
        assert done.wait(5)
    finally:
        stop()
