"""The one writer of an operation's metadata: begin, note, renew, end, settle.

Every change the workflow and reconcile make to ``operational_state``, the
intent record and our bookkeeping goes through this module, so the rules live
in one place:

* :func:`begin` moves the observed state to ``changing`` and writes the intent
  (with its lease) in ONE update - a compare-and-set where the aggregate offers
  it, expecting no intent, so two requests never both start;
* :class:`Operation` is the running operation: :meth:`~Operation.note` records
  a phase, :meth:`~Operation.renew` extends the lease,
  :meth:`~Operation.succeed` and :meth:`~Operation.fail` end it;
* :func:`settle` ends an operation reconcile took over (counts nothing);
* :func:`transition` is every other state change (delete, reset, an admin's
  forced state);
* :func:`count_failure` is the caller's undo hook accounting.

NOTE: an operation whose lease was taken over (reconcile found it expired)
must not write any more: with compare-and-set each write expects the intent
this operation last wrote, and a mismatch raises :class:`LeaseLost`.
"""

import dataclasses
import threading

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reasons
from xenpool_driver.aggregates import contract

LOG = logging.getLogger(__name__)


class LeaseLost(exception.XenPoolError):
    """Another actor took the operation over (its lease had expired)."""


def follow_host_list(aggregate, updates):
    """Keep a host list that is ours in step with ``<host>`` key ``updates``.

    NOTE: a second write after the metadata one; should it be lost (a crash
    between the two), reconcile repairs the list from the recorded hosts.
    """
    if not contract.owns_host_list(aggregate):
        return
    for key, value in updates.items():
        if key in bk.RESERVED_KEYS:
            continue
        try:
            if value is None and key in aggregate.hosts:
                aggregate.delete_host(key)
            elif value is not None and bk.recorded_hosts({key: value}) and \
                    key not in aggregate.hosts:
                aggregate.add_host(key)
        except Exception as exc:  # noqa: BLE001 - NOTE: a racing writer
            LOG.warning('Host list of aggregate %s not updated for %s: %s',
                        aggregate.id, key, exc)


def _raw_intent(aggregate):
    return aggregate.metadata.get(bk.INTENT_KEY)


def transition(aggregate, action, old, new, updates, op=None, expect=None):
    """Move ``operational_state`` from ``old`` to ``new`` with ``updates``.

    NOTE: with compare_and_set_metadata the move is atomic; without it (a
    compute service's aggregate) we re-check and update: a window remains,
    which the compute service's own per-aggregate lock closes.

    :param op: the operation asking (for the refusal reason), or None.
    :param expect: extra ``{key: value}`` the stored metadata must hold.
    :raises InvalidAggregateAction: the state (or ``expect``) changed.
    """
    assert old not in ps.ALL_STATES or ps.is_legal_transition(old, new), \
        (old, new)
    updates = dict(updates, **{ps.KEY: new})
    expected = dict(expect or {}, **{ps.KEY: old})
    if contract.supports_cas(aggregate):
        if aggregate.compare_and_set_metadata(expected, updates):
            return
    elif all(aggregate.metadata.get(k) == v for k, v in expected.items()):
        aggregate.update_metadata(updates)
        return
    now = aggregate.metadata.get(ps.KEY)
    reason = ps.refusal_reason(op, now) if op else None
    current = bk.read(aggregate.metadata).intent
    if not reason and current is not None:
        reason = 'operation %s of host %s by %s in flight' % (
            current.op, current.host, current.owner)
    raise exception.InvalidAggregateAction(
        action, aggregate.id, reason or
        'another request changed the aggregate (state %s)' % now)


def begin(aggregate, action, op, state, intent, clock, expiry):
    """Observed ``state`` -> ``changing`` + ``intent``, in ONE update.

    :param clock: wall clock (seconds) for the lease.
    :param expiry: seconds the lease lasts without renewal.
    :returns: the running :class:`Operation`.
    :raises InvalidAggregateAction: another request got there first.
    """
    intent = dataclasses.replace(intent, expires=clock() + expiry)
    raw = aggregate.metadata.get(bk.KEY)
    record = bk.read(aggregate.metadata).replace(intent=intent)
    # NOTE: expecting our bookkeeping unchanged too: a failure counted
    # meanwhile by another actor is never overwritten.
    transition(aggregate, action, state, ps.CHANGING, bk.updates(record),
               op=op, expect={bk.INTENT_KEY: None, bk.KEY: raw})
    return Operation(aggregate, intent, clock, expiry)


