"""XAPI session layer over the XenAPI SDK.

A :class:`XapiSession` is a thread-safe handle on one xapi endpoint (one
host URL, following HOST_IS_SLAVE redirects to the master). Internally it
keeps a bounded pool of SDK ``XenAPI.Session`` objects (size
``connection_concurrent``), each with a transport that applies the login and
call timeouts and the TLS settings. Every XAPI call goes through
:meth:`XapiSession.call`, the one place where SDK/transport errors are
translated into :mod:`xenpool_driver.exception` errors and secrets redacted.

Collaborators (modules of one concept):

* :mod:`.transport` - socket timeouts, TLS, response bounds, wire counting;
* :mod:`.errors` - the translation of SDK/socket errors;
* :mod:`.retry` - the named retry policies (what is safe to repeat);
* :mod:`.tasks` - awaiting ``Async.*`` tasks through ``event.from``.
"""

import collections
import contextlib
import dataclasses
import functools
import threading
import time
import urllib.parse

import XenAPI
from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver.xapi import errors
from xenpool_driver.xapi import retry
from xenpool_driver.xapi import tasks
from xenpool_driver.xapi import transport as xtransport

LOG = logging.getLogger(__name__)

#: Most HOST_IS_SLAVE hops followed for one call (a pool has one master:
#: more than one hop only happens while the master moves).
MAX_REDIRECTS = 3

#: API version and originator sent at login.
API_VERSION = '2.0'
ORIGINATOR = 'xenpool_driver'

LOGIN = 'session.login_with_password'
LOGOUT = 'session.logout'
EVENT_FROM = 'event.from'

# NOTE: attribute paths under ``sdk.xenapi`` where they differ from the wire
# name: login must go through the SDK's intercepted ``login*`` path (it
# stores the credentials for its transparent re-login; the
# ``xenapi.session.login_with_password`` path would send a None session),
# and ``from`` is a Python keyword.
_SDK_PATH = {
    LOGIN: 'login_with_password',
    EVENT_FROM: 'event_from',
}

# NOTE: the SDK sends event.from as its alias event_from; count one name.
_WIRE_ALIASES = {'event_from': EVENT_FROM}

