"""Recovery as named policies, keyed on XAPI codes and transport failures.

Each :class:`Recovery` says *when* it applies (XAPI error codes, kinds of
:class:`~xenpool_driver.exception.XapiUnavailable`, which methods), *what it
does before the retry* (follow the master, log in again, wait) and *its
limit* (a ``[xenserver]`` option read through
:class:`~xenpool_driver.xapi.settings.SessionSettings`, and a time budget).
The session makes a call and lets the :class:`Plan` of that call decide:

==================  ========================================  ====================
policy              when                                      before the retry
==================  ========================================  ====================
``FOLLOW_MASTER``   ``HOST_IS_SLAVE`` (any method: a slave    re-point the handle at
                    refuses before executing)                 ``params[0]``; at most
                                                              ``max_redirects`` hops
``LOGIN_AGAIN``     ``SESSION_INVALID`` (any method but the   log in again (once: the
                    login: nothing was executed)              SDK tried 3 times)
``RETRY_READ``      connection refused/reset,                 back off; at most
                    ``HOST_STILL_BOOTING``, read-only         ``read_retries``, within
                    methods only                              ``call_timeout``
``RETRY_LOGIN``     the same, for the login                   back off; at most
                                                              ``login_retries``,
                                                              within ``login_timeout``
``RESTART_WAIT``    a wait across an xapi restart (refused,   reconnect and re-read;
                    reset, timeout, ``SESSION_INVALID``,      until the wait's own
                    ``HOST_IS_SLAVE``, ``HOST_STILL_BOOTING``,  deadline
                    lost event tokens)
==================  ========================================  ====================

Nothing else is ever repeated: ``pool.join``, ``pool.eject``,
``pool.designate_new_master``, any ``Async.*`` call or setter - after a
dropped connection those must re-read reality (the pool layer does), not
repeat. Inside a wait (:mod:`.waits`) the calls of the wait fail fast on a
transient error: ``RESTART_WAIT`` owns the retry there (:func:`waiting`).

The loop is tenacity's: :meth:`Plan.retrying` gives a ``tenacity.Retrying``
whose predicate, wait and hook are the plan's; ``sleep`` and the clock are
injected, so tests never sleep.
"""

import contextlib
import contextvars
import dataclasses
import time

import tenacity
from oslo_log import log as logging

from xenpool_driver import exception

LOG = logging.getLogger(__name__)

LOGIN = 'session.login_with_password'

#: Methods that change nothing, beyond the ``get_`` naming rule.
READ_ONLY_METHODS = frozenset([
    'event.from', 'event_from', 'system.listMethods',
])


def is_read_only(method):
    """True when ``method`` changes nothing on xapi and may be repeated.

    ``Async.*`` calls create tasks: never read-only.
    """
    if method.startswith('Async.'):
        return False
    if method in READ_ONLY_METHODS:
        return True
    return method.rsplit('.', 1)[-1].startswith('get_')


# -- which methods a policy covers ---------------------------------------------

def any_method(method):
    """Every method (the error says nothing was executed)."""
    return True


def not_login(method):
    """Every method but the login itself."""
    return method != LOGIN


def only_login(method):
    """The login."""
    return method == LOGIN