class Operation:
    """An operation this process runs on an aggregate (the lease holder).

    :param aggregate: the aggregate (see :mod:`.contract`).
    :param intent: the intent written by :func:`begin`.
    :param clock: wall clock (seconds).
    :param expiry: lease length (seconds).
    """

    def __init__(self, aggregate, intent, clock, expiry):
        self.aggregate = aggregate
        self.intent = intent
        self.clock = clock
        self.expiry = expiry
        self.lost = False
        #: a step before the current one may have changed the pool.
        self.changed_before = False
        #: the host claim this operation holds (xapi.claims.Claim), if any.
        self.claim = None
        #: the ref of the XAPI task it created (join, eject), once known.
        self.task_ref = None
        #: whether its failure counted towards ``pool_error_threshold``.
        self.counted = False
        # NOTE: the renewer thread and the operation write the same key.
        self._lock = threading.Lock()

    def _write(self, record, extra=None):
        """Store ``record`` (+ ``extra``) if the intent is still ours."""
        updates = dict(extra or {}, **bk.updates(record))
        agg = self.aggregate
        if contract.supports_cas(agg):
            expected = {bk.INTENT_KEY: bk.encode_intent(self.intent)}
            if not agg.compare_and_set_metadata(expected, updates):
                self.lost = True
                raise LeaseLost(
                    'operation %s of host %s on aggregate %s was taken over '
                    'by another actor' % (self.intent.op, self.intent.host,
                                          agg.id))
        else:
            current = bk.read(agg.metadata).intent
            if current is None or current.id != self.intent.id:
                self.lost = True
                raise LeaseLost('operation %s of host %s on aggregate %s was '
                                'taken over' % (self.intent.op,
                                                self.intent.host, agg.id))
            agg.update_metadata(updates)

    def task_created(self, task_ref):
        """Remember the XAPI task this operation created (for its history)."""
        self.task_ref = task_ref

    def note(self, extra=None, master_address=None, **changes):
        """Record progress (a phase, a uuid, a target) and renew the lease.

        :param extra: other metadata updates made at the same time.
        :param master_address: a new master address to record.
        :raises LeaseLost: the operation was taken over.
        """
        with self._lock:
            record = bk.read(self.aggregate.metadata)
            intent = dataclasses.replace(self.intent, **changes,
                                         expires=self.clock() + self.expiry)
            record = record.replace(intent=intent)
            if master_address is not None:
                record = record.replace(master_address=master_address)
            self._write(record, extra)
            if changes.get('phase', self.intent.phase) != self.intent.phase \
                    and self.intent.may_have_changed_pool():
                self.changed_before = True
            self.intent = intent

    def renew(self):
        """Extend the lease (a no-op once lost).

        :returns: False when the operation was taken over.
        """
        if self.lost:
            return False
        try:
            self.note()
        except LeaseLost:
            LOG.error('Lease of %s of host %s on aggregate %s lost',
                      self.intent.op, self.intent.host, self.aggregate.id)
            return False
        return True

    def release(self):
        """Let reconcile take over now: the lease ends (the intent stays).

        Used when this process stops without knowing the outcome (Ctrl-C).
        """
        with self._lock:
            if self.lost:
                return
            record = bk.read(self.aggregate.metadata)
            # NOTE: a second back: the stored value is rounded up
            intent = dataclasses.replace(self.intent, expires=self.clock() - 1)
            try:
                self._write(record.replace(intent=intent))
                self.intent = intent
            except LeaseLost:
                pass
            # NOTE: no renewal may revive it (the renewer stops after this)
            self.lost = True

    def succeed(self, updates, new_state, master_address):
        """End in success: ``updates``, ``new_state``, no intent, count 0.

        :param master_address: new master address, ``''`` to clear it, None
            to keep it.
        """
        assert ps.is_legal_transition(ps.CHANGING, new_state)
        with self._lock:
            record = bk.read(self.aggregate.metadata).replace(
                intent=None, failures=0, counted=None, reason=None)
            if master_address is not None:
                record = record.replace(master_address=master_address or None)
            self._write(record, dict(updates, **{ps.KEY: new_state}))
            self.lost = True  # NOTE: nothing more to renew
        follow_host_list(self.aggregate, updates)
        LOG.info('%s of host %s on aggregate %s done: %s', self.intent.op,
                 self.intent.host, self.aggregate.id, new_state)

    def fail(self, exc, threshold, counts, updates=None, new_state=None):
        """End in failure: previous state back (or ``error``), intent cleared.

        :param exc: what failed (its text becomes the kept reason).
        :param threshold: ``pool_error_threshold``.
        :param counts: whether it counts towards the threshold (False: a
            refusal, or nothing that changes the pool was sent).
        :param updates: metadata to record anyway (e.g. a host that joined
            but never became live).
        :param new_state: force this state instead of the rule's.
        :returns: the state set.
        """
        intent = self.intent
        with self._lock:
            record = bk.read(self.aggregate.metadata)
            state = intent.prev_state
            ids = counted_operations(record)
            if counts:
                ids += (intent.id,)
                failures = record.failures + 1
                if state == ps.ACTIVE and failures >= threshold:
                    state = ps.ERROR
                record = record.replace(failures=failures)
            if new_state is not None:
                state = new_state
            reason = reasons.with_operations('%s of %s failed: %s' % (
                intent.op, intent.host, exc), ids)
            record = record.replace(
                intent=None, reason=reason,
                counted=bk.Counted(intent.id, intent.op, intent.host,
                                   counted=bool(counts)))
            self._write(record, dict(updates or {}, **{ps.KEY: state}))
            self.lost = True
            self.counted = bool(counts)
        follow_host_list(self.aggregate, updates or {})
        LOG.warning('%s of host %s on aggregate %s failed%s (%d consecutive '
                    'failure(s), state %s): %s', intent.op, intent.host,
                    self.aggregate.id, '' if counts else
                    ' (not counted: nothing changed the pool)',
                    record.failures, state, exc)
        return state


