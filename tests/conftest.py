"""Suite-wide fixtures and the secret scan.

NOTE: the scan is the suite's proof that no configured password ever reaches
a log record or an exception text: every log record emitted during the run is
captured by a root handler, every exception a test saw is recorded, and at the
end of the session each text is searched for every password of
``tests.passwords``. A hit fails the run (exit status 1) with the place named.
"""

import logging
import traceback

import pytest

from tests import passwords

_records = []
_exception_texts = []


class _CaptureAll(logging.Handler):
    def emit(self, record):
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += '\n' + ''.join(traceback.format_exception(*record.exc_info))
        _records.append((record.name, text))


_handler = _CaptureAll(level=logging.DEBUG)


def pytest_configure(config):
    root = logging.getLogger()
    root.addHandler(_handler)
    if root.level > logging.DEBUG:
        root.setLevel(logging.DEBUG)


def pytest_exception_interact(node, call, report):
    if call.excinfo is not None:
        _exception_texts.append((node.nodeid, str(call.excinfo.value)))


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    outcome = yield
    excinfo = outcome.excinfo
    if excinfo is not None:
        _exception_texts.append((pyfuncitem.nodeid, str(excinfo[1])))


@pytest.fixture
def record_exception_text():
    """Tests hand the texts of exceptions they expected (pytest.raises) here."""
    def record(exc):
        _exception_texts.append(('expected', '%s %r' % (exc, getattr(exc, 'args', ()))))
        return exc
    return record


def find_leaks():
    """Return ``[(where, password)]`` for every captured text holding a password."""
    leaks = []
    secrets = passwords.all_passwords()
    for where, text in _records + _exception_texts:
        for secret in secrets:
            if secret in text:
                leaks.append((where, secret[:2] + '...'))
    return leaks


def pytest_sessionfinish(session, exitstatus):
    leaks = find_leaks()
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if reporter is not None:
        reporter.write_line('secret scan: %d log records and %d exception texts scanned, '
                            '%d leaks' % (len(_records), len(_exception_texts), len(leaks)))
        for where, hint in leaks[:20]:
            reporter.write_line('  password leaked in %s (%s)' % (where, hint))
    if leaks:
        session.exitstatus = 1
