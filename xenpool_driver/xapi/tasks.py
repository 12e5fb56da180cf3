"""Awaiting XAPI tasks through ``event.from`` (never sleep-polling).

The sequence (see xapi-reference.md 3.4/3.5):

1. ``event.from(["task/<ref>"], "", 0.0)`` returns the task's current record
   *and* a token: the token is therefore taken before the first read, so no
   change between read and wait can be missed;
2. while the task is ``pending``, ``event.from(classes, token, remaining)``
   blocks until it changes (completion is seen within milliseconds);
3. ``success`` -> the ``result`` XML-RPC fragment is decoded; ``failure`` ->
   :class:`~xenpool_driver.exception.XapiError` from ``error_info``;
   ``cancelled`` -> ``TASK_CANCELLED``; out of time -> ``task.cancel`` and
   :class:`~xenpool_driver.exception.XapiTimeout`;
4. the task is destroyed (best effort) once read.

Join, eject and designate_new_master cannot be cancelled (``xapi_pool.ml``
has no cancellation point in them; ``xapi_task.ml`` only records the
request, and ``helpers.ml`` honours it only while the operation queues for
the pool lock). After their timeout the task is therefore asked to cancel
but neither destroyed nor believed cancelled: the :class:`XapiTimeout`
carries ``task_ref`` and ``still_running=True`` so that the caller follows
the task and re-reads reality (:mod:`.outlived`).

Tasks vanish when xapi restarts: a task that disappears, or a connection
lost while waiting, means the outcome is unknown -> ``XapiUnavailable`` with
``maybe_applied=True`` (the caller re-reads reality).
"""

import xmlrpc.client

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import recovery

LOG = logging.getLogger(__name__)

#: Longest single ``event.from`` wait (seconds); the loop re-arms it.
EVENT_WAIT_SLICE = 30.0

PENDING = ('pending', 'cancelling')

_DELETED = object()

#: Messages whose task runs to its end whatever ``task.cancel`` says
#: (``ocaml/xapi/xapi_pool.ml``, ``taskHelper.ml``).
UNCANCELLABLE = frozenset({'pool.join', 'pool.join_force', 'pool.eject',
                           'pool.designate_new_master'})


class _Deadline(Exception):
    pass


def decode_result(fragment, host=None):
    """Decode a task's ``result`` (an XML-RPC ``<value>`` fragment).

    ``"<value>OpaqueRef:x</value>"`` -> ``"OpaqueRef:x"``;
    ``"<value></value>"`` or ``""`` (void) -> ``""``.

    :raises XapiProtocolError: the fragment is not valid XML-RPC.
    """
    if not fragment or not fragment.strip():
        return ''
    doc = ('<?xml version="1.0"?><methodResponse><params><param>%s'
           '</param></params></methodResponse>' % fragment)
    try:
        return xmlrpc.client.loads(doc)[0][0]
    except Exception as exc:  # NOTE: expat, ResponseError, ValueError...
        err = exception.XapiProtocolError(
            host, 'undecodable task result: %s: %s' % (type(exc).__name__, exc),
            maybe_applied=True)
        raise err from None


def _latest(batch, task_ref):
    """The newest snapshot of ``task_ref`` in an event batch (or None)."""
    found = None
    for event in batch.get('events') or ():
        if event.get('ref') != task_ref:
            continue
        if event.get('operation') == 'del':
            found = _DELETED
        elif 'snapshot' in event:
            found = event['snapshot']
    return found


def _progress(record):
    try:
        return float(record.get('progress', 0.0))
    except (TypeError, ValueError):
        return None


def _event_from(xs, classes, token, timeout):
    """``event.from`` for a task wait, under :data:`~.recovery.TASK_WAIT_AGAIN`."""
    ask = {'token': token, 'timeout': timeout}

    def fresh_token(policy, err):
        LOG.info('event.from on %s answered %s %s; waiting again', classes,
                 err.code, err.params)
        ask.update(token='', timeout=0.0)

    plan = recovery.Plan('event.from', (recovery.TASK_WAIT_AGAIN,),
                         xs.settings, on_retry=fresh_token)
    # NOTE: no back-off: the wait itself is what takes time
    return plan.call(lambda: xs.event_from(classes, ask['token'], ask['timeout']),
                     sleep=lambda seconds: None)


def _wait(xs, task_ref, deadline, clock, on_progress):
    classes = ['task/%s' % task_ref]
    batch = _event_from(xs, classes, '', 0.0)
    token = batch['token']
    record = _latest(batch, task_ref)
    if record is None:
        # NOTE: the token is already held, so reading now misses nothing.
        record = xs.call('task.get_record', task_ref)
    reported = None
    while True:
        if record is _DELETED:
            raise exception.XapiError('HANDLE_INVALID', ['task', task_ref],
                                      method='event.from', host=xs.url)
        progress = _progress(record)
        if on_progress is not None and progress is not None and \
                progress != reported:
            reported = progress
            on_progress(progress)
        if record.get('status') not in PENDING:
            return record
        remaining = deadline - clock()
        if remaining <= 0:
            raise _Deadline()
        batch = _event_from(xs, classes, token,
                            float(min(remaining, EVENT_WAIT_SLICE)))
        token = batch['token']
        record = _latest(batch, task_ref) or record


def _best_effort(xs, method, task_ref):
    try:
        xs.call(method, task_ref)
    except exception.XenPoolError as exc:
        LOG.debug('%s of task %s failed: %s', method, task_ref, exc)


