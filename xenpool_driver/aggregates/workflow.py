"""The aggregate state machine: add, remove, delete, reset.

Every operation follows the same contract:

1. check ``operational_state`` against :mod:`xenpool_driver.pool_states`
   (refusals raise :class:`~xenpool_driver.exception.InvalidAggregateAction`
   with the table's reason) and locate every xapi needed (no XAPI call yet);
2. in ONE metadata update, move the observed state to ``changing`` and write
   the intent record (compare-and-set when the aggregate offers it);
3. make the XAPI calls (through :mod:`xenpool_driver.xapi.pool` only);
4. success: record the result, clear the intent, reset the failure count,
   set the new state; failure: re-read reality (the goal may have been
   reached although xapi reported an error: then it is a success), otherwise
   restore the previous state, clear the intent, count the failure (an
   ``active`` pool goes to ``error`` at ``pool_error_threshold``; a refusal
   by our own rule - a preflight mismatch, running guests - counts nothing)
   and re-raise the original exception (XAPI's code and params intact).

Non-pool aggregates are ignored by add and remove.
"""

import dataclasses
import os
import socket
import time

from oslo_log import log as logging

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import contract
from xenpool_driver.aggregates import reconcile as reconcile_mod
from xenpool_driver.xapi import pool
from xenpool_driver.xapi import session as xsession

LOG = logging.getLogger(__name__)

ADD_ACTION = 'add_to_aggregate'
REMOVE_ACTION = 'remove_from_aggregate'
DELETE_ACTION = 'delete_aggregate'
RESET_ACTION = 'reset_aggregate'


