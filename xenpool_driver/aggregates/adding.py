"""The add flow's steps: the first host, a joining host, and their claims.

Run by :meth:`.workflow.Workflow.add` once the intent is written (the
workflow checks the state, begins the operation and accounts for failures);
each step makes its XAPI calls through :mod:`xenpool_driver.xapi.pool` and
returns ``(metadata updates, master address or None)``.

* first host: claimed (``kind=pool``), then ``pool.set_name_label``: it
  becomes the master of a pool named after the aggregate;
* joining host: its own host record read when its uuid is not known, claimed
  (``kind=join``), checked (:mod:`xenpool_driver.xapi.preflight`, the same
  check :meth:`AddSteps.preflight` answers alone), then ``pool.join`` (or
  ``pool.join_force``) and waited until live.

:meth:`AddSteps.plan` answers what these steps would do, with their reads
and decisions only (a dry run: nothing claimed, nothing written).
"""

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import host_claims
from xenpool_driver.aggregates import plan as plan_mod
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import pool
from xenpool_driver.xapi import preflight as xpreflight

ADD_ACTION = 'add_to_aggregate'
PREFLIGHT_ACTION = 'preflight_host'
#: The intent id of the claim a dry run decides on (never written).
PLAN_INTENT = 'dry-run'


class JoinedNotLive(Exception):
    """The host joined but is not live: record it, and fail (never a success)."""

    def __init__(self, updates):
        super().__init__('joined, not live')
        self.updates = updates


