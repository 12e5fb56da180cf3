"""Progress sink: a bar on a terminal, plain lines otherwise."""

import io

import pytest

from xenpool_driver.cli import progress


class _TtyStream(io.StringIO):
    def isatty(self):
        return True


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
    p.close()
    assert out.getvalue().splitlines() == [
        '  preflight ...', '  join ...', '  join: 0%', '  join: 50%', '  join: 100%',
        '  wait until live ...']
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


def test_bar_on_a_terminal():
    out = _TtyStream()
    p = progress.Progress(stream=out)
    assert p.tty is True
    p('join', 0.0)
    p('join', 0.42)
    p('join', 1.0)
    p('wait until live')
    p.close()
    p.close()   # idempotent
    text = out.getvalue()
    assert '\r' in text                      # a bar redraws in place
    assert 'join' in text and 'wait until live' in text
    assert '100%' in text
    assert '  join ...' not in text          # no plain lines on a terminal


def test_forced_tty_overrides_the_stream():
    out = io.StringIO()
    p = progress.Progress(stream=out, tty=True)
    p('eject', 0.5)
    p.close()
    assert '\r' in out.getvalue() and ' 50%' in out.getvalue()