@dataclasses.dataclass(frozen=True)
class Recovery:
    """One named recovery: when it applies, what it does, how often.

    :param name: shown in logs.
    :param codes: XAPI error codes it applies to.
    :param except_codes: when set, it applies to every XAPI error code but
        these (``codes`` is then unused).
    :param kinds: kinds of :class:`XapiUnavailable` it applies to
        (``exception.REFUSED``, ...).
    :param methods: ``methods(method) -> bool``: the calls it may repeat.
    :param action: what is done before the retry: ``"follow"`` (re-point
        the handle at the master in ``params[0]``), ``"login"`` (the slot
        was logged out: the next attempt logs in), ``"wait"`` (back off),
        ``"fresh-token"`` (wait again from a new event token).
    :param limit_setting: the ``SessionSettings`` attribute that caps the
        retries of one call, or None (``limit`` is used).
    :param limit: retries of one call when ``limit_setting`` is None (None:
        no count limit: the budget or the caller's deadline bounds it).
    :param budget_setting: the ``SessionSettings`` attribute (seconds) that
        bounds the time one call spends retrying, or None.
    :param wait_initial: first back-off (seconds), doubled each retry.
    :param wait_max: cap of one back-off (seconds).
    """

    name: str
    codes: frozenset = frozenset()
    except_codes: frozenset | None = None
    kinds: frozenset = frozenset()
    methods: object = any_method
    action: str = 'wait'
    limit_setting: str | None = None
    limit: int | None = 1
    budget_setting: str | None = None
    wait_initial: float = 0.0
    wait_max: float = 0.0

    def applies(self, method, err):
        """True when this policy covers ``err`` raised by calling ``method``."""
        if not self.methods(method):
            return False
        if isinstance(err, exception.XapiError):
            if self.action == 'follow' and not err.params:
                return False  # NOTE: nowhere to follow to
            if self.except_codes is not None:
                return err.code not in self.except_codes
            return err.code in self.codes
        return isinstance(err, exception.XapiUnavailable) and \
            err.kind in self.kinds

    def retries(self, settings):
        """How many retries of one call this policy allows."""
        if self.limit_setting is not None:
            return int(getattr(settings, self.limit_setting))
        return self.limit

    def backoff(self, retry):
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if self.action != 'wait':
            return 0.0
        return min(self.wait_initial * 2 ** min(retry, 16), self.wait_max)


_TRANSIENT_KINDS = frozenset([exception.REFUSED, exception.RESET])

#: HOST_IS_SLAVE: a slave refuses before executing; the master is params[0].
FOLLOW_MASTER = Recovery('follow-master', codes=frozenset(['HOST_IS_SLAVE']),
                         action='follow', limit_setting='max_redirects')

#: SESSION_INVALID: the call was refused, not run. NOTE: the SDK re-logs in
#: by itself (3 tries); it only gets here when it gave up: once more is
#: enough, a second SESSION_INVALID right after a login is no stale session.
LOGIN_AGAIN = Recovery('login-again', codes=frozenset(['SESSION_INVALID']),
                       methods=not_login, action='login', limit=1)

#: A read-only call while xapi (re)starts.
RETRY_READ = Recovery('retry-read', codes=frozenset(['HOST_STILL_BOOTING']),
                      kinds=_TRANSIENT_KINDS, methods=is_read_only,
                      limit_setting='read_retries', budget_setting='call_timeout',
                      wait_initial=0.5, wait_max=5.0)

#: The login while xapi (re)starts (a second session is harmless).
RETRY_LOGIN = Recovery('retry-login', codes=frozenset(['HOST_STILL_BOOTING']),
                       kinds=_TRANSIENT_KINDS, methods=only_login,
                       limit_setting='login_retries',
                       budget_setting='login_timeout',
                       wait_initial=0.5, wait_max=5.0)

#: Waiting for a condition across an xapi restart (:mod:`.waits`): retried
#: until the wait's own deadline. NOTE: the restart is expected (fuse,
#: down, boot: ~17 s on real xapi), it cannot be seen through events (the
#: process is down) and each retry is one cheap read, so the back-off stays
#: short: a long one only delays noticing the host is back (an 8 s cap could
#: add 8 s to a 17 s critical path; 0.25 s adds at most 1.5 %). TLS and
#: protocol failures are not restarts: they end the wait.
RESTART_WAIT = Recovery(
    'restart-wait',
    codes=frozenset(['SESSION_INVALID', 'HOST_STILL_BOOTING', 'HOST_IS_SLAVE',
                     'EVENT_FROM_TOKEN_PARSE_FAILURE', 'EVENTS_LOST']),
    kinds=frozenset([exception.REFUSED, exception.RESET, exception.TIMEOUT,
                     exception.NETWORK]),
    limit=None, wait_initial=0.1, wait_max=0.25)