class AddSteps:
    """The XAPI steps of adding a host (one instance per operation).

    :param locator: :class:`~.locating.XapiLocator`.
    :param owner: who runs the operation (written in the claims).
    :param clock: wall-clock callable (seconds), for the claims' leases.
    :param report: ``(phase, fraction=None)`` told of each phase.
    """

    def __init__(self, locator, owner, clock, report):
        self.locator = locator
        self.owner = owner
        self.clock = clock
        self.report = report

    # -- the first host ---------------------------------------------------------

    def first_host(self, aggregate, op, record):
        """First host: it becomes master; pool name := aggregate name.

        NOTE: the host must be standalone and unclaimed: its pool's claim
        (see :mod:`xenpool_driver.xapi.claims`) is taken before anything
        else changes, so another aggregate can never take over this pool,
        nor this aggregate another's.
        """
        intent = op.intent
        session, info = self._standalone(aggregate, intent.host, intent.url)
        op.note(host_uuid=info.uuid, phase='claim')
        op.claim = claims.claim_first_host(
            session, claims.Claim.pool(host_claims.identity(aggregate),
                                       intent.id, self.owner),
            now=self.clock())
        op.note(phase='init')
        pool.init_pool(session, aggregate.name)
        return ({intent.host: info.uuid, bk.MASTER_COMPUTE: intent.host},
                info.address)

    def _standalone(self, aggregate, host, url):
        """``(session, HostInfo)`` of a first host, which must be standalone.

        :raises InvalidAggregateAction: it is a member of a pool.
        """
        session = self.locator.session_at(url)
        info = pool.this_host(session)
        if session.url != url:
            # NOTE: this_host followed HOST_IS_SLAVE: the URL is a slave's
            raise exception.InvalidAggregateAction(
                ADD_ACTION, aggregate.id,
                'host %s is a member of the pool mastered by %s: only a '
                'standalone host can be the first host of an aggregate'
                % (host, info.address))
        return session, info

    # -- a joining host -----------------------------------------------------------

    def join(self, aggregate, op, record, force):
        """A joining host: read, claimed, checked, joined, live.

        :param force: use ``pool.join_force`` (and skip the one check xapi
            skips for it).
        :raises PreflightFailed: the joiner would be refused (every mismatch;
            nothing sent that changes the pool).
        """
        intent = op.intent
        joiner = self.locator.session_at(intent.url)
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata, record))
        host_uuid = intent.host_uuid
        learnt = {}
        if not host_uuid:
            info, member = self.read_joiner(aggregate, ADD_ACTION, intent.host,
                                            intent.url, joiner, master)
            if member is not None:
                return {intent.host: member.uuid}, None
            host_uuid = info.uuid
            learnt = {'host_uuid': host_uuid}
        # NOTE: the uuid read is noted with the claim phase: one write
        seen = self._claim_joiner(aggregate, op, joiner, **learnt)
        self.report('preflight')
        # NOTE: the claim read the joiner's pool and hosts a moment ago: the
        # check starts from that read (two round trips fewer)
        mismatches = self.mismatches(joiner, master, force, host_uuid,
                                     joiner_known=(seen[-1].pool, seen[-1].hosts)
                                     if seen else None)
        if mismatches:
            raise exception.PreflightFailed(ADD_ACTION, aggregate.id,
                                            intent.host, mismatches)
        address = record.master_address or master.address
        op.note(phase='join')
        xs = self.locator.xs
        pool.join(joiner, master, address, xs.connection_username,
                  xs.connection_password, self.locator.timeouts, force=force,
                  joiner_uuid=host_uuid,
                  on_progress=lambda f: self.report('join', f),
                  on_phase=lambda phase: self._live_phase(op, phase),
                  on_wait=self.report, on_task=op.task_created)
        return {intent.host: host_uuid}, None

    def read_joiner(self, aggregate, action, host, url, joiner, master):
        """The joiner's own host record, and whether it is a member already.

        :param joiner: :class:`XapiSession` opened at ``url``.
        :returns: ``(HostInfo, member)``: ``member`` is the unrecorded member
            of this aggregate's pool the joiner is (a join that completed after
            its caller died leaves exactly this), else None.
        :raises InvalidAggregateAction: the joiner is a member of another
            pool (joining again would be refused by xapi anyway).
        """
        info = pool.this_host(joiner)
        if joiner.url == url:
            return info, None
        # NOTE: this_host followed HOST_IS_SLAVE: the URL is a slave's
        members = pool.snapshot(master)
        if info.uuid == members.master_uuid:
            member = agreement.unrecorded_member_at(aggregate.metadata,
                                                    members, url)
            if member is not None:
                return info, member
        raise exception.InvalidAggregateAction(
            action, aggregate.id,
            'host %s is a member of the pool mastered by %s: eject it there '
            'first' % (host, info.address))

    @staticmethod
    def mismatches(joiner, master, force, host_uuid, joiner_known=None):
        """Every mismatch xapi would refuse this join for (read-only).

        The one check of a join: :meth:`join` and :meth:`preflight` both ask
        it, with the same force and the joiner's known uuid.

        :param joiner_known: the joiner's ``(pool record, host records)``
            just read, or None (see :func:`.preflight.preflight`).
        :raises OperationRefused: the joiner is not host ``host_uuid``.
        """
        return xpreflight.preflight(joiner, master, force=force,
                                    joiner_uuid=host_uuid, joiner_known=joiner_known)

    def preflight(self, aggregate, host, url, force):
        """The check :meth:`join` would make for ``host``, and nothing else.

        Pre: ``aggregate`` is a pool aggregate with a host recorded (its
        master). Post: nothing changed (no claim, no intent).

        :param url: the host's xapi URL, or None to locate it.
        :param force: as :meth:`join` would be given it.
        :returns: list of :class:`~xenpool_driver.xapi.preflight.Mismatch`
            (empty: the join would pass the checks).
        :raises InvalidAggregateAction: not a pool, no master yet, ``host``
            is a member already, or it cannot be located.
        :raises OperationRefused: the joiner is not the host it claims to be.
        """
        md = aggregate.metadata
        reason = None
        if not ps.is_hv_pool(md):
            reason = 'not a pool aggregate'
        elif not bk.recorded_hosts(md):
            # NOTE: nothing to check against: the first host added becomes master
            reason = ('aggregate %s has no master yet: the first host added '
                      'becomes its master, no join is checked' % aggregate.name)
        elif host in bk.recorded_hosts(md):
            reason = 'host %s is a member of %s already' % (host, aggregate.name)
        if reason:
            raise exception.InvalidAggregateAction(PREFLIGHT_ACTION,
                                                   aggregate.id, reason)
        url = self.locator.host_url(aggregate, PREFLIGHT_ACTION, host,
                                    {'url': url})
        joiner = self.locator.session_at(url)
        master = self.locator.session_at(self.locator.master_url(md))
        info, member = self.read_joiner(aggregate, PREFLIGHT_ACTION, host, url,
                                        joiner, master)
        if member is not None:
            raise exception.InvalidAggregateAction(
                PREFLIGHT_ACTION, aggregate.id,
                'host %s is a member of the pool of %s already (not recorded: '
                'reconcile records it)' % (host, aggregate.name))
        return self.mismatches(joiner, master, force, info.uuid)

    # -- a dry run -------------------------------------------------------------------

    def plan(self, aggregate, host, url, force, first, plan):
        """What :meth:`first_host` or :meth:`join` would do now (read-only).

        The same reads and decisions as the steps: the first host must be
        standalone and its claim granted, then its pool is named; a joiner is
        read (a member already: nothing to do), claimed, checked, joined.

        :param first: the aggregate has no host recorded yet.
        :param plan: the :class:`~.plan.Plan` to complete.
        :returns: the completed :class:`~.plan.Plan`.
        :raises Refused: a refusal that leaves nothing else to tell.
        :raises XapiError, XapiUnavailable: a read failed.
        """
        if first:
            return self._plan_first_host(aggregate, host, url, plan)
        return self._plan_join(aggregate, host, url, force, plan)

    def _plan_first_host(self, aggregate, host, url, plan):
        session, _info = self._standalone(aggregate, host, url)
        claim = claims.plan(session, claims.Claim.pool(
            host_claims.identity(aggregate), PLAN_INTENT, self.owner),
            now=self.clock(), first_host=True)
        calls = list(claim.writes)
        if claim.view.pool.get('name_label', '') != aggregate.name:
            calls.append('pool.set_name_label(%s)' % aggregate.name)
        return plan.replace(calls=calls,
                            refusal=plan_mod.refusal_text(claim.refused))

    def _plan_join(self, aggregate, host, url, force, plan):
        record = bk.read(aggregate.metadata)
        joiner = self.locator.session_at(url)
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata, record))
        info, member = self.read_joiner(aggregate, ADD_ACTION, host, url, joiner,
                                        master)
        if member is not None:
            return plan      # NOTE: it joined already: add only records it
        claim = claims.plan(joiner, claims.Claim.join(
            host_claims.identity(aggregate), PLAN_INTENT, self.owner,
            self.clock(), self.locator.timeouts.join_lease), now=self.clock())
        mismatches = self.mismatches(joiner, master, force, info.uuid)
        refusal = plan_mod.refusal_text(claim.refused)
        if mismatches and refusal is None:
            refusal = plan_mod.refusal_text(exception.PreflightFailed(
                ADD_ACTION, aggregate.id, host, mismatches))
        address = record.master_address or master.address
        join = 'Async.%s(%s)' % ('pool.join_force' if force else 'pool.join',
                                 address)
        return plan.replace(calls=list(claim.writes) + [join],
                            preflight=list(mismatches), refusal=refusal)

    def _claim_joiner(self, aggregate, op, joiner, **learnt):
        """Claim the joiner; returns the :class:`~.claims.PoolView` list it read.

        :param learnt: intent fields learnt since the last note (``host_uuid``),
            noted with the phase.
        """
        op.note(phase='claim', **learnt)
        claim = claims.Claim.join(
            host_claims.identity(aggregate), op.intent.id, self.owner,
            self.clock(), self.locator.timeouts.join_lease)
        seen = []
        op.claim = claims.claim_joiner(joiner, claim, now=self.clock(), seen=seen)
        return seen

    def _live_phase(self, op, phase):
        op.note(phase='live')
        self.report(phase)

    # -- verification after a failure --------------------------------------------

    def verify(self, aggregate, op, record, first):
        """Re-read reality: did the host join although xapi said no?

        :returns: the outcome when the host is a member and live, else None.
        :raises JoinedNotLive: it is a member that is not live.
        """
        intent = op.intent
        if first or not intent.host_uuid or \
                intent.phase not in ('join', 'live'):
            return None  # NOTE: nothing reached xapi's join: no read needed
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata, record))
        members = pool.snapshot(master)
        info = members.host(intent.host_uuid)
        if info is None:
            return None
        if not (info.live and info.enabled):
            raise JoinedNotLive({intent.host: intent.host_uuid})
        return {intent.host: intent.host_uuid}, None