#: Errors after which :meth:`XapiSession.wait_for` reconnects and re-reads
#: (an xapi restart, or the master moving).
_RESTART_CODES = (errors.SESSION_INVALID, errors.HOST_STILL_BOOTING,
                  errors.HOST_IS_SLAVE, 'EVENT_FROM_TOKEN_PARSE_FAILURE',
                  'EVENTS_LOST')


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    """Everything needed to reach xapi; built from ``[xenserver]`` options.

    :param username: xapi user.
    :param password: xapi password (registered with redaction at creation).
    :param login_timeout: seconds for connect + login.
    :param call_timeout: seconds for one call's socket.
    :param concurrent: size of the bounded SDK-session pool per host.
    :param ca_file: CA bundle for TLS verification (None: system store).
    :param insecure: disable TLS verification.

    NOTE: how long a pool operation waits is not here: see
    :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    login_timeout: float = 10.0
    call_timeout: float = 60.0
    concurrent: int = 5
    ca_file: str | None = None
    insecure: bool = False

    def __post_init__(self):
        # NOTE: the one choke point: from here on, every exception text and
        # redacted log line masks this password.
        redaction.register_secret(self.password)

    @classmethod
    def from_conf(cls, conf):
        """Build from an oslo.config ``ConfigOpts`` with ``[xenserver]`` registered."""
        group = conf.xenserver
        return cls(username=group.connection_username,
                   password=group.connection_password or '',
                   login_timeout=group.login_timeout,
                   call_timeout=group.call_timeout,
                   concurrent=group.connection_concurrent,
                   ca_file=group.ca_file,
                   insecure=group.insecure)


def url_for_address(template_url, address):
    """Return ``template_url`` with its host replaced by ``address``.

    Scheme, port and path are kept: ``url_for_address('https://10.0.0.1:8443',
    '10.0.0.2') == 'https://10.0.0.2:8443'``. Used to reach a master from the
    address recorded in metadata or carried by HOST_IS_SLAVE. IPv6 addresses
    are bracketed (``https://[fd00::2]:8443``); user info is never kept.
    """
    parts = urllib.parse.urlsplit(template_url)
    host = address.strip().strip('[]')
    if ':' in host:
        host = '[%s]' % host
    netloc = host if parts.port is None else '%s:%d' % (host, parts.port)
    return urllib.parse.urlunsplit((parts.scheme or 'https', netloc,
                                    parts.path, parts.query, parts.fragment))


def _default_factory(url, transport):
    return XenAPI.Session(url, transport=transport)


class _Redirect(Exception):
    """HOST_IS_SLAVE: the master is at ``address``."""

    def __init__(self, address, error):
        super().__init__(address)
        self.address = address
        self.error = error


class _LoginFailed(Exception):
    """Login failed after its own retries: the call's policy must not retry."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class _Slot(object):
    """One pooled SDK session, with its transport."""

    __slots__ = ('sdk', 'transport', 'generation', 'url', 'logged_in')

    def __init__(self, sdk, transport, generation, url):
        self.sdk = sdk
        self.transport = transport
        self.generation = generation
        self.url = url
        self.logged_in = False


#: Seconds between two reports of a wait that goes on (see ``on_wait``).
WAIT_REPORT_INTERVAL = 30.0


class _WaitReporter(object):
    """Tells ``on_wait`` what a wait is waiting for (rate-limited)."""

    def __init__(self, on_wait, what, timeout, clock, url):
        self.on_wait, self.what, self.timeout = on_wait, what, timeout
        self.clock, self.url = clock, url
        self.start = clock()
        self.last = None      # time of the last report
        self.down = False     # xapi not answering at the last report

    def tick(self, error):
        if self.on_wait is None:
            return
        now = self.clock()
        down = error is not None
        if down == self.down and self.last is not None and \
                now - self.last < WAIT_REPORT_INTERVAL:
            return
        if self.last is None and not down:
            self.last = now   # NOTE: the first look: nothing to say yet
            return
        self.last, self.down = now, down
        text = 'waiting for %s: %.0f s of %.0f s' % (
            self.what, now - self.start, self.timeout)
        if down:
            text += ' (xapi at %s not answering: %s)' % (
                self.url, getattr(error, 'reason', None) or error)
        try:
            self.on_wait(text)
        except Exception:  # noqa: BLE001 - NOTE: display must not fail a wait
            LOG.debug('on_wait callback failed', exc_info=True)


class XapiSession(object):
    """A thread-safe handle on one xapi (see module docstring).

    :param url: the xapi URL to start from (may be a slave: HOST_IS_SLAVE is
        followed to ``details[1]``, at login and mid-session; bounded).
    :param settings: :class:`SessionSettings`.
    :param sleep: injectable sleep for retry back-off (tests never sleep).
    :param clock: injectable monotonic clock.
    :param session_factory: builds an SDK session: ``factory(url, transport)``;
        defaults to ``XenAPI.Session``.
    :raises OSError/ssl.SSLError: ``settings.ca_file`` cannot be loaded
        (https URLs only).
    """

    #: URL currently used (after following redirects).
    url = None

    #: The :class:`SessionSettings` this handle was built with.
    settings = None

    def __init__(self, url, settings, sleep=None, clock=None, session_factory=None):
        self.url = url
        self.settings = settings
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._factory = session_factory or _default_factory
        self._lock = threading.Lock()
        # NOTE: per thread: is this thread inside wait_for (see _policy)?
        self._local = threading.local()
        # NOTE: the SDK session is not thread-safe (one HTTP connection):
        # one SDK session per concurrent call, at most ``concurrent`` of them.
        self._slots = threading.BoundedSemaphore(settings.concurrent)
        self._idle = []
        self._generation = 0
        self._closed = False
        self._counts = collections.Counter()
        self._ssl_context = None
        if url.lower().startswith('https:'):
            self._ssl_context = xtransport.make_ssl_context(
                settings.ca_file, settings.insecure)

    def __repr__(self):
        return '<XapiSession %s>' % self.url

    @property
    def address(self):
        """Host part of :attr:`url` (what xapi calls ``host.address``)."""
        return urllib.parse.urlsplit(self.url).hostname

    @property
    def call_counts(self):
        """``collections.Counter`` of XAPI method name -> calls made (wire calls).

        Counts every request sent, including logins, ``event.from``, task
        reads and the SDK's own hidden re-logins (seen by the transport). A
        copy: subtract two readings to count one operation's round trips.
        """
        with self._lock:
            return collections.Counter(self._counts)

    # -- the pool of SDK sessions ------------------------------------------

    def _new_slot(self, url, generation):
        transport = xtransport.make_transport(
            url, self.settings.login_timeout, context=self._ssl_context)
        return _Slot(self._factory(url, transport), transport, generation, url)

    @contextlib.contextmanager
    def _checkout(self):
        """Borrow one SDK session (blocks while ``concurrent`` are busy)."""
        if self._closed:
            raise exception.XapiUnavailable(self.url, 'session handle closed')
        self._slots.acquire()
        slot = None
        try:
            with self._lock:
                if self._idle:
                    slot = self._idle.pop()
                generation, url = self._generation, self.url
            if slot is None:
                slot = self._new_slot(url, generation)
            yield slot
        finally:
            if slot is not None:
                self._checkin(slot)
            self._slots.release()

    def _checkin(self, slot):
        with self._lock:
            keep = not self._closed and slot.generation == self._generation
            if keep:
                self._idle.append(slot)
        if not keep and self._closed:
            self._logout(slot)
        # NOTE: a slot of an older generation points at a host that is no
        # longer the master (it restarted as a slave: its sessions are gone);
        # it is simply dropped.

    def _repoint(self, address):
        """Re-point the whole handle at ``address`` (the master)."""
        with self._lock:
            new_url = url_for_address(self.url, address)
            if new_url == self.url:
                return
            LOG.info('xapi at %s is a pool member; following HOST_IS_SLAVE '
                     'to the master at %s', self.url, new_url)
            self.url = new_url
            self._generation += 1
            self._idle = []

    # -- one wire call -------------------------------------------------------

    def _count(self, slot, method):
        names = [_WIRE_ALIASES.get(n, n)
                 for n in slot.transport.wire_methods] or [method]
        with self._lock:
            self._counts.update(names)

    def _send(self, slot, method, args, timeout):
        """Send one call on ``slot``; translate every failure.

        NOTE: only the method name is ever logged or put in an error - the
        arguments of login and pool.join* carry passwords.
        """
        reuse = method in (LOGIN, LOGOUT) or retry.is_read_only(method)
        slot.transport.prepare(timeout, reuse_connection=reuse)
        path = _SDK_PATH.get(method, method).split('.')
        LOG.debug('XAPI %s on %s', method, slot.url)
        try:
            return functools.reduce(getattr, path, slot.sdk.xenapi)(*args)
        except Exception as exc:
            err = errors.translate(exc, method, slot.url,
                                   slot.transport.request_sent)
            if err is None:
                raise
            if errors.is_code(err, errors.HOST_IS_SLAVE) and err.params:
                raise _Redirect(err.params[0], err) from None
            raise err from None
        finally:
            self._count(slot, method)

    def _login(self, slot):
        """Log ``slot`` in (lazily), under the ``LOGIN`` retry policy."""
        if slot.logged_in:
            return
        settings = self.settings
        args = (settings.username, settings.password, API_VERSION, ORIGINATOR)
        try:
            self._policy(LOGIN).call(
                lambda: self._send(slot, LOGIN, args, settings.login_timeout),
                settings, self._sleep, self._clock)
        except exception.XenPoolError as err:
            raise _LoginFailed(err) from None
        slot.logged_in = True

    def _invoke(self, slot, method, args, timeout):
        self._login(slot)
        try:
            return self._send(slot, method, args, timeout)
        except exception.XapiError as err:
            if err.code != errors.SESSION_INVALID:
                raise
            # NOTE: the SDK re-logs in by itself on SESSION_INVALID (3 tries);
            # it only gets here when it gave up: re-login once ourselves. A
            # call refused with SESSION_INVALID was not executed.
            LOG.info('Session on %s invalid; logging in again', slot.url)
            slot.logged_in = False
            self._login(slot)
            return self._send(slot, method, args, timeout)

    def _policy(self, method):
        """The retry policy for ``method`` on this thread.

        NOTE: inside :meth:`wait_for` the wait's own loop retries (named
        policy RESTART_WAIT, until its deadline); a nested retry with its own
        longer back-off would only delay noticing that xapi is back.
        """
        if getattr(self._local, 'waiting', False):
            return retry.NEVER
        return retry.LOGIN if method == LOGIN else retry.policy_for(method)

    def _call(self, method, args, timeout):
        policy = self._policy(method)

        def once():
            with self._checkout() as slot:
                return self._invoke(slot, method, args, timeout)

        visited = set()
        for hop in range(MAX_REDIRECTS + 1):
            visited.add(self.address)
            try:
                return policy.call(once, self.settings, self._sleep,
                                   self._clock)
            except _LoginFailed as failed:
                raise failed.error from None
            except _Redirect as redirect:
                target = redirect.address.strip().strip('[]')
                if hop == MAX_REDIRECTS or target in visited:
                    LOG.warning('Not following HOST_IS_SLAVE from %s to %s '
                                '(hop %d, seen %s)', self.url, target, hop + 1,
                                sorted(visited))
                    raise redirect.error from None
                self._repoint(target)

    # -- public verbs -----------------------------------------------------

    def call(self, method, *args):
        """Call ``method`` (e.g. ``"pool.get_all"``) with the session prepended.

        Read-only methods (``*.get_*``, ``event.from``, ...) are retried on
        connection refused/reset and HOST_STILL_BOOTING (named tenacity policy);
        others are never retried. HOST_IS_SLAVE re-points the handle at the
        master and the call is made there (bounded number of hops).

        :returns: the call's value, decoded by the SDK.
        :raises XapiUnavailable: no xapi answered (``maybe_applied`` set when
            the request may have been sent before the connection dropped).
        :raises XapiTimeout: the socket timed out.
        :raises XapiProtocolError: something answered, but not valid XAPI
            (malformed, oversized, an HTTP error page).
        :raises XapiError: xapi answered an error (code, params, method, host).
        """
        if method == EVENT_FROM or method == 'event_from':
            return self.event_from(*args)
        return self._call(method, args, self.settings.call_timeout)

    def event_from(self, classes, token, timeout):
        """``event.from(classes, token, timeout)``: block until events.

        The socket is given ``call_timeout + timeout`` seconds.

        :param classes: e.g. ``["host"]`` or ``["task/OpaqueRef:..."]``.
        :param token: ``""`` for "current state + token", or a token.
        :param timeout: seconds xapi may wait for an event (sent as float).
        :returns: ``{"events": [...], "token": ..., "valid_ref_counts": ...}``.
        :raises: as :meth:`call`.
        """
        timeout = float(timeout)
        return self._call(EVENT_FROM, (list(classes), token, timeout),
                          self.settings.call_timeout + timeout)

    def call_async(self, method, *args, timeout, on_progress=None):
        """Run ``Async.<method>`` and await the task through ``event.from``.

        The event token is taken before the first read of the task. On timeout
        the task is cancelled (``task.cancel``) and :class:`XapiTimeout` raised.
        The task is destroyed once read. ``Async.<method>`` itself is never
        retried.

        :param timeout: seconds to await the task (the caller's limit, e.g.
            ``PoolTimeouts.task``).
        :param on_progress: called with the task's progress (0.0..1.0) as it
            changes.
        :returns: the task's decoded result (``""`` for void calls).
        :raises XapiError: the task failed: XAPI's code and params from
            ``error_info`` (``TASK_CANCELLED`` when cancelled).
        :raises XapiTimeout: the task did not finish in time (it was cancelled).
        :raises XapiUnavailable: xapi was lost while the task ran (it
            restarted, or the connection dropped): the outcome is unknown,
            ``maybe_applied=True``.
        """
        deadline = self._clock() + timeout
        try:
            task_ref = self._call('Async.' + method, args,
                                  self.settings.call_timeout)
        except exception.XapiUnavailable as lost:
            task_ref = self._lost_task(method, lost)
            if task_ref is None:
                raise
        return tasks.await_task(self, task_ref, method, deadline, self._clock,
                                on_progress)

    def _lost_task(self, method, error):
        """The task of an ``Async.<method>`` whose answer was lost, or None.

        NOTE: a connection dropped after the request was sent may hide a
        task that is running: re-reading reality at once would see the goal
        not reached yet, and the task would reach it later, unseen. Never
        repeat the call: find the task (xapi names it ``Async.<method>``)
        and await it like any other. Only one unfinished candidate counts.
        """
        if not error.maybe_applied:
            return None
        try:
            records = self.call('task.get_all_records')
        except exception.XenPoolError as exc:
            LOG.info('Cannot look for the task of Async.%s on %s: %s',
                     method, self.url, exc)
            return None
        found = [ref for ref, rec in records.items()
                 if rec.get('name_label') == 'Async.' + method and
                 rec.get('status') in tasks.PENDING + ('success', 'failure')]
        if len(found) != 1:
            return None
        LOG.warning('Answer of Async.%s on %s lost (%s); awaiting its task %s',
                    method, self.url, error, found[0])
        return found[0]

    def wait_for(self, classes, check, timeout, what, on_wait=None):
        """Wait, driven by ``event.from``, until ``check()`` returns non-None.

        Takes an event token first, then evaluates ``check()`` (which may make
        calls on this session), then evaluates it again after each batch of
        events on ``classes`` until it returns something other than None.
        Survives an xapi restart (connection refused, HOST_STILL_BOOTING,
        SESSION_INVALID, HOST_IS_SLAVE) by re-connecting and re-reading.

        :param classes: XAPI class names, e.g. ``["host", "host_metrics"]``.
        :param check: callable returning None (not yet) or the result.
        :param timeout: seconds.
        :param what: description for the timeout error.
        :param on_wait: optional callable ``(text)`` told what is awaited and
            for how long: when xapi stops answering, when it answers again,
            and every :data:`WAIT_REPORT_INTERVAL` seconds of a long wait.
        :returns: what ``check()`` returned.
        :raises XapiTimeout: not reached within ``timeout``.
        :raises XapiError: ``check()`` or xapi raised a non-restart error.
        :raises XapiProtocolError: a non-XAPI answer (not retried).
        """
        was_waiting = getattr(self._local, 'waiting', False)
        self._local.waiting = True
        try:
            return self._wait_for(classes, check, timeout, what,
                                  _WaitReporter(on_wait, what, timeout,
                                                self._clock, self.url))
        finally:
            self._local.waiting = was_waiting

    def _wait_for(self, classes, check, timeout, what, reporter):
        deadline = self._clock() + timeout
        token = None
        failures = 0
        last = None
        while True:
            try:
                if token is None:
                    # NOTE: token first, then read: nothing can change unseen
                    # between check() and the next event.from.
                    token = self.event_from(classes, '', 0.0)['token']
                result = check()
                if result is not None:
                    return result
                reporter.tick(None)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                token = self.event_from(
                    classes, token,
                    min(remaining, tasks.EVENT_WAIT_SLICE))['token']
                failures = 0
            except exception.XenPoolError as err:
                if not self._is_restart(err):
                    raise
                LOG.info('Waiting for %s on %s: xapi not ready (%s); '
                         'reconnecting', what, self.url, err)
                last, token = err, None
                reporter.tick(err)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._sleep(min(retry.RESTART_WAIT.backoff(failures), remaining))
                failures += 1
        reason = 'timed out after %.1fs waiting for %s' % (timeout, what)
        if last is not None:
            reason += ' (last error: %s)' % last
        raise exception.XapiTimeout(self.url, reason)

    @staticmethod
    def _is_restart(err):
        if isinstance(err, exception.XapiProtocolError):
            return False
        if isinstance(err, exception.XapiUnavailable):
            return errors.kind_of(err) != errors.TLS
        return errors.is_code(err, *_RESTART_CODES)

    def _logout(self, slot):
        if not slot.logged_in:
            return
        try:
            self._send(slot, LOGOUT, (), self.settings.login_timeout)
        except (exception.XenPoolError, _Redirect) as exc:
            LOG.debug('Logout from %s failed: %s', slot.url, exc)
        finally:
            slot.logged_in = False
            slot.transport.close()

    def close(self):
        """Log out every pooled SDK session; the handle may not be used after."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for slot in idle:
            self._logout(slot)


class Connector(object):
    """Hands out one :class:`XapiSession` per URL (cached), from settings.

    A handle that followed HOST_IS_SLAVE now serves its master's URL: it is
    filed under that URL, and the URL it came from gets a fresh handle on the
    next :meth:`get`. NOTE: the host behind the old URL may be a standalone
    master again (an ejected former master); a handle stuck on the pool's
    master would answer for it.

    :param settings: :class:`SessionSettings`.
    """

    def __init__(self, settings, sleep=None, clock=None, session_factory=None):
        self.settings = settings
        self._kwargs = dict(sleep=sleep, clock=clock,
                            session_factory=session_factory)
        self._lock = threading.Lock()
        self._sessions = {}
        self._retired = []

    def get(self, url):
        """Return the :class:`XapiSession` for ``url`` (created on demand).

        Post: the handle returned was created for ``url`` or re-pointed to it.
        """
        with self._lock:
            self._refile()
            session = self._sessions.get(url)
            if session is None:
                session = XapiSession(url, self.settings, **self._kwargs)
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