class Workflow:
    """Runs pool operations for aggregates, keeping metadata and pool in step.

    :param connector: a :class:`xenpool_driver.xapi.session.Connector`, or a
        zero-argument callable returning one (built lazily).
    :param conf: oslo.config ``ConfigOpts`` with ``[xenserver]`` registered.
    :param own_host: compute host name whose xapi is ``connection_url``.
    :param host_locator: callable ``compute host name -> xapi URL`` (or None
        when unknown), used for hosts other than ``own_host``.
    :param clock: wall-clock callable (seconds), for the intent's ``started``.
    :param owner: who runs the operations (written in the intent record).
    :ivar progress: optional callable ``(phase, fraction_or_None)`` told of
        each phase of a long operation and of the XAPI task's progress.
    """

    def __init__(self, connector, conf=None, own_host=None, host_locator=None,
                 clock=None, owner=None):
        self._connector = connector
        self.conf = conf if conf is not None else xenpool_conf.CONF
        self.own_host = own_host
        self.host_locator = host_locator
        self.clock = clock or time.time
        self.owner = owner or '%s:%d' % (socket.gethostname(), os.getpid())
        self.progress = None

    def _report(self, phase, fraction=None):
        """Tell :attr:`progress` (if any) where a long operation stands."""
        if self.progress is not None:
            try:
                self.progress(phase, fraction)
            except Exception:  # NOTE: a display problem must not fail a join
                LOG.debug('Progress callback failed', exc_info=True)

    # -- locating xapi ------------------------------------------------------

    @property
    def xs(self):
        return self.conf.xenserver

    @property
    def connector(self):
        if callable(self._connector) and not hasattr(self._connector, 'get'):
            self._connector = self._connector()
        return self._connector

    def session_at(self, url):
        """The cached :class:`XapiSession` for ``url``."""
        return self.connector.get(url)

    def url_for_address(self, address):
        """URL of the xapi at ``address`` (scheme/port of connection_url)."""
        return xsession.url_for_address(self.xs.connection_url, address)

    def master_url(self, metadata, record=None):
        """URL of the pool master: the recorded address, else our own xapi.

        NOTE: without a recorded address (classic nova layout) our own xapi
        is used; the session layer follows HOST_IS_SLAVE to the master.
        """
        record = record or bk.read(metadata)
        if record.master_address:
            return self.url_for_address(record.master_address)
        return self.xs.connection_url

    def host_url(self, aggregate, action, host, slave_info=None):
        """URL of ``host``'s xapi, without any password passed around.

        :raises InvalidAggregateAction: the host cannot be located.
        """
        if host == self.own_host and self.xs.connection_url:
            return self.xs.connection_url
        if slave_info and slave_info.get('url'):
            return bk.safe_url(slave_info['url'])
        if self.host_locator is not None:
            url = self.host_locator(host)
            if url:
                return url
        raise exception.InvalidAggregateAction(
            action, aggregate.id,
            'cannot locate the xapi of host %s: pass slave_info with its url '
            'or configure a host locator' % host)

    # -- public operations --------------------------------------------------

    def add(self, aggregate, host, slave_info=None):
        """Add compute ``host`` to the pool of ``aggregate``.

        Pre: ``aggregate`` is a pool aggregate in ``created`` or ``active``;
        ``host`` is locatable (own host, ``slave_info['url']`` or locator).
        Post (success): ``<host>`` = its xenhost uuid, state ``active``, no
        intent, failure count 0; on the first host also ``master_compute`` and
        the master address. Post (failure): previous state, no intent, one
        more failure counted.

        :param slave_info: optional dict with ``url`` and ``xenhost_uuid``.
        :returns: the xenhost uuid, or None for a non-pool aggregate.
        :raises InvalidAggregateAction: refused (state, location, race).
        :raises PreflightFailed: the joiner would be refused (every mismatch).
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            LOG.debug('Aggregate %s is not a pool: add ignored', aggregate.id)
            return None
        state, record = self._check(aggregate, ps.OP_ADD, ADD_ACTION)
        url = self.host_url(aggregate, ADD_ACTION, host, slave_info)
        first = self._is_first_host(aggregate.metadata, record)
        intent = bk.new_intent(ps.OP_ADD, host, state, self.owner, self.clock(),
                               url=url, host_uuid=(slave_info or {}).get(
                                   'xenhost_uuid'))
        if first:
            intent = dataclasses.replace(intent, phase='init')
        self._begin(aggregate, ps.OP_ADD, ADD_ACTION, state, intent)
        step = self._add_first if first else self._join
        updates, master_address = self._run(
            aggregate, intent, lambda: step(aggregate, intent, record),
            lambda: self._verify_add(aggregate, intent, record, first))
        self._succeed(aggregate, intent, updates, ps.ACTIVE, master_address)
        return updates[host]

    def remove(self, aggregate, host, force=False, dead=False):
        """Remove compute ``host`` from the pool of ``aggregate``.

        Pre: a pool aggregate in ``active`` or ``error`` with ``<host>``
        recorded. Post (success): ``<host>`` removed; slave: ejected; master
        with others left: a live slave designated first, then the old master
        ejected, ``master_compute``/address follow; last host: pool name
        cleared, master keys removed, state ``created``. Otherwise the state
        is ``active`` (``error`` stays ``error`` until an admin reset).

        :param force: eject even with running VMs resident (they are lost).
        :param dead: the host is dead: forget its record (``host.destroy``)
            instead of ejecting it; only a slave the master reports offline.
        :raises InvalidAggregateAction: refused (state, unknown host, race, no
            live slave to become master, a dead master, a "dead" host the
            master reports live).
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            LOG.debug('Aggregate %s is not a pool: remove ignored',
                      aggregate.id)
            return
        state, record = self._check(aggregate, ps.OP_REMOVE, REMOVE_ACTION)
        host_uuid = bk.recorded_hosts(aggregate.metadata).get(host)
        if not host_uuid:
            raise exception.InvalidAggregateAction(
                REMOVE_ACTION, aggregate.id,
                'host %s has no xenhost uuid recorded in the aggregate' % host)
        is_master = aggregate.metadata.get(bk.MASTER_COMPUTE) == host
        if dead and is_master:
            # NOTE: a dead master needs a slave promoted by hand
            # (pool.emergency_transition_to_master): not something to guess.
            raise exception.InvalidAggregateAction(
                REMOVE_ACTION, aggregate.id,
                'host %s is the pool master: a dead master cannot be removed; '
                'promote a slave first' % host)
        intent = bk.new_intent(ps.OP_REMOVE, host, state, self.owner,
                               self.clock(), host_uuid=host_uuid)
        self._begin(aggregate, ps.OP_REMOVE, REMOVE_ACTION, state, intent)
        outcome = self._run(
            aggregate, intent,
            lambda: self._remove(aggregate, intent, record, is_master, force, dead),
            lambda: self._verify_remove(aggregate, intent))
        updates, master_address = outcome
        if master_address == '':  # NOTE: the last host left: pool cleared
            new_state = ps.CREATED
        else:
            new_state = ps.ERROR if state == ps.ERROR else ps.ACTIVE
        self._succeed(aggregate, intent, updates, new_state, master_address)

    def delete(self, aggregate):
        """Mark an aggregate without hosts ``dismissed`` (no XAPI call).

        :raises InvalidAggregateAction: not ``created``, or hosts remain.
        """
        state, _ = self._check(aggregate, ps.OP_DELETE, DELETE_ACTION)
        if aggregate.hosts or bk.recorded_hosts(aggregate.metadata):
            raise exception.InvalidAggregateAction(
                DELETE_ACTION, aggregate.id, 'pool still has hosts')
        self._transition(aggregate, DELETE_ACTION, state, ps.DISMISSED,
                         bk.updates(bk.Bookkeeping()))

    def reset(self, aggregate):
        """Admin reset: leave ``error`` only when reality agrees.

        Runs :func:`reconcile` first; with no drift the state becomes
        ``active`` (``created`` when no host is recorded) and the failure count
        is reset.

        :returns: the :class:`~reconcile.ReconcileReport`.
        :raises InvalidAggregateAction: not in ``error``, or drift remains
            (every drift item listed).
        """
        self._check(aggregate, ps.OP_RESET, RESET_ACTION)
        report = self.reconcile(aggregate)
        state = aggregate.metadata.get(ps.KEY)
        if state != ps.ERROR:
            # NOTE: reconcile finished an interrupted op; nothing to reset.
            return report
        if report.error or report.drift:
            raise exception.InvalidAggregateAction(
                RESET_ACTION, aggregate.id,
                'metadata and pool disagree: %s' % '; '.join(
                    ([report.error] if report.error else []) + report.drift))
        new = ps.ACTIVE if bk.recorded_hosts(aggregate.metadata) else ps.CREATED
        record = bk.read(aggregate.metadata).replace(failures=0, counted=None)
        self._transition(aggregate, RESET_ACTION, ps.ERROR, new,
                         bk.updates(record))
        report.actions.append('reset %s -> %s' % (ps.ERROR, new))
        report.state_after = new
        return report

    def reconcile(self, aggregate):
        """See :func:`xenpool_driver.aggregates.reconcile.reconcile`."""
        return reconcile_mod.reconcile(aggregate, self)

    def record_failure(self, aggregate, host, count=True):
        """Account for a failure reported by the caller (undo hook).

        A failure our own workflow already counted for ``host`` is not counted
        again (the ``counted`` marker is consumed instead). Never touches an
        aggregate in ``changing``.

        :param count: False when the failure was a refusal that attempted
            nothing: only a ``counted`` marker is consumed.
        :returns: True when a failure was counted now.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            return False
        record = bk.read(aggregate.metadata)
        done = record.counted
        if done is not None and done.host == host:
            aggregate.update_metadata(bk.updates(record.replace(counted=None)))
            return False
        state = aggregate.metadata.get(ps.KEY)
        if not count or state == ps.CHANGING:
            # NOTE: an operation is in flight (or crashed): it does its own
            # accounting, or reconcile repairs it; never touch it here.
            return False
        failures = record.failures + 1
        updates = bk.updates(record.replace(failures=failures, counted=None))
        if state == ps.ACTIVE and failures >= self.xs.pool_error_threshold:
            updates[ps.KEY] = ps.ERROR
        aggregate.update_metadata(updates)
        return True

    # -- steps ----------------------------------------------------------------

    def _add_first(self, aggregate, intent, record):
        """First host: it becomes master; pool name := aggregate name."""
        session = self.session_at(intent.url)
        info = pool.this_host(session)
        pool.init_pool(session, aggregate.name)
        return ({intent.host: info.uuid, bk.MASTER_COMPUTE: intent.host},
                info.address)

    def _join(self, aggregate, intent, record):
        joiner = self.session_at(intent.url)
        master = self.session_at(self.master_url(aggregate.metadata, record))
        host_uuid = intent.host_uuid
        if not host_uuid:
            host_uuid = pool.this_host(joiner).uuid
            self._update_intent(aggregate, intent, host_uuid=host_uuid)
        force = self.xs.use_join_force
        self._report('preflight')
        mismatches = pool.preflight(joiner, master, force=force,
                                    joiner_uuid=host_uuid)
        if mismatches:
            raise exception.PreflightFailed(ADD_ACTION, aggregate.id,
                                            intent.host, mismatches)
        address = record.master_address or master.address
        self._update_intent(aggregate, intent, host_uuid=host_uuid,
                            phase='join')
        pool.join(joiner, master, address, self.xs.connection_username,
                  self.xs.connection_password, force=force,
                  joiner_uuid=host_uuid,
                  on_progress=lambda f: self._report('join', f),
                  on_phase=self._report)
        return {intent.host: host_uuid}, None

    def _remove(self, aggregate, intent, record, is_master, force, dead=False):
        master = self.session_at(self.master_url(aggregate.metadata, record))
        if dead:
            self._report('forget dead host')
            pool.destroy_host(master, intent.host_uuid)
            return {intent.host: None}, None
        if not is_master:
            pool.eject(master, intent.host_uuid, force=force,
                       on_progress=lambda f: self._report('eject', f))
            return {intent.host: None}, None
        members = pool.snapshot(master)
        others = [h for h in members.hosts if h.uuid != intent.host_uuid]
        if not others:
            pool.clear_pool(master)
            return ({intent.host: None, bk.MASTER_COMPUTE: None},
                    '')  # '' clears the recorded master address
        updates = {intent.host: None}
        if members.master_uuid == intent.host_uuid:
            target = self._pick_new_master(aggregate, others)
            self._update_intent(aggregate, intent, target_uuid=target.uuid,
                                phase='designate')
            self._report('designate new master')
            pool.designate_new_master(master, target.uuid, membership=members)
        else:
            # NOTE: the master already moved (e.g. an earlier designate):
            # never designate again, just follow it.
            target = members.master
        name = bk.host_for_uuid(aggregate.metadata, target.uuid)
        # NOTE: an unrecorded master is left for reconcile to report as drift
        follow = {bk.MASTER_COMPUTE: name} if name else {}
        self._update_intent(aggregate, intent, phase='eject',
                            extra=follow, master_address=target.address)
        # NOTE: after designate the session followed HOST_IS_SLAVE to the new
        # master and re-logged in: reuse it (another handle's pooled sessions
        # died in the restart and would each cost a failed call + a login).
        new_master = (master if master.address == target.address
                      else self.session_at(self.url_for_address(target.address)))
        pool.eject(new_master, intent.host_uuid, force=force,
                   on_progress=lambda f: self._report('eject', f))
        updates.update(follow)
        return updates, target.address

    def _pick_new_master(self, aggregate, others):
        recorded = set(bk.recorded_hosts(aggregate.metadata).values())
        for candidate in others:
            if candidate.live and candidate.enabled and \
                    candidate.uuid in recorded:
                return candidate
        raise exception.InvalidAggregateAction(
            REMOVE_ACTION, aggregate.id,
            'no live slave recorded in the aggregate can become master')

    # -- verification after a failure ------------------------------------------

    def _verify_add(self, aggregate, intent, record, first):
        """Re-read reality: did the host join although xapi said no?"""
        intent = bk.read(aggregate.metadata).intent or intent
        if first or not intent.host_uuid or intent.phase != 'join':
            return None  # NOTE: nothing reached xapi's join: no read needed
        master = self.session_at(self.master_url(aggregate.metadata, record))
        members = pool.snapshot(master)
        if intent.host_uuid in members.uuids:
            return {intent.host: intent.host_uuid}, None
        return None

    def _verify_remove(self, aggregate, intent):
        """Re-read reality: did the host leave although xapi said no?"""
        intent = bk.read(aggregate.metadata).intent or intent
        if intent.phase not in (None, 'designate', 'eject'):
            return None
        master = self.session_at(self.master_url(aggregate.metadata))
        members = pool.snapshot(master)
        if intent.host_uuid in members.uuids:
            return None
        name = bk.host_for_uuid(aggregate.metadata, members.master_uuid)
        updates = {intent.host: None}
        if members.master is not None and name:
            updates[bk.MASTER_COMPUTE] = name
            return updates, members.master.address
        return updates, None

    # -- metadata plumbing --------------------------------------------------

    def _check(self, aggregate, op, action):
        state = aggregate.metadata.get(ps.KEY)
        reason = ps.refusal_reason(op, state)
        if reason:
            raise exception.InvalidAggregateAction(action, aggregate.id, reason)
        return state, bk.read(aggregate.metadata)

    @staticmethod
    def _is_first_host(metadata, record):
        return not record.master_address and not metadata.get(bk.MASTER_COMPUTE)

    def _begin(self, aggregate, op, action, state, intent):
        """Observed state -> ``changing`` + intent, in ONE metadata update."""
        raw = aggregate.metadata.get(bk.KEY)
        record = bk.parse(raw).replace(intent=intent)
        self._transition(aggregate, action, state, ps.CHANGING,
                         bk.updates(record), op=op, raw=raw)

    def _transition(self, aggregate, action, old, new, updates, op=None,
                    raw=None):
        """Move ``operational_state`` from ``old`` to ``new`` with ``updates``.

        NOTE: with compare_and_set_metadata the move is atomic, so two
        requests can never both leave ``created``/``active``; without it we
        re-check and update (a window remains: documented limitation).
        """
        assert ps.is_legal_transition(old, new), (old, new)
        updates = dict(updates, **{ps.KEY: new})
        if contract.supports_cas(aggregate):
            expected = {ps.KEY: old}
            if op is not None:
                expected[bk.KEY] = raw
            if aggregate.compare_and_set_metadata(expected, updates):
                return
        elif aggregate.metadata.get(ps.KEY) == old:
            aggregate.update_metadata(updates)
            return
        now = aggregate.metadata.get(ps.KEY)
        reason = ps.refusal_reason(op, now) if op else None
        raise exception.InvalidAggregateAction(
            action, aggregate.id, reason or
            'another request changed the aggregate (state %s)' % now)

    def _update_intent(self, aggregate, intent, extra=None,
                       master_address=None, **changes):
        """Record progress of the operation in flight (no XAPI call)."""
        record = bk.read(aggregate.metadata)
        current = record.intent or intent
        record = record.replace(intent=dataclasses.replace(current, **changes))
        if master_address is not None:
            record = record.replace(master_address=master_address)
        aggregate.update_metadata(dict(extra or {}, **bk.updates(record)))

    def _run(self, aggregate, intent, step, verify):
        try:
            return step()
        except Exception as exc:
            reached = None
            if not isinstance(exc, exception.InvalidAggregateAction):
                reached = self._safe_verify(aggregate, verify)
            if reached is None:
                self._fail(aggregate, intent, exc)
                raise
            LOG.warning('%s of host %s to aggregate %s reported %s, but the '
                        'pool shows it done: success', intent.op, intent.host,
                        aggregate.id, exc)
            return reached

    @staticmethod
    def _safe_verify(aggregate, verify):
        try:
            return verify()
        except Exception as exc:  # noqa: BLE001
            # NOTE: whatever the re-read raises, the caller gets the original
            LOG.warning('Could not re-read the pool of aggregate %s: %s',
                        aggregate.id, exc)
            return None

    def _succeed(self, aggregate, intent, updates, new_state, master_address):
        record = bk.read(aggregate.metadata)
        record = record.replace(intent=None, failures=0, counted=None)
        if master_address is not None:
            record = record.replace(master_address=master_address or None)
        assert ps.is_legal_transition(ps.CHANGING, new_state)
        aggregate.update_metadata(dict(updates, **bk.updates(record),
                                       **{ps.KEY: new_state}))
        LOG.info('%s of host %s on aggregate %s done: %s', intent.op,
                 intent.host, aggregate.id, new_state)

    def _fail(self, aggregate, intent, exc):
        record = bk.read(aggregate.metadata)
        new_state = intent.prev_state
        if isinstance(exc, exception.InvalidAggregateAction):
            # NOTE: refused by our own rule (preflight, running guests...):
            # nothing was attempted on the pool, so it is no pool failure.
            record = record.replace(intent=None)
            aggregate.update_metadata(dict(bk.updates(record),
                                           **{ps.KEY: new_state}))
            LOG.warning('%s of host %s on aggregate %s refused: %s', intent.op,
                        intent.host, aggregate.id, exc)
            return
        failures = record.failures + 1
        threshold = self.xs.pool_error_threshold
        if new_state == ps.ACTIVE and failures >= threshold:
            new_state = ps.ERROR
        record = record.replace(
            intent=None, failures=failures,
            counted=bk.Counted(intent.id, intent.op, intent.host))
        aggregate.update_metadata(dict(bk.updates(record),
                                       **{ps.KEY: new_state}))
        LOG.warning('%s of host %s on aggregate %s failed (%d consecutive '
                    'failure(s), state %s): %s', intent.op, intent.host,
                    aggregate.id, failures, new_state, exc)
