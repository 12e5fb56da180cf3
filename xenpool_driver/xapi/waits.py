"""Waiting for a condition on xapi, driven by ``event.from``, across restarts.

:func:`wait_for` takes an event token first, then evaluates ``check()``,
then evaluates it again after each batch of events until it answers. An
xapi restart on the way (connection refused, HOST_STILL_BOOTING,
SESSION_INVALID, HOST_IS_SLAVE, a lost token) is recovered by the named
policy :data:`~.recovery.RESTART_WAIT`: reconnect, take a new token,
re-read; the calls made inside the wait fail fast
(:func:`~.recovery.waiting`), so the wait notices at once when xapi is
back.
"""

import tenacity
from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import recovery
from xenpool_driver.xapi import tasks

LOG = logging.getLogger(__name__)

#: Seconds between two reports of a wait that goes on (see ``on_wait``).
WAIT_REPORT_INTERVAL = 30.0


class WaitReporter(object):
    """Tells ``on_wait`` what a wait is waiting for (rate-limited).

    :param on_wait: callable ``(text)``, or None (nothing is told).
    :param what: what is awaited, for a person.
    :param timeout: the wait's bound (seconds).
    :param clock: monotonic clock.
    :param url: the xapi waited on.
    """

    def __init__(self, on_wait, what, timeout, clock, url):
        self.on_wait, self.what, self.timeout = on_wait, what, timeout
        self.clock, self.url = clock, url
        self.start = clock()
        self.last = None      # time of the last report
        self.down = False     # xapi not answering at the last report

    def tick(self, error):
        """Report now if something changed or the interval passed.

        :param error: the error that interrupted the wait, or None.
        """
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


class _OutOfTime(Exception):
    """The deadline passed with ``check()`` still None."""


def wait_for(session, classes, check, timeout, what, on_wait=None,
             sleep=None, clock=None):
    """Wait until ``check()`` returns non-None; see the module docstring.

    :param session: the :class:`~.session.XapiSession` to watch.
    :param classes: XAPI class names, e.g. ``["host", "host_metrics"]``.
    :param check: callable returning None (not yet) or the result; it may
        make calls on ``session``.
    :param timeout: seconds.
    :param what: description for the timeout error and the reports.
    :param on_wait: see :class:`WaitReporter`.
    :param sleep: injectable sleep (the restart back-off).
    :param clock: injectable monotonic clock.
    :returns: what ``check()`` returned.
    :raises XapiTimeout: not reached within ``timeout`` (the last restart
        error, if any, in its reason).
    :raises XapiError: ``check()`` or xapi raised an error no policy covers.
    :raises XapiProtocolError: a non-XAPI answer (not a restart).
    """
    reporter = WaitReporter(on_wait, what, timeout, clock, session.url)
    deadline = clock() + timeout
    last = []

    def retry_on(err):
        if not isinstance(err, exception.XenPoolError) or \
                not recovery.RESTART_WAIT.applies('event.from', err):
            return False
        LOG.info('Waiting for %s on %s: xapi not ready (%s); reconnecting',
                 what, session.url, err)
        last[:] = [err]
        reporter.tick(err)
        return clock() < deadline

    def backoff(retry_state):
        return min(recovery.RESTART_WAIT.backoff(retry_state.attempt_number - 1),
                   max(deadline - clock(), 0.0))

    retrying = tenacity.Retrying(
        sleep=sleep, stop=tenacity.stop_never, wait=backoff,
        retry=tenacity.retry_if_exception(retry_on), reraise=True)
    try:
        with recovery.waiting():
            return retrying(_watch, session, classes, check, deadline, clock,
                            reporter)
    except _OutOfTime:
        pass
    except exception.XenPoolError as err:
        if not last or last[0] is not err:
            raise
    reason = 'timed out after %.1fs waiting for %s' % (timeout, what)
    if last:
        reason += ' (last error: %s)' % last[0]
    raise exception.XapiTimeout(session.url, reason)


def _watch(session, classes, check, deadline, clock, reporter):
    """One connection's worth of waiting: token, check, events, check..."""
    # NOTE: token first, then read: nothing can change unseen between
    # check() and the next event.from.
    token = session.event_from(classes, '', 0.0)['token']
    while True:
        result = check()
        if result is not None:
            return result
        reporter.tick(None)
        remaining = deadline - clock()
        if remaining <= 0:
            raise _OutOfTime()
        token = session.event_from(
            classes, token, min(remaining, tasks.EVENT_WAIT_SLICE))['token']
