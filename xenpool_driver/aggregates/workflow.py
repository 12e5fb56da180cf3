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

import contextlib
import getpass
import os
import socket
import time

from oslo_log import log as logging

from xenpool_driver import conf as xenpool_conf
from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import ledger
from xenpool_driver.aggregates import reconcile as reconcile_mod
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import pool
from xenpool_driver.xapi import preflight as xpreflight
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import timeouts as xtimeouts

LOG = logging.getLogger(__name__)

ADD_ACTION = 'add_to_aggregate'
REMOVE_ACTION = 'remove_from_aggregate'
DELETE_ACTION = 'delete_aggregate'
RESET_ACTION = 'reset_aggregate'
FORCE_ACTION = 'force_aggregate_state'
FORGET_ACTION = 'forget_aggregate_host'


def default_owner():
    """Who runs operations from this process: ``user@host:pid``."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - NOTE: no user name in some containers
        user = str(os.getuid())
    return '%s@%s:%d' % (user, socket.gethostname(), os.getpid())


class Workflow:
    """Runs pool operations for aggregates, keeping metadata and pool in step.

    :param connector: a :class:`xenpool_driver.xapi.session.Connector`, or a
        zero-argument callable returning one (built lazily).
    :param conf: oslo.config ``ConfigOpts`` with ``[xenserver]`` registered.
    :param own_host: compute host name whose xapi is ``connection_url``.
    :param host_locator: callable ``compute host name -> xapi URL`` (or None
        when unknown), used for hosts other than ``own_host``.
    :param clock: wall-clock callable (seconds), for the intent's ``started``.
    :param owner: who runs the operations (written in the intent record;
        default :func:`default_owner`).
    :param lease_wait: ``wait(seconds) -> bool`` between lease renewals
        (see :class:`.ledger.Renewer`); tests inject it.
    :ivar progress: optional callable ``(phase, fraction_or_None)`` told of
        each phase of a long operation and of the XAPI task's progress.
    """

    def __init__(self, connector, conf=None, own_host=None, host_locator=None,
                 clock=None, owner=None, lease_wait=None):
        self._connector = connector
        self.conf = conf if conf is not None else xenpool_conf.CONF
        self.own_host = own_host
        self.host_locator = host_locator
        self.clock = clock or time.time
        self.owner = owner or default_owner()
        self.lease_wait = lease_wait
        self.progress = None

    def _report(self, phase, fraction=None):
        """Tell :attr:`progress` (if any) where a long operation stands."""
        if self.progress is not None:
            try:
                self.progress(phase, fraction)
            except Exception:  # NOTE: a display problem must not fail a join
                LOG.debug('Progress callback failed', exc_info=True)

    @property
    def timeouts(self):
        """The pool operations' :class:`~xenpool_driver.xapi.timeouts.PoolTimeouts`."""
        return xtimeouts.PoolTimeouts.from_conf(self.conf)

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
        own = self.xs.connection_url if host == self.own_host else None
        url = (own or bk.safe_url((slave_info or {}).get('url')) or
               self.locate(host))
        if url:
            return url
        raise exception.InvalidAggregateAction(
            action, aggregate.id,
            'cannot locate the xapi of host %s: pass slave_info with its url '
            'or configure a host locator' % host)

    def locate(self, host):
        """xapi URL of compute ``host`` (own host, then the locator), or None."""
        if host == self.own_host and self.xs.connection_url:
            return self.xs.connection_url
        if self.host_locator is not None:
            return self.host_locator(host) or None
        return None

    # -- public operations --------------------------------------------------

    def add(self, aggregate, host, slave_info=None):
        """Add compute ``host`` to the pool of ``aggregate``.

        Pre: ``aggregate`` is a pool aggregate in ``created`` or ``active``;
        ``host`` is locatable (own host, ``slave_info['url']`` or locator).
        Post (success): ``<host>`` = its xenhost uuid, state ``active``, no
        intent, failure count 0; on the first host also ``master_compute`` and
        the master address; a host list that is ours lists ``host``. Adding a
        host that is a member already records it (idempotent). Post
        (failure): previous state, no intent, the reason kept; one more
        failure counted when something that changes the pool was sent; a
        host that joined but did not become live within ``live_timeout`` is
        recorded and the state is ``error``.

        :param slave_info: optional dict with ``url`` and ``xenhost_uuid``.
        :returns: the xenhost uuid, or None for a non-pool aggregate.
        :raises InvalidAggregateAction: refused (state, location, race, a host
            claimed by another aggregate or in another pool).
        :raises PreflightFailed: the joiner would be refused (every mismatch).
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            LOG.debug('Aggregate %s is not a pool: add ignored', aggregate.id)
            return None
        recorded = bk.recorded_hosts(aggregate.metadata).get(host)
        if recorded and aggregate.metadata.get(ps.KEY) in (ps.ACTIVE, ps.ERROR):
            # NOTE: idempotent: the host is ours already (reconcile checks
            # that the pool agrees); only a host list of ours may lack it.
            ledger.follow_host_list(aggregate, {host: recorded})
            return recorded
        state, record = self._check(aggregate, ps.OP_ADD, ADD_ACTION)
        url = self.host_url(aggregate, ADD_ACTION, host, slave_info)
        first = not bk.recorded_hosts(aggregate.metadata)
        intent = bk.new_intent(ps.OP_ADD, host, state, self.owner, self.clock(),
                               url=url, host_uuid=(slave_info or {}).get(
                                   'xenhost_uuid'))
        op = self._begin(aggregate, ps.OP_ADD, ADD_ACTION, state, intent)
        step = self._add_first if first else self._join
        with self._renewing(op):
            updates, master_address = self._run(
                aggregate, op, lambda: step(aggregate, op, record),
                lambda: self._verify_add(aggregate, op, record, first))
            op.succeed(updates, ps.ACTIVE, master_address)
        return updates[host]

    def remove(self, aggregate, host, force=False, dead=False):
        """Remove compute ``host`` from the pool of ``aggregate``.

        Pre: a pool aggregate in ``active`` or ``error``. Post (success):
        ``<host>`` removed (and unlisted from a host list that is ours);
        slave: ejected; master with others left: a live slave designated
        first, then the old master ejected, ``master_compute``/address
        follow; last host: pool name cleared, master keys removed, state
        ``created``. Otherwise the state is ``active`` (``error`` stays
        ``error`` until an admin reset). Removing a host that is not a member
        is a success that cleans up (idempotent).

        :param force: eject even with running VMs resident (they are lost).
        :param dead: the host is dead: forget its record (``host.destroy``)
            instead of ejecting it; only a slave the master reports offline.
        :returns: True when a member was removed; False when ``host`` was
            not a member (nothing to do but clean up), or not a pool.
        :raises InvalidAggregateAction: refused (state, race, no live slave to
            become master, a dead master, a "dead" host the master reports
            live).
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            LOG.debug('Aggregate %s is not a pool: remove ignored',
                      aggregate.id)
            return False
        host_uuid = bk.recorded_hosts(aggregate.metadata).get(host)
        if not host_uuid:
            host_uuid = self._unrecorded_member(aggregate, host)
            if not host_uuid:
                self._forget_non_member(aggregate, host)
                return False
        state, record = self._check(aggregate, ps.OP_REMOVE, REMOVE_ACTION)
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
        op = self._begin(aggregate, ps.OP_REMOVE, REMOVE_ACTION, state, intent)
        with self._renewing(op):
            updates, master_address = self._run(
                aggregate, op,
                lambda: self._remove(aggregate, op, record, is_master, force,
                                     dead),
                lambda: self._verify_remove(aggregate, op))
            if master_address == '':  # NOTE: the last host left: pool cleared
                new_state = ps.CREATED
            else:
                new_state = ps.ERROR if state == ps.ERROR else ps.ACTIVE
            op.succeed(updates, new_state, master_address)
        return True

    def delete(self, aggregate):
        """Mark an aggregate without hosts ``dismissed`` (no XAPI call).

        :raises InvalidAggregateAction: not ``created``, or hosts remain.
        """
        state, _ = self._check(aggregate, ps.OP_DELETE, DELETE_ACTION)
        if aggregate.hosts or bk.recorded_hosts(aggregate.metadata):
            raise exception.InvalidAggregateAction(
                DELETE_ACTION, aggregate.id, 'pool still has hosts')
        ledger.transition(aggregate, DELETE_ACTION, state, ps.DISMISSED,
                          bk.updates(bk.Bookkeeping()))

    def reset(self, aggregate):
        """Admin reset: leave ``error`` only when reality agrees.

        Runs :func:`reconcile` first; with no drift the state becomes
        ``active`` (``created`` when no host is recorded) and the failure count
        and reason are cleared.

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
        if not report.agreed or report.unhealthy:
            raise exception.InvalidAggregateAction(
                RESET_ACTION, aggregate.id,
                'metadata and pool disagree: %s' % '; '.join(
                    ([report.error] if report.error else []) + report.drift +
                    report.unhealthy + [x for x in (report.busy,
                                                    report.pending) if x]))
        new = ps.ACTIVE if bk.recorded_hosts(aggregate.metadata) else ps.CREATED
        record = bk.read(aggregate.metadata).replace(failures=0, counted=None,
                                                     reason=None)
        ledger.transition(aggregate, RESET_ACTION, ps.ERROR, new,
                          {bk.KEY: bk.encode(record)})
        report.actions.append('reset %s -> %s' % (ps.ERROR, new))
        report.state_after = new
        return report

    def force_state(self, aggregate, state):
        """Admin: set ``operational_state`` once reconcile showed reality.

        The way out when nothing else applies (logged as a warning). An
        operation whose lease is alive is never overridden.

        :raises InvalidAggregateAction: unknown ``state``, ``changing``, or a
            live operation.
        """
        if state not in ps.ALL_STATES or state == ps.CHANGING:
            raise exception.InvalidAggregateAction(
                FORCE_ACTION, aggregate.id,
                'cannot force state %r: one of %s' % (state, ', '.join(sorted(
                    ps.ALL_STATES - {ps.CHANGING}))))
        self._refuse_live_operation(aggregate, FORCE_ACTION)
        old = aggregate.metadata.get(ps.KEY)
        record = bk.read(aggregate.metadata).replace(
            intent=None, counted=None,
            reason='state forced from %s to %s by %s' % (old, state, self.owner))
        if state != ps.ERROR:
            record = record.replace(failures=0)
        ledger.repair(aggregate, dict(bk.updates(record), **{ps.KEY: state}),
                      'state forced to %s' % state)
        LOG.warning('Aggregate %s: operational_state forced from %s to %s by %s',
                    aggregate.id, old, state, self.owner)

    def forget_host(self, aggregate, host):
        """Admin: drop ``host``'s record and listing, whatever the pool says.

        For a host reconcile showed is not (or no longer) what the metadata
        says; nothing is asked of xapi. Logged as a warning.

        :raises InvalidAggregateAction: a live operation is in flight.
        """
        self._refuse_live_operation(aggregate, FORGET_ACTION)
        updates = {host: None}
        if aggregate.metadata.get(bk.MASTER_COMPUTE) == host:
            updates[bk.MASTER_COMPUTE] = None
        ledger.repair(aggregate, updates, 'host %s forgotten' % host)
        ledger.follow_host_list(aggregate, updates)
        LOG.warning('Aggregate %s: host %s forgotten by %s', aggregate.id,
                    host, self.owner)

    def reconcile(self, aggregate):
        """See :func:`xenpool_driver.aggregates.reconcile.reconcile`."""
        return reconcile_mod.reconcile(aggregate, self)

    def record_failure(self, aggregate, host, count=True):
        """Account for a failure reported by the caller (undo hook).

        See :func:`.ledger.count_failure`.

        :param count: False when the failure was a refusal that attempted
            nothing: only a ``counted`` marker is consumed.
        :returns: True when a failure was counted now.
        """
        if not ps.is_hv_pool(aggregate.metadata):
            return False
        return ledger.count_failure(aggregate, host, count,
                                    self.xs.pool_error_threshold)

    def _refuse_live_operation(self, aggregate, action):
        intent = bk.read(aggregate.metadata).intent
        if intent is not None and intent.lease_alive(self.clock()):
            raise exception.InvalidAggregateAction(
                action, aggregate.id, 'operation %s of host %s by %s is in '
                'flight' % (intent.op, intent.host, intent.owner))

    def _unrecorded_member(self, aggregate, host):
        """The uuid of ``host`` when it is a member nobody recorded, or None."""
        url = self.locate(host)
        if not url or not bk.recorded_hosts(aggregate.metadata):
            return None
        members = pool.snapshot(self.session_at(self.master_url(
            aggregate.metadata)))
        info = agreement.unrecorded_member_at(aggregate.metadata, members, url)
        return info.uuid if info is not None else None

    def _forget_non_member(self, aggregate, host):
        """Remove of a host that is not a member: clean up, succeed."""
        self._refuse_live_operation(aggregate, REMOVE_ACTION)
        ledger.follow_host_list(aggregate, {host: None})
        LOG.info('Host %s is not a member of aggregate %s: nothing to remove',
                 host, aggregate.id)

    @contextlib.contextmanager
    def _renewing(self, op):
        with ledger.Renewer(op, self.xs.lease_renewal_interval,
                            wait=self.lease_wait):
            try:
                yield
            except KeyboardInterrupt:
                # NOTE: we stop without knowing the outcome: the intent stays
                # and its lease ends now, so reconcile may take it over.
                op.release()
                raise

    # -- steps ----------------------------------------------------------------

    def _add_first(self, aggregate, op, record):
        """First host: it becomes master; pool name := aggregate name.

        NOTE: the host must be standalone and unclaimed: its pool's claim
        (see :mod:`xenpool_driver.xapi.claims`) is taken before anything
        else changes, so another aggregate can never take over this pool,
        nor this aggregate another's.
        """
        intent = op.intent
        session = self.session_at(intent.url)
        info = pool.this_host(session)
        if session.url != intent.url:
            # NOTE: this_host followed HOST_IS_SLAVE: the URL is a slave's
            raise exception.InvalidAggregateAction(
                ADD_ACTION, aggregate.id,
                'host %s is a member of the pool mastered by %s: only a '
                'standalone host can be the first host of an aggregate'
                % (intent.host, info.address))
        op.note(host_uuid=info.uuid, phase='claim')
        op.claim = claims.claim_first_host(
            session, claims.Claim.pool(self.identity(aggregate), intent.id,
                                       self.owner), now=self.clock())
        op.note(phase='init')
        pool.init_pool(session, aggregate.name)
        return ({intent.host: info.uuid, bk.MASTER_COMPUTE: intent.host},
                info.address)

    def identity(self, aggregate):
        """The aggregate's name in host claims: its uuid, else its name."""
        return str(getattr(aggregate, 'uuid', None) or aggregate.name)

    def _claim_joiner(self, aggregate, op, joiner):
        op.note(phase='claim')
        claim = claims.Claim.join(
            self.identity(aggregate), op.intent.id, self.owner, self.clock(),
            self.timeouts.join_lease)
        op.claim = claims.claim_joiner(joiner, claim, now=self.clock())

    def release_claim(self, aggregate, intent, claim=None):
        """Best effort: remove the claim ``intent`` made (it did not happen).

        :param claim: the claim held, when known (else rebuilt from the
            intent: a pool claim for a first host, a join claim otherwise).
        """
        url = intent.url or self.locate(intent.host)
        if not url:
            return False
        if claim is None:
            make = (claims.Claim.pool if not bk.recorded_hosts(
                aggregate.metadata) else
                lambda a, i, o: claims.Claim.join(a, i, o, 0.0, 0.0))
            claim = make(self.identity(aggregate), intent.id, intent.owner)
        try:
            return claims.release(self.session_at(url), claim)
        except exception.XenPoolError as exc:
            LOG.warning('Claim of %s on host %s not released: %s',
                        intent.op, intent.host, exc)
            return False

    def _join(self, aggregate, op, record):
        intent = op.intent
        joiner = self.session_at(intent.url)
        master = self.session_at(self.master_url(aggregate.metadata, record))
        host_uuid = intent.host_uuid
        if not host_uuid:
            info = pool.this_host(joiner)
            if joiner.url != intent.url:
                return self._already_member(aggregate, intent, master, info)
            host_uuid = info.uuid
            op.note(host_uuid=host_uuid)
        self._claim_joiner(aggregate, op, joiner)
        force = self.xs.use_join_force
        self._report('preflight')
        mismatches = xpreflight.preflight(joiner, master, force=force,
                                         joiner_uuid=host_uuid)
        if mismatches:
            raise exception.PreflightFailed(ADD_ACTION, aggregate.id,
                                            intent.host, mismatches)
        address = record.master_address or master.address
        op.note(phase='join')
        pool.join(joiner, master, address, self.xs.connection_username,
                  self.xs.connection_password, self.timeouts, force=force,
                  joiner_uuid=host_uuid,
                  on_progress=lambda f: self._report('join', f),
                  on_phase=lambda phase: self._live_phase(op, phase),
                  on_wait=self._report)
        return {intent.host: host_uuid}, None

    def _already_member(self, aggregate, intent, master, info):
        """The joiner is a slave: of our pool (record it) or another (refuse).

        NOTE: a join that completed after its caller died leaves exactly
        this; joining again would be refused by xapi anyway.
        """
        members = pool.snapshot(master)
        if info.uuid == members.master_uuid:
            member = agreement.unrecorded_member_at(aggregate.metadata, members,
                                                    intent.url)
            if member is not None:
                return {intent.host: member.uuid}, None
        raise exception.InvalidAggregateAction(
            ADD_ACTION, aggregate.id,
            'host %s is a member of the pool mastered by %s: eject it there '
            'first' % (intent.host, info.address))

    def _live_phase(self, op, phase):
        op.note(phase='live')
        self._report(phase)

    def _remove(self, aggregate, op, record, is_master, force, dead=False):
        intent = op.intent
        master = self.session_at(self.master_url(aggregate.metadata, record))
        if dead:
            self._report('forget dead host')
            op.note(phase='destroy')
            pool.destroy_host(master, intent.host_uuid)
            return {intent.host: None}, None
        if not is_master:
            op.note(phase='eject')
            pool.eject(master, intent.host_uuid, self.timeouts, force=force,
                       on_progress=lambda f: self._report('eject', f))
            return {intent.host: None}, None
        members = pool.snapshot(master)
        others = [h for h in members.hosts if h.uuid != intent.host_uuid]
        if not others:
            op.note(phase='clear')
            pool.clear_pool(master)
            self._release_pool_claim(aggregate, master)
            return ({intent.host: None, bk.MASTER_COMPUTE: None},
                    '')  # '' clears the recorded master address
        updates = {intent.host: None}
        if members.master_uuid == intent.host_uuid:
            target = self._pick_new_master(aggregate, others)
            op.note(target_uuid=target.uuid, phase='designate')
            self._report('designate new master')
            pool.designate_new_master(master, target.uuid, self.timeouts,
                                      membership=members)
        else:
            # NOTE: the master already moved (e.g. an earlier designate):
            # never designate again, just follow it.
            target = members.master
        name = bk.host_for_uuid(aggregate.metadata, target.uuid)
        # NOTE: an unrecorded master is left for reconcile to report as drift
        follow = {bk.MASTER_COMPUTE: name} if name else {}
        op.note(phase='eject', extra=follow, master_address=target.address)
        # NOTE: after designate the session followed HOST_IS_SLAVE to the new
        # master and re-logged in: reuse it (another handle's pooled sessions
        # died in the restart and would each cost a failed call + a login).
        new_master = (master if master.address == target.address
                      else self.session_at(self.url_for_address(target.address)))
        pool.eject(new_master, intent.host_uuid, self.timeouts, force=force,
                   on_progress=lambda f: self._report('eject', f))
        updates.update(follow)
        return updates, target.address

    def _release_pool_claim(self, aggregate, master):
        try:
            claims.release_pool(master, self.identity(aggregate))
        except exception.XenPoolError as exc:
            # NOTE: the host stays claimed by this aggregate only: adding it
            # again works; another aggregate is told who claims it.
            LOG.warning('Pool claim of aggregate %s not released: %s',
                        aggregate.id, exc)

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

    def _verify_add(self, aggregate, op, record, first):
        """Re-read reality: did the host join although xapi said no?

        :returns: the outcome when the host is a member and live; raises
            :class:`_JoinedNotLive` when it is a member that is not live.
        """
        intent = op.intent
        if first or not intent.host_uuid or \
                intent.phase not in ('join', 'live'):
            return None  # NOTE: nothing reached xapi's join: no read needed
        master = self.session_at(self.master_url(aggregate.metadata, record))
        members = pool.snapshot(master)
        info = members.host(intent.host_uuid)
        if info is None:
            return None
        if not (info.live and info.enabled):
            raise _JoinedNotLive({intent.host: intent.host_uuid})
        return {intent.host: intent.host_uuid}, None

    def _verify_remove(self, aggregate, op):
        """Re-read reality: did the host leave although xapi said no?"""
        intent = op.intent
        if not intent.may_have_changed_pool():
            return None
        master = self.session_at(self.master_url(aggregate.metadata))
        members = pool.snapshot(master)
        if intent.host_uuid in members.uuids:
            return None
        name = bk.host_for_uuid(aggregate.metadata, members.master_uuid)
        updates = {intent.host: None}
        if not members.hosts or members.master_uuid == intent.host_uuid:
            return None
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

    def _begin(self, aggregate, op, action, state, intent):
        """Observed state -> ``changing`` + intent, in ONE metadata update."""
        try:
            return ledger.begin(aggregate, action, op, state, intent,
                                self.clock, self.xs.lease_expiry)
        except ValueError as exc:
            raise exception.InvalidAggregateAction(action, aggregate.id,
                                                   str(exc))

    def _run(self, aggregate, op, step, verify):
        try:
            return step()
        except ledger.LeaseLost:
            raise
        except Exception as exc:
            try:
                reached = None
                if not isinstance(exc, exception.Refused):
                    reached = self._safe_verify(aggregate, verify)
            except _JoinedNotLive as joined:
                # NOTE: a member (recorded: one truth) that is not live: the
                # add failed and says so; the state follows the failure rule.
                op.fail(exc, self.xs.pool_error_threshold, counts=True,
                        updates=joined.updates)
                raise exc from None
            if reached is None:
                self._undo_claim(aggregate, op)
                op.fail(exc, self.xs.pool_error_threshold,
                        counts=_counts(op, exc))
                raise
            LOG.warning('%s of host %s to aggregate %s reported %s, but the '
                        'pool shows it done: success', op.intent.op,
                        op.intent.host, aggregate.id, exc)
            return reached

    def _undo_claim(self, aggregate, op):
        """After a failure: the claim this operation made goes (if any)."""
        held = getattr(op, 'claim', None)
        if held is None or held.intent != op.intent.id:
            return  # NOTE: none, or the aggregate's own pool claim of before
        self.release_claim(aggregate, op.intent, held)

    @staticmethod
    def _safe_verify(aggregate, verify):
        try:
            return verify()
        except _JoinedNotLive:
            raise
        except Exception as exc:  # noqa: BLE001
            # NOTE: whatever the re-read raises, the caller gets the original
            LOG.warning('Could not re-read the pool of aggregate %s: %s',
                        aggregate.id, exc)
            return None


def _counts(op, exc):
    """Whether a failure counts towards ``pool_error_threshold``.

    Only failures that may have changed the pool count: not a refusal by our
    own rule, not one before the first call that changes the pool, and not
    a login refused or a connection never made on the way to that call
    (when no earlier step changed anything).
    """
    if isinstance(exc, exception.Refused):
        return False
    if not op.intent.may_have_changed_pool():
        return False
    if op.changed_before:
        return True
    if isinstance(exc, exception.XapiError):
        return exc.code != 'SESSION_AUTHENTICATION_FAILED'
    if isinstance(exc, exception.XapiUnavailable) and \
            not isinstance(exc, exception.XapiTimeout):
        return exc.maybe_applied
    return True


class _JoinedNotLive(Exception):
    """The host joined but is not live: record it, and fail (never a success)."""

    def __init__(self, updates):
        super().__init__('joined, not live')
        self.updates = updates