class Renewer:
    """Renews an :class:`Operation`'s lease every ``interval`` seconds.

    :param operation: the :class:`Operation`.
    :param interval: seconds between renewals.
    :param wait: ``wait(seconds) -> bool`` (True: stop); default an Event's
        wait, so that :meth:`stop` ends it at once. Tests inject their own.
    """

    def __init__(self, operation, interval, wait=None):
        self.operation = operation
        self.interval = interval
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread = None

    def __enter__(self):
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name='xenpool-lease')
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def run(self):
        """Renew until stopped or the lease is lost."""
        while not self._wait(self.interval) and not self._stop.is_set():
            try:
                if not self.operation.renew():
                    return
            except Exception:  # noqa: BLE001 - NOTE: a store hiccup; retry
                LOG.warning('Lease renewal of aggregate %s failed',
                            self.operation.aggregate.id, exc_info=True)


def settle(aggregate, intent, updates, new_state, master_address=None,
           reason=None):
    """End an operation reconcile took over: clear ``intent``, apply ``updates``.

    NOTE: the failure count is left alone: a repair counts nothing. With
    compare-and-set it expects ``intent`` still stored (and does nothing when
    another actor settled it first).

    :param new_state: None keeps the state.
    :param master_address: new address, ``''`` clears it, None keeps it.
    :param reason: why, kept (e.g. a rolled-back add).
    :returns: False when another actor changed the intent first.
    """
    record = bk.read(aggregate.metadata).replace(intent=None)
    if master_address is not None:
        record = record.replace(master_address=master_address or None)
    if reason is not None:
        # NOTE: the failures still counted keep naming their operations
        record = record.replace(reason=reasons.with_operations(
            reason, counted_operations(record)))
    updates = dict(updates, **bk.updates(record))
    if new_state is not None:
        updates[ps.KEY] = new_state
    if contract.supports_cas(aggregate):
        expected = {bk.INTENT_KEY: _raw_intent(aggregate)} if intent else {}
        if not aggregate.compare_and_set_metadata(expected, updates):
            return False
    else:
        aggregate.update_metadata(updates)
    follow_host_list(aggregate, updates)
    return True


def repair(aggregate, updates, why):
    """A repair outside any operation (reconcile, an admin's way out).

    :param updates: metadata updates (``None`` deletes); bookkeeping changes
        are made with :func:`xenpool_driver.aggregates.bookkeeping.updates`.
    :param why: what is repaired (logged).
    """
    aggregate.update_metadata(updates)
    LOG.debug('Aggregate %s: %s', aggregate.id, why)


def count_failure(aggregate, host, count, threshold):
    """Account for a failure the caller reports (the undo hook).

    A failure our own workflow already counted for ``host`` is not counted
    again (the ``counted`` marker is consumed instead). Never touches an
    aggregate in ``changing``.

    :param count: False when the failure changed nothing.
    :returns: True when a failure was counted now.
    """
    record = bk.read(aggregate.metadata)
    done = record.counted
    ours = done is not None and done.host == host
    if ours and done.counted:
        aggregate.update_metadata({bk.KEY: bk.encode(
            record.replace(counted=None))})
        return False
    state = aggregate.metadata.get(ps.KEY)
    if not count or state == ps.CHANGING:
        # NOTE: an operation is in flight (or crashed): it does its own
        # accounting, or reconcile repairs it; never touch it here.
        return False
    failures = record.failures + 1
    # NOTE: our own failure that did not count (nothing changed the pool)
    # counts now: the reason names its operation with the others.
    message = record.reason or 'a failure of %s reported by the caller' % host
    ids = counted_operations(record) + ((done.id,) if ours else ())
    updates = {bk.KEY: bk.encode(record.replace(
        failures=failures, counted=None,
        reason=reasons.with_operations(message, ids)))}
    if state == ps.ACTIVE and failures >= threshold:
        updates[ps.KEY] = ps.ERROR
    aggregate.update_metadata(updates)
    return True


def counted_operations(record):
    """The ids of the operations whose failures ``record`` counts, oldest first.

    They are named at the end of the kept reason (see
    :func:`xenpool_driver.aggregates.reasons.with_operations`); none once
    the count is back to 0.
    """
    if not record.failures:
        return ()
    return reasons.reason_operations(record.reason)