#: After an xapi restart the task, the session or the token no longer exist:
#: each of these, answered to a task wait, means "the task is lost", not
#: "the task failed".
TASK_LOST_CODES = frozenset(['HANDLE_INVALID', 'SESSION_INVALID',
                             'EVENT_FROM_TOKEN_PARSE_FAILURE', 'EVENTS_LOST'])

#: An error answered to the ``event.from`` of a task wait that does not say
#: the task is lost. NOTE: such an error says nothing about the task, which
#: keeps running: giving up would let the caller re-read reality while the
#: task still changes it. The call is read-only; the retry takes a fresh
#: token, whose batch carries the task's current record (:mod:`.tasks`).
TASK_WAIT_AGAIN = Recovery(
    'task-wait-again', methods=is_read_only, action='fresh-token', limit=2,
    except_codes=TASK_LOST_CODES)

# NOTE: per context (thread, or eventlet green thread under Nova): is this
# call made by a wait, whose RESTART_WAIT owns the transient retries?
_WAITING = contextvars.ContextVar('xenpool_waiting', default=False)


@contextlib.contextmanager
def waiting():
    """Within: calls fail fast on transient errors (a wait retries them)."""
    token = _WAITING.set(True)
    try:
        yield
    finally:
        _WAITING.reset(token)


def policies_for(method):
    """The policies that may repeat a call of ``method``, in order."""
    if method == LOGIN:
        return () if _WAITING.get() else (RETRY_LOGIN,)
    if _WAITING.get() or not is_read_only(method):
        return (FOLLOW_MASTER, LOGIN_AGAIN)
    return (FOLLOW_MASTER, LOGIN_AGAIN, RETRY_READ)


class Plan(object):
    """The recovery of one call: which policy answers which error, how often.

    :param method: the XAPI method called (errors name the method that
        failed: a login failure inside a call is the login's, not the call's).
    :param policies: the :class:`Recovery` objects that may apply.
    :param settings: :class:`~xenpool_driver.xapi.settings.SessionSettings`
        (the limits).
    :param clock: monotonic clock (the budgets).
    :param on_retry: ``on_retry(policy, err)`` run before each retry (the
        session follows the master there); its exception ends the call.
    """

    def __init__(self, method, policies, settings, clock=None, on_retry=None):
        self.method = method
        self.policies = tuple(policies)
        self.settings = settings
        self.clock = clock or time.monotonic
        self.on_retry = on_retry
        self.started = self.clock()
        self.used = {}
        self.chosen = None

    def choose(self, err):
        """The policy that retries ``err`` now, or None (the call fails).

        Post: when one is returned, its count of retries went up by one.
        """
        method = getattr(err, 'method', None) or self.method
        for policy in self.policies:
            if not policy.applies(method, err):
                continue
            used = self.used.get(policy.name, 0)
            limit = policy.retries(self.settings)
            if limit is not None and used >= limit:
                LOG.info('Not retrying %s (%s): %d retries of %s used',
                         method, err, used, policy.name)
                return None
            if policy.budget_setting and self.clock() - self.started >= \
                    float(getattr(self.settings, policy.budget_setting)):
                LOG.info('Not retrying %s (%s): %s budget spent', method, err,
                         policy.name)
                return None
            self.used[policy.name] = used + 1
            return policy
        return None

    def _should_retry(self, err):
        self.chosen = self.choose(err)
        return self.chosen is not None

    def _wait(self, retry_state):
        return self.chosen.backoff(self.used[self.chosen.name] - 1)

    def _before_retry(self, retry_state):
        err = retry_state.outcome.exception()
        LOG.info('Retrying %s (%s policy, retry %d) after: %s', self.method,
                 self.chosen.name, self.used[self.chosen.name], err)
        if self.on_retry is not None:
            self.on_retry(self.chosen, err)

    def retrying(self, sleep=None):
        """A ``tenacity.Retrying`` driven by this plan; re-raises the last error."""
        return tenacity.Retrying(
            sleep=sleep or time.sleep,
            stop=tenacity.stop_never,
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            before_sleep=self._before_retry,
            reraise=True)

    def call(self, fn, sleep=None):
        """Run ``fn()`` under this plan."""
        return self.retrying(sleep)(fn)
