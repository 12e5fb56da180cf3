"""Pool tasks that outlive their timeout: xapi cannot cancel join, eject, designate.

``pool.join``, ``pool.join_force``, ``pool.eject`` and
``pool.designate_new_master`` run to their end whatever ``task.cancel``
says (``ocaml/xapi/xapi_pool.ml``: no cancellation point; ``xapi_task.ml``
only records the request; ``helpers.ml`` honours it only while the
operation queues for the pool lock). When such a task outlives
``task_timeout`` the session raises :class:`XapiTimeout` with ``task_ref``
and ``still_running=True`` (:mod:`.tasks`) and the timeout decides nothing:
:func:`follow` waits until the operation's goal is real or the task has
ended, and reports what happened. :func:`after_timeout` is the decision a
join or an eject takes on any :class:`XapiTimeout` of its task.
:func:`pending` and :func:`wait_not_pending` (verbs of :mod:`.pool`) tell
whether such a task, made by a caller that is gone, still runs.

XAPI round trips of :func:`follow`: per evaluation, driven by
``event.from`` on ``task``: the goal's re-read (``reached()``, the caller's)
and ``task.get_record`` while the goal is not reached; ``task.destroy``
(best effort) once the task has ended. :func:`pending`:
``task.get_all_records`` (1); :func:`wait_not_pending`: that once per
evaluation, driven by ``event.from`` on ``task``.
"""

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import tasks as tasks_mod

LOG = logging.getLogger(__name__)

# NOTE: after its xapi restarted, the task (or the session that made it) is
# gone: that says nothing about the operation's outcome.
_GONE_CODES = ('HANDLE_INVALID', 'SESSION_INVALID')


def after_timeout(session, timed_out, method, reached, timeout):
    """Decide a join or eject whose task raised :class:`XapiTimeout`.

    A task that is no longer running (never started, or cancelled while
    queued) counts only when ``reached()`` says its goal is real anyway; a
    task still running is followed (:func:`follow`).

    :param session: the :class:`XapiSession` that made the task.
    :param timed_out: the task's :class:`XapiTimeout`.
    :param method: the XAPI message, e.g. ``"pool.join"`` (for messages).
    :param reached: callable: True once the operation's goal is real.
    :param timeout: seconds to follow a running task (``PoolTimeouts.live``).
    :returns: None when the task had stopped but the goal was reached;
        else what :func:`follow` returns (``timed_out``, kept as context).
    :raises XapiTimeout: ``timed_out`` itself, task stopped and goal not
        reached; or see :func:`follow`.
    :raises XapiError, XapiUnavailable: see :func:`follow`.
    """
    if timed_out.still_running:
        return follow(session, timed_out, method, reached, timeout)
    if not reached():
        raise timed_out
    return None


def follow(session, timed_out, method, reached, timeout):
    """After ``task_timeout``: follow a task xapi cannot cancel to reality.

    Join, eject and designate run to their end whatever ``task.cancel``
    says (``xapi_pool.ml``), so the timeout decides nothing: wait, driven by
    ``event.from`` and bounded by ``timeout``, until the goal is
    reached (``reached()`` re-reads the master) or the task has ended, and
    report what happened.

    :param session: the :class:`XapiSession` that made the task.
    :param timed_out: the task's :class:`XapiTimeout` (``task_ref`` set).
    :param method: the XAPI message, e.g. ``"pool.eject"`` (for messages).
    :param reached: callable: True once the operation's goal is real.
    :param timeout: seconds to follow it (``PoolTimeouts.live``).
    :returns: ``timed_out`` (kept as context) when the goal was reached.
    :raises XapiError: the task ended with xapi's error, goal not reached.
    :raises XapiUnavailable: the task vanished and the goal is not reached
        (``maybe_applied``).
    :raises XapiTimeout: still running after the bound: it may still
        complete (``still_running=True``); or the task was cancelled while
        queued and nothing was done (``maybe_applied=False``).
    """
    task_ref = timed_out.task_ref
    LOG.info('Following task %s of %s after its timeout', task_ref, method)
    try:
        state, record = session.wait_for(
            ['task'], lambda: _state(session, task_ref, reached), timeout,
            'task %s (%s) to end' % (task_ref, method))
    except exception.XapiTimeout as still:
        raise exception.XapiTimeout(
            still.host, still.reason, method=still.method,
            maybe_applied=still.maybe_applied,
            task_ref=task_ref, still_running=True) from timed_out
    if state == 'ended':
        _ended(session, record, timed_out, method, reached)
    elif state == 'gone' and not reached():
        raise exception.XapiUnavailable(
            session.url, 'task %s (%s) lost after its timeout' % (task_ref, method),
            method=method, maybe_applied=True) from timed_out
    return timed_out


def _state(session, task_ref, reached):
    """One evaluation: ``('reached' | 'gone' | 'ended', record)``, or None (pending).

    :raises XapiError: ``task.get_record`` failed otherwise than by a lost task.
    """
    if reached():
        return 'reached', None
    try:
        record = session.call('task.get_record', task_ref)
    except exception.XapiError as error:
        if error.code in _GONE_CODES:
            return 'gone', None      # NOTE: its xapi restarted
        raise
    if record.get('status') in tasks_mod.PENDING:
        return None
    return 'ended', record


def _ended(session, record, timed_out, method, reached):
    """The followed task ended (``record``): raise its failure unless ``reached()``.

    :raises XapiTimeout: cancelled while queued, goal not reached.
    :raises XapiError: it failed with xapi's error, goal not reached.
    """
    task_ref = timed_out.task_ref
    try:
        session.call('task.destroy', task_ref)
    except exception.XenPoolError:
        pass
    if record.get('status') == 'cancelled' and not reached():
        # NOTE: only a task still queued for the pool lock honours our
        # cancel (helpers.ml): nothing was done.
        err = exception.XapiTimeout(
            session.url, 'task %s (%s) did not start in time (queued behind '
            'another pool operation) and was cancelled' % (task_ref, method),
            method=method, maybe_applied=False, kind=timed_out.kind)
        raise err from timed_out
    try:
        tasks_mod.outcome(record, task_ref, method, session.url)
    except exception.XapiError:
        if not reached():
            raise


def pending(session, methods):
    """Whether a task of one of ``methods`` is still pending on ``session``'s xapi.

    xapi names the task of ``Async.<method>`` after the call
    (``ocaml/xapi/server_helpers.ml``); a join, eject or designate runs to its
    end once started (``xapi_pool.ml``), so while it is pending its outcome is
    not known yet.

    XAPI calls (1): ``task.get_all_records``.

    :param methods: e.g. ``("pool.join", "pool.join_force")``.
    :raises XapiUnavailable, XapiError: from the session.
    """
    labels = {'Async.' + m for m in methods}
    return any(rec.get('name_label') in labels and
               rec.get('status') in tasks_mod.PENDING
               for rec in session.call('task.get_all_records').values())


def wait_not_pending(session, methods, timeout):
    """Wait, driven by ``event.from``, until no task of ``methods`` is pending.

    :raises XapiTimeout: still pending after ``timeout`` seconds.
    """
    session.wait_for(['task'], lambda: None if pending(session, methods) else True,
                     timeout, 'the %s task to end' % '/'.join(methods))
