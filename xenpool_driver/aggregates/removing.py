"""The remove flow's steps: a slave, the master, a dead host, the last host.

Run by :meth:`.workflow.Workflow.remove` once the intent is written; each
step makes its XAPI calls through :mod:`xenpool_driver.xapi.pool` and
returns ``(metadata updates, master address)`` - the address is None when
the master stays, the new master's after a designate, and ``''`` when the
last host left (the recorded address is cleared).

* a slave: ``pool.eject`` on the master;
* a dead slave: ``host.destroy`` (its record forgotten, nothing ejected);
* the master with others left: a live recorded slave designated
  (``pool.designate_new_master``), then the old master ejected by the new
  (guests not halted on it refuse the remove before the designate);
* the last host: it stays in its pool, whose name is cleared, and the
  aggregate's pool claim is released.

:meth:`RemoveSteps.plan` answers what these steps would do, with their reads
and decisions only (a dry run), and what an eject would destroy.
"""

from xenpool_driver import exception
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import host_claims
from xenpool_driver.aggregates import plan as plan_mod
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import eject_losses
from xenpool_driver.xapi import pool

REMOVE_ACTION = 'remove_from_aggregate'


class RemoveSteps:
    """The XAPI steps of removing a host (one instance per operation).

    :param locator: :class:`~.locating.XapiLocator`.
    :param report: ``(phase, fraction=None)`` told of each phase.
    """

    def __init__(self, locator, report):
        self.locator = locator
        self.report = report

    def unrecorded_member(self, aggregate, host):
        """The uuid of ``host`` when it is a member nobody recorded, or None."""
        url = self.locator.locate(host)
        if not url or not bk.recorded_hosts(aggregate.metadata):
            return None
        members = pool.snapshot(self.locator.session_at(
            self.locator.master_url(aggregate.metadata)))
        info = agreement.unrecorded_member_at(aggregate.metadata, members, url)
        return info.uuid if info is not None else None

    def remove(self, aggregate, op, record, is_master, force, dead=False):
        """The step for the host of ``op``: see the module's list.

        :param is_master: the host is the recorded master.
        :param force: eject even with running VMs resident (they are lost).
        :param dead: forget its record (``host.destroy``) instead.
        :raises InvalidAggregateAction: no live slave can become master.
        """
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata, record))
        if dead:
            return self._forget_dead(op, master)
        if not is_master:
            op.note(phase='eject')
            self._eject(op, master, force)
            return {op.intent.host: None}, None
        members = pool.snapshot(master)
        if not [h for h in members.hosts if h.uuid != op.intent.host_uuid]:
            return self._clear_last(aggregate, op, master)
        return self._remove_master(aggregate, op, master, members, force)

    def _forget_dead(self, op, master):
        self.report('forget dead host')
        op.note(phase='destroy')
        pool.destroy_host(master, op.intent.host_uuid)
        return {op.intent.host: None}, None

    def _eject(self, op, master, force, membership=None):
        pool.eject(master, op.intent.host_uuid, self.locator.timeouts,
                   force=force, on_progress=lambda f: self.report('eject', f),
                   on_task=op.task_created, membership=membership)

    def _clear_last(self, aggregate, op, master):
        op.note(phase='clear')
        pool.clear_pool(master)
        host_claims.release_pool_claim(master, aggregate)
        return ({op.intent.host: None, bk.MASTER_COMPUTE: None},
                '')  # '' clears the recorded master address

    def _remove_master(self, aggregate, op, master, members, force):
        """Designate a live recorded slave (unless done), then eject."""
        intent = op.intent
        others = [h for h in members.hosts if h.uuid != intent.host_uuid]
        settled, refused_already = None, False
        if members.master_uuid == intent.host_uuid:
            target = self._pick_new_master(aggregate, others)
            if not force:
                # NOTE: the eject after the designate would refuse them: say
                # so before the master moves (the eject does not ask again:
                # xapi itself refuses one that started since).
                pool.refuse_guests(master, intent.host_uuid,
                                   members.host(intent.host_uuid).ref)
                refused_already = True
            op.note(target_uuid=target.uuid, phase='designate')
            self.report('designate new master')
            # NOTE: the pool as it settled (read on the new master) is the
            # eject's: its master and refs are not read again.
            settled = pool.designate_new_master(master, target.uuid,
                                                self.locator.timeouts,
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
                      else self.locator.session_at(
                          self.locator.url_for_address(target.address)))
        # NOTE: guests refused before the designate are not asked for again
        # (our refusal skipped: force); xapi still makes its own
        self._eject(op, new_master, force or refused_already, membership=settled)
        return dict({intent.host: None}, **follow), target.address

    # -- a dry run -------------------------------------------------------------------

    def plan(self, aggregate, host_uuid, is_master, force, dead, plan):
        """What :meth:`remove` would do now for ``plan.host`` (read-only).

        The same reads and decisions: a dead slave's record destroyed if the
        master reports it offline; a slave ejected if no guest runs there;
        the master's pool cleared when it is the last host, else the slave
        :meth:`_pick_new_master` picks designated, then the old master
        ejected. An eject's :class:`~xenpool_driver.xapi.eject_losses.Losses`
        are read from the master.

        :param plan: the :class:`~.plan.Plan` to complete.
        :returns: the completed :class:`~.plan.Plan`; guests that block the
            eject are its refusal, with the calls and losses still told.
        :raises Refused: refused (the text is the plan's refusal).
        :raises XapiError, XapiUnavailable: a read failed.
        """
        host = plan.host
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata))
        if dead:
            if pool.destroyable(master, host_uuid) is None:
                return plan
            return plan.replace(calls=['host.destroy(%s)' % host])
        calls, designate = [], None
        if not is_master:
            host_ref = pool.ejectable(master, host_uuid, force=True)
            if host_ref is None:
                return plan      # NOTE: it left already: remove only cleans up
        else:
            members = pool.snapshot(master)
            others = [h for h in members.hosts if h.uuid != host_uuid]
            if not others:
                return plan.replace(calls=self._plan_clear(aggregate, master,
                                                           members))
            if members.master_uuid == host_uuid:
                target = self._pick_new_master(aggregate, others)
                designate = (bk.host_for_uuid(aggregate.metadata, target.uuid)
                             or target.name_label)
                calls.append('pool.designate_new_master(%s)' % designate)
            host_ref = members.host(host_uuid).ref
        refusal = None
        if not force:
            try:
                pool.refuse_guests(master, host_uuid, host_ref)
            except exception.Refused as refused:
                refusal = plan_mod.refusal_text(refused)
        calls.append('Async.pool.eject(%s)' % host)
        return plan.replace(calls=calls, designate=designate, refusal=refusal,
                            losses=eject_losses.read_losses(master, host_uuid))

    @staticmethod
    def _plan_clear(aggregate, master, members):
        """The last host: its pool's name cleared, the pool claim released."""
        calls = ['pool.set_name_label("")'] if members.name_label else []
        held = claims.read(master).claim
        if held is not None and held.kind == claims.POOL and \
                held.aggregate == host_claims.identity(aggregate):
            calls.append('pool.remove_from_other_config(%s)' % claims.KEY)
        return calls

    @staticmethod
    def _pick_new_master(aggregate, others):
        recorded = set(bk.recorded_hosts(aggregate.metadata).values())
        for candidate in others:
            if candidate.live and candidate.enabled and \
                    candidate.uuid in recorded:
                return candidate
        raise exception.InvalidAggregateAction(
            REMOVE_ACTION, aggregate.id,
            'no live slave recorded in the aggregate can become master')

    def verify(self, aggregate, op):
        """Re-read reality: did the host leave although xapi said no?

        :returns: the outcome when the host is gone and others remain, else
            None (the failure stands).
        """
        intent = op.intent
        if not intent.may_have_changed_pool():
            return None
        master = self.locator.session_at(
            self.locator.master_url(aggregate.metadata))
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