def outcome(record, task_ref, method, host):
    """The decoded result of a finished task record, or its error.

    :raises XapiError: status ``failure`` (code/params from ``error_info``)
        or ``cancelled`` (``TASK_CANCELLED [task]``).
    """
    status = record.get('status')
    if status == 'success':
        return decode_result(record.get('result', ''), host)
    info = list(record.get('error_info') or ())
    if status == 'cancelled' and not info:
        info = ['TASK_CANCELLED', task_ref]
    if not info:
        info = ['INTERNAL_ERROR', 'task %s ended %s' % (task_ref, status)]
    raise exception.XapiError(info[0], info[1:], method=method, host=host)


def _still_running(xs, task_ref, method):
    """The timeout of a task xapi cannot cancel: it goes on (or ends) alone.

    NOTE: ``task.cancel`` is still sent: a queued eject or designate (waiting
    for the pool lock) honours it; anything else ignores it. The task is
    kept for the caller to follow.
    """
    LOG.warning('Task %s (%s) did not finish in time; xapi cannot cancel it: '
                'it may still complete', task_ref, method)
    _best_effort(xs, 'task.cancel', task_ref)
    err = exception.XapiTimeout(
        xs.url, 'task %s did not finish in time; %s cannot be cancelled: it '
        'may still complete' % (task_ref, method), method=method,
        maybe_applied=True, task_ref=task_ref, still_running=True)
    return err


def _lost_sight(xs, task_ref, method, error):
    LOG.warning('Waiting for task %s (%s) was answered %s %s; the task cannot '
                'be cancelled and may still complete: following it', task_ref,
                method, error.code, error.params)
    return exception.XapiTimeout(
        xs.url, 'lost sight of task %s (%s): %s %s; it may still complete'
        % (task_ref, method, error.code, error.params), method=method,
        maybe_applied=True, task_ref=task_ref, still_running=True)


def await_task(xs, task_ref, method, deadline, clock, on_progress=None):
    """Wait for ``task_ref`` (made by ``Async.<method>``) and return its result.

    :param xs: the :class:`~xenpool_driver.xapi.session.XapiSession` that
        created the task.
    :param method: the synchronous method name (for errors), e.g.
        ``pool.join``.
    :param deadline: value of ``clock()`` at which to give up.
    :param on_progress: called with progress 0.0..1.0 when it changes.
    :returns: the decoded task result.
    :raises XapiError: the task failed or was cancelled.
    :raises XapiTimeout: out of time (``maybe_applied=True``); the task was
        cancelled, except for :data:`UNCANCELLABLE` messages, whose error
        carries ``task_ref`` and ``still_running=True`` (the task goes on);
        the same when the wait for one of those is answered an error that
        does not say the task is lost (e.g. ``HOST_IS_SLAVE`` not followed).
    :raises XapiUnavailable: xapi was lost while waiting (``maybe_applied``).
    """
    try:
        record = _wait(xs, task_ref, deadline, clock, on_progress)
    except _Deadline:
        if method in UNCANCELLABLE:
            raise _still_running(xs, task_ref, method) from None
        LOG.warning('Task %s (%s) did not finish in time; cancelling',
                    task_ref, method)
        _best_effort(xs, 'task.cancel', task_ref)
        _best_effort(xs, 'task.destroy', task_ref)
        err = exception.XapiTimeout(
            xs.url, 'task %s did not finish in time (cancelled)' % task_ref,
            method=method, maybe_applied=True)
        raise err from None
    except exception.XapiUnavailable as exc:
        err = type(exc)(xs.url, 'lost while waiting for task %s: %s'
                        % (task_ref, exc.reason), method=method,
                        maybe_applied=True, kind=exc.kind)
        raise err from None
    except exception.XapiError as exc:
        if exc.code not in recovery.TASK_LOST_CODES:
            if method in UNCANCELLABLE:
                # NOTE: an error answered to the WAIT (the task's own failure
                # is read from its record, below) says nothing of a task that
                # runs to its end whatever we do: its outcome cannot be known
                # yet, so it is followed like one that outlived its timeout.
                raise _lost_sight(xs, task_ref, method, exc) from exc
            raise
        err = exception.XapiUnavailable(
            xs.url, 'task %s lost (xapi restarted?): %s %s'
            % (task_ref, exc.code, exc.params), method=method,
            maybe_applied=True, kind=exception.RESET)
        raise err from None
    _best_effort(xs, 'task.destroy', task_ref)
    return outcome(record, task_ref, method, xs.url)


def find_lost(xs, method, error):
    """The task of an ``Async.<method>`` whose answer was lost, or None.

    NOTE: a connection dropped after the request was sent may hide a task
    that is running: re-reading reality at once would see the goal not
    reached yet, and the task would reach it later, unseen. Never repeat the
    call: find the task (xapi names it ``Async.<method>``) and await it like
    any other. Only one unfinished candidate counts.

    :param xs: the :class:`~xenpool_driver.xapi.session.XapiSession` the
        call was made on.
    :param method: the synchronous method name, e.g. ``pool.join``.
    :param error: the :class:`XapiUnavailable` the call raised.
    :returns: the task's ref, or None (not sent, unreadable, not found, or
        not alone).
    """
    if not error.maybe_applied:
        return None
    try:
        records = xs.call('task.get_all_records')
    except exception.XenPoolError as exc:
        LOG.info('Cannot look for the task of Async.%s on %s: %s',
                 method, xs.url, exc)
        return None
    found = [ref for ref, rec in records.items()
             if rec.get('name_label') == 'Async.' + method and
             rec.get('status') in PENDING + ('success', 'failure')]
    if len(found) != 1:
        return None
    LOG.warning('Answer of Async.%s on %s lost (%s); awaiting its task %s',
                method, xs.url, error, found[0])
    return found[0]
