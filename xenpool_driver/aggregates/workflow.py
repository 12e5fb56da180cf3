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

This module is the facade: it checks, begins and finishes operations. Where
xapi is comes from :mod:`.locating`; the XAPI steps are :mod:`.adding` and
:mod:`.removing`; step 4's failure rule is :mod:`.running`; the admin's
ways out are :mod:`.admin`; the metadata is written by :mod:`.ledger` only.
"""

import contextlib
import getpass
import os
import socket
import time

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import adding
from xenpool_driver.aggregates import admin
from xenpool_driver.aggregates import admission
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import history as history_mod
from xenpool_driver.aggregates import ledger
from xenpool_driver.aggregates import locating
from xenpool_driver.aggregates import planning
from xenpool_driver.aggregates import reading
from xenpool_driver.aggregates import reconcile as reconcile_mod
from xenpool_driver.aggregates import removing
from xenpool_driver.aggregates import running

LOG = logging.getLogger(__name__)

ADD_ACTION = adding.ADD_ACTION
REMOVE_ACTION = removing.REMOVE_ACTION
DELETE_ACTION = admin.DELETE_ACTION
RESET_ACTION = admin.RESET_ACTION
FORCE_ACTION = admin.FORCE_ACTION
FORGET_ACTION = admin.FORGET_ACTION


def default_owner():
    """Who runs operations from this process: ``user@host:pid``."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - NOTE: no user name in some containers
        user = str(os.getuid())
    return '%s@%s:%d' % (user, socket.gethostname(), os.getpid())


