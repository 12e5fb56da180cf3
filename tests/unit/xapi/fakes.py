"""A scripted xapi behind the SDK's session_factory, an injected clock, scripted waits."""

import threading
from unittest import mock

import XenAPI

from tests import passwords
from xenpool_driver import exception
from xenpool_driver.xapi.settings import SessionSettings

A = 'https://192.0.2.1'
B = 'https://192.0.2.2'


class Clock:
    """Injected clock + sleep: time only moves when told to."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class _Dispatcher:
    def __init__(self, fake, url, transport, name=None):
        self._fake, self._url, self._transport, self._name = (
            fake, url, transport, name)

    def __getattr__(self, name):
        full = name if self._name is None else '%s.%s' % (self._name, name)
        return _Dispatcher(self._fake, self._url, self._transport, full)

    def __call__(self, *args):
        return self._fake.dispatch(self._url, self._transport, self._name, args)


class FakeXapi:
    """Scripted xapi behind ``session_factory``.

    ``on(method, *results)``: each call of ``method`` takes the next result
    (the last one repeats); a result is a value, an exception to raise, or a
    callable ``f(url, *args)``. ``on_url(url, method, ...)`` scripts one host.
    """

    def __init__(self):
        self.scripts = {}
        self.calls = []       # (url, sdk method path, args, socket timeout)
        self.sessions = []    # (url, transport, sdk)
        self.lock = threading.Lock()
        self.on('login_with_password', None)
        self.on('session.logout', None)

    def on(self, method, *results):
        self.scripts[(None, method)] = list(results)

    def on_url(self, url, method, *results):
        self.scripts[(url, method)] = list(results)

    def factory(self, url, transport):
        sdk = mock.create_autospec(XenAPI.Session, instance=True)
        sdk.xenapi = _Dispatcher(self, url, transport)
        with self.lock:
            self.sessions.append((url, transport, sdk))
        return sdk

    def dispatch(self, url, transport, method, args):
        with self.lock:
            self.calls.append((url, method, args, transport.timeout))
            script = self.scripts.get((url, method))
            if script is None:
                script = self.scripts.get((None, method))
            if script is None:
                raise AssertionError('unscripted call %s' % method)
            result = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(result, BaseException):
            raise result
        if callable(result):
            return result(url, *args)
        return result

    def methods(self, url=None):
        return [c[1] for c in self.calls if url is None or c[0] == url]


def settings(**kw):
    kw.setdefault('login_timeout', 7.0)
    kw.setdefault('call_timeout', 11.0)
    return SessionSettings('root', passwords.PASSWORD, **kw)


def script_waits(session):
    """Make a mocked session's ``wait_for`` evaluate ``check`` round by round.

    Between two rounds one callable of ``session.between_events`` is applied
    (what the events of that round changed); when none is left and ``check``
    is still None, the wait times out. Nothing sleeps.
    """
    session.between_events = []

    def wait_for(classes, check, timeout, what, on_wait=None):
        pending = list(session.between_events)
        while True:
            result = check()
            if result is not None:
                return result
            if not pending:
                raise exception.XapiTimeout(session.address,
                                            'timed out waiting for ' + what)
            pending.pop(0)()

    session.wait_for.side_effect = wait_for
    return session
