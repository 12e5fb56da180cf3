"""Retry policies as named, declarative objects, keyed on what is safe.

Only two things are ever retried, and only where repeating cannot do harm:

* ``LOGIN``: logging in (a second session is harmless);
* ``READ_ONLY``: calls that change nothing (``*.get_*``, ``event.from``,
  ``session.get_this_host``, ...);

and only on *transient* errors: connection refused / reset (xapi restarting)
and ``HOST_STILL_BOOTING``. ``NEVER`` covers everything else: ``pool.join``,
``pool.eject``, ``pool.designate_new_master``, any ``Async.*`` call - after
a dropped connection those must re-read reality, not repeat.

Limits come from the settings (a bounded number of attempts, exponential
back-off capped, and a total budget of ``login_timeout`` / ``call_timeout``
measured on an injectable clock); ``reraise=True`` so the caller sees the
last real error; ``sleep`` is injectable so unit tests never sleep.
"""

import dataclasses
import time

import tenacity
from oslo_log import log as logging

from xenpool_driver.xapi import errors

LOG = logging.getLogger(__name__)

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


def is_transient(exc):
    """True for the errors worth another attempt of a safe call."""
    return (errors.kind_of(exc) in (errors.REFUSED, errors.RESET) or
            errors.is_code(exc, errors.HOST_STILL_BOOTING))


class stop_after_budget(tenacity.stop.stop_base):
    """Stop once ``budget`` seconds passed on ``clock`` since creation.

    NOTE: tenacity's own ``stop_after_delay`` reads ``time.monotonic``; this
    one reads the injected clock so tests control time.
    """

    def __init__(self, budget, clock):
        self.budget = budget
        self.clock = clock
        self.started = clock()

    def __call__(self, retry_state):
        return self.clock() - self.started >= self.budget


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """A declarative retry policy.

    :param name: shown in logs.
    :param max_attempts: total attempts (1: never retried; 0: no count limit,
        the budget or the caller's deadline bounds it).
    :param budget_setting: name of the settings attribute (seconds) that
        bounds the total time spent retrying, or None.
    :param wait_initial: first back-off (seconds), doubled each attempt.
    :param wait_max: cap of one back-off (seconds).
    """

    name: str
    max_attempts: int
    budget_setting: str | None = None
    wait_initial: float = 0.5
    wait_max: float = 5.0

    def retrying(self, settings, sleep=None, clock=None):
        """Return a fresh :class:`tenacity.Retrying` for one call.

        :param settings: :class:`~xenpool_driver.xapi.session.SessionSettings`.
        :param sleep: injectable sleep (default :func:`time.sleep`).
        :param clock: injectable monotonic clock (default
            :func:`time.monotonic`).
        """
        clock = clock or time.monotonic
        stop = (tenacity.stop_after_attempt(self.max_attempts) if self.max_attempts
                else tenacity.stop_never)
        if self.budget_setting:
            stop = stop | stop_after_budget(
                getattr(settings, self.budget_setting), clock)
        return tenacity.Retrying(
            sleep=sleep or time.sleep,
            stop=stop,
            wait=tenacity.wait_exponential(multiplier=self.wait_initial,
                                           max=self.wait_max),
            retry=tenacity.retry_if_exception(is_transient),
            before_sleep=self._log_retry,
            reraise=True)

    def backoff(self, failures):
        """Seconds to wait after ``failures`` consecutive failures (0-based)."""
        return min(self.wait_initial * 2 ** min(failures, 16), self.wait_max)

    def _log_retry(self, retry_state):
        exc = retry_state.outcome.exception()
        LOG.info('Retrying (%s policy, attempt %d) after: %s', self.name,
                 retry_state.attempt_number, exc)

    def call(self, fn, settings, sleep=None, clock=None):
        """Run ``fn()`` under this policy; re-raises the last error."""
        return self.retrying(settings, sleep, clock)(fn)


#: Logging in: refused/reset/HOST_STILL_BOOTING while xapi (re)starts.
LOGIN = RetryPolicy('login', max_attempts=5, budget_setting='login_timeout')

#: Read-only calls: same transient errors, bounded by the call timeout.
READ_ONLY = RetryPolicy('read-only', max_attempts=4,
                        budget_setting='call_timeout')

#: Waiting for a condition across an xapi restart (``XapiSession.wait_for``):
#: retried until the wait's own deadline. NOTE: the restart is expected
#: (fuse, down, boot: ~17 s on real xapi), it cannot be seen through events
#: (the process is down) and each retry is one cheap read, so the back-off
#: stays short: a long one only delays noticing the host is back (an 8 s cap
#: could add 8 s to a 17 s critical path; 0.25 s adds at most 1.5 %).
RESTART_WAIT = RetryPolicy('restart-wait', max_attempts=0, wait_initial=0.1,
                           wait_max=0.25)

#: Everything else (join, eject, designate, Async.*, setters): one attempt.
NEVER = RetryPolicy('never', max_attempts=1)


def policy_for(method):
    """The named policy for ``method``: ``READ_ONLY`` or ``NEVER``."""
    return READ_ONLY if is_read_only(method) else NEVER