class Workflow:
    """Runs pool operations for aggregates, keeping metadata and pool in step.

    :param connector: a :class:`xenpool_driver.xapi.connector.Connector`, or a
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
    :param history: a :class:`~.history.HistorySink` given one
        :class:`~.history.OperationRecord` as each operation ends (None:
        nothing is recorded); e.g. ``Store.record_operation``, or
        :func:`.history.log_sink` for a compute service.
    :ivar locator: the :class:`~.locating.XapiLocator` (where xapi is).
    :ivar progress: optional callable ``(phase, fraction_or_None)`` told of
        each phase of a long operation and of the XAPI task's progress.
    """

    def __init__(self, connector, conf=None, own_host=None, host_locator=None,
                 clock=None, owner=None, lease_wait=None, history=None):
        self.locator = locating.XapiLocator(connector, conf, own_host,
                                            host_locator)
        self.clock = clock or time.time
        self.owner = owner or default_owner()
        self.lease_wait = lease_wait
        self.history = history
        self.progress = None

    def _report(self, phase, fraction=None):
        """Tell :attr:`progress` (if any) where a long operation stands."""
        if self.progress is not None:
            try:
                self.progress(phase, fraction)
            except Exception:  # NOTE: a display problem must not fail a join
                LOG.debug('Progress callback failed', exc_info=True)

    @property
    def xs(self):
        return self.locator.xs

    @property
    def own_host(self):
        """Compute host name whose xapi is ``connection_url`` (settable)."""
        return self.locator.own_host

    @own_host.setter
    def own_host(self, host):
        self.locator.own_host = host

    @property
    def connector(self):
        return self.locator.connector

    # -- public operations --------------------------------------------------

    def add(self, aggregate, host, slave_info=None, force=None):
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
        :param force: join with ``pool.join_force`` (checked as such by
            :meth:`preflight`); None: ``[xenserver] use_join_force``.
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
        recorded = admission.added_already(aggregate, host)
        if recorded:
            # NOTE: idempotent: the host is ours already (reconcile checks
            # that the pool agrees); only a host list of ours may lack it.
            ledger.follow_host_list(aggregate, {host: recorded})
            return recorded
        state, record, url, first = admission.admit_add(self.locator, aggregate, host,
                                                         slave_info)
        steps = self._add_steps()
        force = self._join_force(force)
        intent = bk.new_intent(ps.OP_ADD, host, state, self.owner, self.clock(),
                               url=url, host_uuid=(slave_info or {}).get(
                                   'xenhost_uuid'))
        op = self._begin(aggregate, ps.OP_ADD, ADD_ACTION, state, intent)
        with self._operation(aggregate, op, ps.OP_ADD):
            updates, master_address = self._run(
                aggregate, op,
                (lambda: steps.first_host(aggregate, op, record)) if first else
                (lambda: steps.join(aggregate, op, record, force)),
                lambda: steps.verify(aggregate, op, record, first))
            op.succeed(updates, ps.ACTIVE, master_address)
        return updates[host]

    def preflight(self, aggregate, host, url=None, force=None):
        """Check ``host`` the way :meth:`add` checks a joiner (read-only).

        The same reads and the same check as the add flow: the joiner's own
        host record first (its uuid, whether it is a member already), then
        every mismatch :mod:`xenpool_driver.xapi.preflight` finds against the
        pool master, with the same ``force``.

        Pre: a pool aggregate with a host recorded. Post: nothing changed.

        :param url: the host's xapi URL; None: located like :meth:`add`.
        :param force: check for ``pool.join_force``; None: ``[xenserver]
            use_join_force`` (as :meth:`add` would use).
        :returns: list of :class:`~xenpool_driver.xapi.preflight.Mismatch`
            (empty: ``host`` can join).
        :raises InvalidAggregateAction: not a pool, no master yet, the host
            is a member already (of this pool or another) or unlocatable.
        :raises OperationRefused: the joiner is not the host it says it is.
        :raises XapiError: xapi answered an error (code, params).
        :raises XapiUnavailable: no xapi answered.
        """
        return self._add_steps().preflight(aggregate, host, url,
                                           self._join_force(force))

    def plan_add(self, aggregate, host, slave_info=None, force=None):
        """What :meth:`add` would do now (a dry run: read-only).

        The same checks and decisions as :meth:`add` - the state, where the
        host is, first host or joiner, its claim, the preflight, the join -
        made with reads only. Post: nothing changed (no intent, no claim, no
        metadata or pool write).

        :param slave_info: as :meth:`add`.
        :param force: as :meth:`add` (``pool.join_force``).
        :returns: :class:`~.plan.Plan`: ``refusal`` what our rules would
            refuse now (the state, an unlocatable or claimed host, a
            preflight mismatch: ``preflight`` lists every one), ``calls`` e.g.
            ``['pool.add_to_other_config(xenpool.aggregate)',
            'Async.pool.join(192.0.2.1)']``; no calls for a host recorded
            already.
        :raises XapiError: a read was answered with an error.
        :raises XapiUnavailable: no xapi answered a read.
        """
        return planning.plan_add(self.locator, self._add_steps(), aggregate,
                                 host, slave_info, self._join_force(force))

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
        steps = removing.RemoveSteps(self.locator, self._report)
        host_uuid = admission.member_uuid(aggregate, host, steps)
        if not host_uuid:
            self._forget_non_member(aggregate, host)
            return False
        state, record, is_master = admission.admit_remove(aggregate, host, dead)
        intent = bk.new_intent(ps.OP_REMOVE, host, state, self.owner,
                               self.clock(), host_uuid=host_uuid)
        op = self._begin(aggregate, ps.OP_REMOVE, REMOVE_ACTION, state, intent)
        with self._operation(aggregate, op, history_mod.DEAD_REMOVE if dead
                             else ps.OP_REMOVE):
            updates, master_address = self._run(
                aggregate, op,
                lambda: steps.remove(aggregate, op, record, is_master, force,
                                     dead),
                lambda: steps.verify(aggregate, op))
            if master_address == '':  # NOTE: the last host left: pool cleared
                new_state = ps.CREATED
            else:
                new_state = ps.ERROR if state == ps.ERROR else ps.ACTIVE
            op.succeed(updates, new_state, master_address)
        return True

    def plan_remove(self, aggregate, host, force=False, dead=False):
        """What :meth:`remove` would do now (a dry run: read-only).

        The same checks and decisions as :meth:`remove` - the state, which
        member is master, the slave :meth:`remove` would designate, whether
        guests block the eject, whether a "dead" host is offline - made with
        reads only, plus what the eject would destroy. Post: nothing changed.

        :param force: as :meth:`remove`.
        :param dead: as :meth:`remove` (``host.destroy``).
        :returns: :class:`~.plan.Plan` (``operation`` ``remove`` or
            ``dead-remove``): ``calls`` e.g. ``['pool.designate_new_master(
            host2)', 'Async.pool.eject(host1)']``, ``designate`` the new
            master's compute host, ``losses`` the
            :class:`~xenpool_driver.xapi.eject_losses.Losses` of an eject
            (the VDIs on the host's local SRs, the VMs losing disks); no
            calls for a host that is not a member.
        :raises XapiError: a read was answered with an error.
        :raises XapiUnavailable: no xapi answered a read.
        """
        return planning.plan_remove(
            removing.RemoveSteps(self.locator, self._report), aggregate, host,
            force, dead, self.clock())

    def delete(self, aggregate):
        """Mark an aggregate without hosts ``dismissed`` (no XAPI call).

        :raises InvalidAggregateAction: not ``created``, or hosts remain.
        """
        state, _ = admission.check(aggregate, ps.OP_DELETE, DELETE_ACTION)
        admin.dismiss(aggregate, state)

    def reset(self, aggregate):
        """Admin reset: reconcile, then leave ``error`` if reality agrees.

        See :func:`.admin.reset`.

        :returns: the :class:`~.reconcile.ReconcileReport`.
        :raises InvalidAggregateAction: not in ``error``, or drift remains
            (every drift item listed).
        """
        admission.check(aggregate, ps.OP_RESET, RESET_ACTION)
        return admin.reset(aggregate, self.reconcile(aggregate))

    def force_state(self, aggregate, state):
        """Admin: set ``operational_state``; see :func:`.admin.force_state`.

        :raises InvalidAggregateAction: unknown ``state``, ``changing``, or a
            live operation.
        """
        admin.force_state(aggregate, state, self.owner, self.clock())

    def forget_host(self, aggregate, host):
        """Admin: drop ``host``'s record and listing (no XAPI call); see
        :func:`.admin.forget_host`.

        :raises InvalidAggregateAction: a live operation is in flight.
        """
        admin.forget_host(aggregate, host, self.owner, self.clock())

    def reconcile(self, aggregate):
        """See :func:`xenpool_driver.aggregates.reconcile.reconcile`."""
        return reconcile_mod.reconcile(aggregate, self.locator,
                                       clock=self.clock)

    def membership(self, url):
        """The pool as the xapi at ``url`` reports it (read-only).

        See :func:`.reading.membership_at`.
        """
        return reading.membership_at(self.locator, url)

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

    # -- checking, beginning and running an operation ----------------------------

    def _add_steps(self):
        return adding.AddSteps(self.locator, self.owner, self.clock,
                               self._report)

    def _join_force(self, force):
        """The caller's ``force``; None: ``[xenserver] use_join_force``."""
        return self.xs.use_join_force if force is None else bool(force)

    def _forget_non_member(self, aggregate, host):
        """Remove of a host that is not a member: clean up, succeed."""
        admin.refuse_live_operation(aggregate, REMOVE_ACTION, self.clock())
        ledger.follow_host_list(aggregate, {host: None})
        LOG.info('Host %s is not a member of aggregate %s: nothing to remove',
                 host, aggregate.id)

    def _begin(self, aggregate, op, action, state, intent):
        """Observed state -> ``changing`` + intent, in ONE metadata update."""
        try:
            return ledger.begin(aggregate, action, op, state, intent,
                                self.clock, self.xs.lease_expiry)
        except ValueError as exc:
            raise exception.InvalidAggregateAction(action, aggregate.id,
                                                   str(exc))

    @contextlib.contextmanager
    def _operation(self, aggregate, op, name):
        """Run an operation begun: renew its lease, and record how it ended.

        NOTE: the one place every operation ends - success, failure, our own
        refusal, an interruption - so it is recorded exactly once.
        """
        try:
            with self._renewing(op):
                yield
        except BaseException as exc:
            self._record(aggregate, op, name, exc)
            raise
        self._record(aggregate, op, name, None)

    def _record(self, aggregate, op, name, exc):
        """Hand the :class:`~.history.OperationRecord` of ``op`` to the sink."""
        if self.history is None:
            return
        try:
            self.history(history_mod.record_of(
                aggregate, op.intent, name, self.clock(), exc=exc,
                task=op.task_ref, counted=op.counted))
        except Exception:  # noqa: BLE001 - NOTE: never changes the outcome
            LOG.warning('Operation %s of host %s on aggregate %s not recorded '
                        'in the history', op.intent.id, op.intent.host,
                        aggregate.id, exc_info=True)

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

    def _run(self, aggregate, op, step, verify):
        """See :func:`.running.run` (the failure rule of step 4)."""
        return running.run(aggregate, op, step, verify, self.locator,
                           self.xs.pool_error_threshold)
