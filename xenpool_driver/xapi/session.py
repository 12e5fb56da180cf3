"""A handle on one xapi endpoint: call, and let the recovery policy decide.

A :class:`XapiSession` is a thread-safe handle on one xapi URL. It keeps a
bounded pool of SDK ``XenAPI.Session`` objects ("slots", at most
``connection_concurrent``: the SDK session is not thread-safe), logs each
in lazily, and sends every XAPI call through :meth:`XapiSession.call` - the
one place where SDK/transport errors are translated (:mod:`.errors`) and
where the call's :class:`~.recovery.Plan` decides whether and how it is
repeated (follow HOST_IS_SLAVE to the master, log in again, back off a
read-only call).

Collaborators (modules of one concept): :mod:`.settings` (what to reach
xapi with), :mod:`.transport` (sockets, TLS, bounds, wire counts),
:mod:`.errors` (translation), :mod:`.recovery` (the named policies),
:mod:`.tasks` (awaiting ``Async.*`` tasks), :mod:`.waits` (waiting for a
condition), :mod:`.connector` (which handle serves which URL).
"""

import collections
import contextlib
import functools
import threading
import time

import XenAPI
from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import errors
from xenpool_driver.xapi import recovery
from xenpool_driver.xapi import tasks
from xenpool_driver.xapi import transport as xtransport
from xenpool_driver.xapi import urls
from xenpool_driver.xapi import waits

LOG = logging.getLogger(__name__)

#: API version and originator sent at login.
API_VERSION = '2.0'
ORIGINATOR = 'xenpool_driver'

LOGIN = recovery.LOGIN
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


def _default_factory(url, transport):
    return XenAPI.Session(url, transport=transport)


class _Slot(object):
    """One pooled SDK session, with its transport."""

    __slots__ = ('sdk', 'transport', 'generation', 'url', 'logged_in')

    def __init__(self, sdk, transport, generation, url):
        self.sdk = sdk
        self.transport = transport
        self.generation = generation
        self.url = url
        self.logged_in = False


class XapiSession(object):
    """A thread-safe handle on one xapi (see module docstring).

    :param url: the xapi URL to start from (may be a slave: HOST_IS_SLAVE is
        followed to ``details[1]``, at login and mid-session; bounded by
        ``settings.max_redirects``).
    :param settings: :class:`~.settings.SessionSettings`.
    :param sleep: injectable sleep for the back-offs (tests never sleep).
    :param clock: injectable monotonic clock.
    :param session_factory: builds an SDK session: ``factory(url, transport)``;
        defaults to ``XenAPI.Session``.
    :raises OSError/ssl.SSLError: ``settings.ca_file`` cannot be loaded
        (https URLs only).
    """

    #: URL currently used (after following redirects).
    url = None

    #: The :class:`~.settings.SessionSettings` this handle was built with.
    settings = None

    def __init__(self, url, settings, sleep=None, clock=None, session_factory=None):
        self.url = url
        self.settings = settings
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._factory = session_factory or _default_factory
        self._lock = threading.Lock()
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
        return urls.host_of(self.url)

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
            new_url = urls.url_for_address(self.url, address)
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
        reuse = method in (LOGIN, LOGOUT) or recovery.is_read_only(method)
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
            if errors.is_code(err, errors.SESSION_INVALID):
                slot.logged_in = False  # NOTE: a fact, whatever is done next
            raise err from None
        finally:
            self._count(slot, method)

    def _login(self, slot):
        """Log ``slot`` in (lazily), under the login's own recovery plan."""
        if slot.logged_in:
            return
        settings = self.settings
        args = (settings.username, settings.password, API_VERSION, ORIGINATOR)
        recovery.Plan(LOGIN, recovery.policies_for(LOGIN), settings,
                      self._clock).call(
            lambda: self._send(slot, LOGIN, args, settings.login_timeout),
            self._sleep)
        slot.logged_in = True

    def _once(self, method, args, timeout):
        with self._checkout() as slot:
            self._login(slot)
            return self._send(slot, method, args, timeout)

    def _call(self, method, args, timeout):
        visited = {self.address}

        def before_retry(policy, err):
            if policy.action != 'follow':
                return  # NOTE: login: the slot is logged out; wait: backed off
            target = urls.bare(err.params[0])
            if target in visited:
                LOG.warning('Not following HOST_IS_SLAVE from %s back to %s '
                            '(seen %s)', self.url, target, sorted(visited))
                raise err
            visited.add(target)
            self._repoint(target)

        plan = recovery.Plan(method, recovery.policies_for(method),
                             self.settings, self._clock, on_retry=before_retry)
        return plan.call(lambda: self._once(method, args, timeout), self._sleep)

    # -- public verbs -----------------------------------------------------

    def call(self, method, *args):
        """Call ``method`` (e.g. ``"pool.get_all"``) with the session prepended.

        The call's recovery plan (:mod:`.recovery`) decides what is repeated:
        HOST_IS_SLAVE re-points the handle at the master and the call is made
        there; SESSION_INVALID logs in again; read-only methods (``*.get_*``,
        ``event.from``, ...) are retried on connection refused/reset and
        HOST_STILL_BOOTING; nothing else is repeated.

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

    def call_async(self, method, *args, timeout, on_progress=None,
                   on_task=None):
        """Run ``Async.<method>`` and await the task through ``event.from``.

        The event token is taken before the first read of the task. On timeout
        the task is cancelled (``task.cancel``) and :class:`XapiTimeout` raised.
        The task is destroyed once read. ``Async.<method>`` itself is never
        repeated: when its answer is lost, its task is looked for
        (:func:`~.tasks.find_lost`) and awaited.

        :param timeout: seconds to await the task (the caller's limit, e.g.
            ``PoolTimeouts.task``).
        :param on_progress: called with the task's progress (0.0..1.0) as it
            changes.
        :param on_task: called with the task's ref once it is known (created,
            or found after a lost answer), before it is awaited.
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
            task_ref = tasks.find_lost(self, method, lost)
            if task_ref is None:
                raise
        if on_task is not None:
            on_task(task_ref)
        return tasks.await_task(self, task_ref, method, deadline, self._clock,
                                on_progress)

    def wait_for(self, classes, check, timeout, what, on_wait=None):
        """Wait, driven by ``event.from``, until ``check()`` returns non-None.

        See :func:`.waits.wait_for` (this handle's sleep and clock).

        :param on_wait: optional callable ``(text)`` told what is awaited and
            for how long (see :class:`.waits.WaitReporter`).
        :returns: what ``check()`` returned.
        :raises XapiTimeout: not reached within ``timeout``.
        :raises XapiError: ``check()`` or xapi raised a non-restart error.
        """
        return waits.wait_for(self, classes, check, timeout, what,
                              on_wait=on_wait, sleep=self._sleep,
                              clock=self._clock)

    def _logout(self, slot):
        if not slot.logged_in:
            return
        try:
            self._send(slot, LOGOUT, (), self.settings.login_timeout)
        except exception.XenPoolError as exc:
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
