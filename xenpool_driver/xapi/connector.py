"""One :class:`~.session.XapiSession` per xapi URL: the only place handles are chosen.

A handle that followed HOST_IS_SLAVE now serves its master's URL: it is
filed under that URL, and the URL it came from gets a fresh handle on the
next :meth:`Connector.get`. NOTE: the host behind the old URL may be a
standalone master again (an ejected former master); a handle stuck on the
pool's master would answer for it.
"""

import threading

from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import settings as xsettings


def from_conf(conf, sleep=None, clock=None, session_factory=None):
    """The :class:`Connector` for ``conf``'s ``[xenserver]`` options.

    The one builder used by the driver, the command, the tests and the
    bench, so that every one of them reaches xapi with the same settings.

    :param conf: a ``ConfigOpts`` with ``[xenserver]`` registered.
    :param sleep: injectable sleep (tests, the bench's scaled lab).
    :param clock: injectable monotonic clock.
    :param session_factory: builds an SDK session (tests).
    """
    return Connector(xsettings.SessionSettings.from_conf(conf), sleep=sleep,
                     clock=clock, session_factory=session_factory)


class Connector(object):
    """Hands out one :class:`~.session.XapiSession` per URL (cached), from settings.

    :param settings: :class:`~.settings.SessionSettings`.
    :param sleep: injectable sleep for the handles' back-offs.
    :param clock: injectable monotonic clock.
    :param session_factory: builds an SDK session (tests, the bench).
    """

    def __init__(self, settings, sleep=None, clock=None, session_factory=None):
        self.settings = settings
        self._kwargs = dict(sleep=sleep, clock=clock,
                            session_factory=session_factory)
        self._lock = threading.Lock()
        self._sessions = {}
        self._retired = []

    def get(self, url):
        """Return the :class:`~.session.XapiSession` for ``url`` (created on demand).

        Post: the handle returned was created for ``url`` or re-pointed to it.
        """
        with self._lock:
            self._refile()
            session = self._sessions.get(url)
            if session is None:
                session = xsession.XapiSession(url, self.settings, **self._kwargs)
                self._sessions[url] = session
            return session

    def _refile(self):
        """File each handle that followed a redirect under its new URL."""
        for key, session in list(self._sessions.items()):
            if session.url != key:
                del self._sessions[key]
                # NOTE: it logged in at its new URL after the move, while a
                # handle already there has sessions from before (a master
                # change restarts every xapi): it takes over; the other is
                # retired (closed at close(), still usable by its holders).
                previous = self._sessions.get(session.url)
                self._sessions[session.url] = session
                if previous is not None and previous is not session:
                    self._retired.append(previous)

    def handles(self):
        """Every handle handed out and not closed (for call counts)."""
        with self._lock:
            return list({id(s): s for s in list(self._sessions.values())
                         + self._retired}.values())

    def close(self):
        """Close every session handed out."""
        sessions = self.handles()
        with self._lock:
            self._sessions, self._retired = {}, []
        for session in sessions:
            session.close()
