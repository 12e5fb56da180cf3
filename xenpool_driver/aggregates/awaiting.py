"""Awaiting the outcome of an interrupted join, eject or designate.

An operation whose owner died may still be running in xapi (a join or eject
task pending), or have happened with its effect not visible yet (a joiner
restarting, a new master booting). Reconcile decides nothing until the
outcome is known: each wait here is bounded (``task_timeout`` /
``live_timeout``, :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`) and
ends in :class:`Unknown` when the bound passes - the intent is kept for a
later run.

Every wait goes through the session (``event.from``) or the pool layer; the
only clock read here is the injected monotonic clock of
:func:`await_designate`, so tests never sleep.
"""

import time

from xenpool_driver import exception
from xenpool_driver.xapi import host as host_mod
from xenpool_driver.xapi import pool

JOIN_METHODS = ('pool.join', 'pool.join_force')
EJECT_METHODS = ('pool.eject',)

#: Seconds after which an old master still answering as master, with no
#: designate running, shows the designate did not commit: a committed one
#: lights every member's fuse (``xapi_pool_transition.ml``
#: ``become_another_masters_slave`` -> ``Xapi_fuse.light_fuse_and_run``,
#: ``Xapi_globs.fuse_time`` 10 s) and ``pool.master`` moves only when the
#: new master has booted (``dbsync_master.ml``). Capped at half of
#: ``live_timeout``: the driver already counts on a fuse, restart and boot
#: fitting in it (a joiner's).
FUSE_WINDOW = 15.0


class Unknown(Exception):
    """The outcome of an interrupted operation cannot be known yet."""


def await_join(locator, intent, master, host_uuid):
    """Until the join's outcome is known: the task ended, the joiner back.

    :param locator: :class:`~.locating.XapiLocator` (the joiner's xapi).
    :param master: :class:`XapiSession` on the pool master.
    :raises Unknown: still pending (or the joiner silent) after the bound.
    """
    url = intent.url or locator.locate(intent.host)
    timeouts = locator.timeouts
    try:
        joiner = locator.session_at(url)
        still = pool.pending(joiner, JOIN_METHODS)
    except exception.XapiError as exc:
        if exc.code == 'HOST_IS_SLAVE':
            return  # NOTE: it joined some pool: the master's list says which
        raise Unknown('add of host %s: its xapi answers %s'
                      % (intent.host, exc.code))
    except exception.XapiUnavailable:
        # NOTE: the joiner restarts after a join: wait for the master to
        # list it, then decide; silence past the bound decides nothing.
        try:
            master.wait_for(['host'], lambda: host_mod.find(master, host_uuid),
                            timeouts.live,
                            'host %s to join or answer' % host_uuid)
        except exception.XapiTimeout:
            raise Unknown('add of host %s: outcome unknown, its xapi does '
                          'not answer and the master does not list it'
                          % intent.host)
        return
    if still:
        try:
            pool.wait_not_pending(joiner, JOIN_METHODS, timeouts.task)
        except exception.XenPoolError as exc:
            raise Unknown('add of host %s: the join task is still running '
                          '(%s)' % (intent.host, exc))


def wait_live(session, host_uuid, intent, timeouts):
    """Until the joined host is live (``live_timeout``).

    :raises Unknown: joined, not live yet.
    """
    try:
        pool.wait_until_live(session, host_uuid, timeouts.live)
    except exception.XapiTimeout:
        raise Unknown('add of host %s: joined, not live yet' % intent.host)


def await_eject(session, intent, timeouts):
    """Until no eject task runs (phase ``eject`` only); the pool re-read.

    :returns: the :class:`~xenpool_driver.xapi.pool.Membership` read then.
    :raises Unknown: the eject task still runs after ``task_timeout``, or
        the pool could not be read.
    """
    try:
        if intent.phase == 'eject' and pool.pending(session, EJECT_METHODS):
            pool.wait_not_pending(session, EJECT_METHODS, timeouts.task)
        return pool.snapshot(session)
    except exception.XapiTimeout:
        raise Unknown('remove of host %s: the eject task is still '
                      'running' % intent.host)
    except (exception.XapiError, exception.XapiUnavailable) as exc:
        raise Unknown('remove of host %s: %s' % (intent.host, exc))


def await_designate(intent, session, members, live_timeout,
                    monotonic=time.monotonic):
    """Until a designate's outcome is known: the pool settled under the
    target (``dbsync_master.ml``: ``pool.master`` is set when the new master
    has booted), or the old master still master, no designate running, for
    :data:`FUSE_WINDOW` (a committed one would have restarted it,
    ``xapi_pool_transition.ml``).

    Driven by ``event.from`` on pool and host, bounded by ``live_timeout``
    (seconds, ``PoolTimeouts.live``).

    :param monotonic: the clock both bounds are measured on (seconds).
    :returns: the :class:`~xenpool_driver.xapi.pool.Membership` read last.
    :raises Unknown: still not known after the bound.
    """
    window = min(FUSE_WINDOW, live_timeout / 2.0)
    check = _DesignateCheck(intent.target_uuid, members.master_uuid, session,
                            window, monotonic)
    deadline = monotonic() + live_timeout
    what = 'pool.master %s or the designate shown not done' % intent.target_uuid
    while True:
        left = deadline - monotonic()
        if left <= 0:
            raise Unknown('remove of host %s: the designate of %s may be in '
                          'effect (pool.master not moved yet); the intent is '
                          'kept' % (intent.host, intent.target_uuid))
        try:
            return session.wait_for(['pool', 'host'], check,
                                    min(left, max(window / 5.0, 0.05)), what)
        except exception.XapiTimeout:
            continue
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            raise Unknown('remove of host %s: %s' % (intent.host, exc))


class _DesignateCheck:
    """The ``wait_for`` check of :func:`await_designate` (one per wait).

    Answers the membership once the target is master and every host is
    enabled and live, or once the old master has stayed master with no
    designate running for ``window`` seconds; None otherwise.
    """

    def __init__(self, target_uuid, old_master, session, window, monotonic):
        self.target_uuid = target_uuid
        self.old_master = old_master
        self.session = session
        self.window = window
        self.monotonic = monotonic
        self.quiet_since = None

    def __call__(self):
        now = self.monotonic()
        read = pool.snapshot(self.session)
        if read.master_uuid == self.target_uuid:
            self.quiet_since = None
            if all(h.enabled and h.live for h in read.hosts):
                return read
            return None
        running = self._designate_running()
        if read.master_uuid != self.old_master or running:
            self.quiet_since = None
            return None
        if self.quiet_since is None:
            self.quiet_since = now
        elif now - self.quiet_since >= self.window:
            return read
        return None

    def _designate_running(self):
        ops = [op for rec in self.session.call('pool.get_all_records').values()
               for op in (rec.get('current_operations') or {}).values()]
        return 'designate_new_master' in ops
