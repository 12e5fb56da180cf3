"""Deciding an interrupted operation whose lease expired, from reality.

The intent record says what was asked and how far it got (its ``phase``);
the pool says what happened. An add whose host is a member is finished, a
remove whose host is gone is finished, anything that provably did not
happen is rolled back (with the host claim it made released) - and while
the outcome cannot be known yet (:mod:`.awaiting`) nothing is decided: the
intent is kept. A repair counts nothing: the failure count is left as it is.

Every function takes the :class:`.reconcile.PoolAccess` reconcile was
given (``access``) and the report it fills in (``report.actions``).
"""

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import awaiting
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import host_claims
from xenpool_driver.aggregates import ledger
from xenpool_driver.xapi import pool


def repair_intent(aggregate, access, intent, session, members, error, report):
    """Finish, roll back or keep the interrupted operation of ``intent``.

    :param session: :class:`XapiSession` the pool was read on (or None).
    :param members: the :class:`~xenpool_driver.xapi.pool.Membership` read,
        or None (``error`` says why).
    :raises awaiting.Unknown: the outcome is not known yet (intent kept).
    """
    md = aggregate.metadata
    if md.get(ps.KEY) != ps.CHANGING:
        ledger.settle(aggregate, intent, {}, None)
        report.actions.append('cleared stale intent %s of host %s'
                              % (intent.op, intent.host))
        return
    if not intent.may_have_changed_pool():
        # NOTE: nothing that changes the pool was sent: undo is exact.
        _release_claim(aggregate, access, intent)
        _roll_back(aggregate, intent, report, 'nothing was sent to xapi')
        return
    if members is None:
        raise awaiting.Unknown('%s of host %s: %s; the intent is kept'
                               % (intent.op, intent.host,
                                  error or 'pool not found'))
    host_uuid = intent.host_uuid or md.get(intent.host)
    if intent.op == ps.OP_ADD:
        _repair_add(aggregate, access, intent, host_uuid, session, members,
                    report)
    else:
        _repair_remove(aggregate, access, intent, host_uuid, session,
                       members, report)


def _roll_back(aggregate, intent, report, why):
    ledger.settle(aggregate, intent, {}, intent.prev_state,
                  reason='%s of %s rolled back: %s' % (intent.op, intent.host,
                                                       why))
    report.actions.append('rolled back %s of host %s -> %s (%s)'
                          % (intent.op, intent.host, intent.prev_state, why))


def _release_claim(aggregate, access, intent):
    """The interrupted add did not happen: its host claim goes too."""
    host_claims.release_claim(access.locator, aggregate, intent)


# -- an interrupted add ---------------------------------------------------------

def _repair_add(aggregate, access, intent, host_uuid, session, members,
                report):
    if intent.phase == 'init':
        _repair_first_host(aggregate, access, intent, host_uuid, members,
                           report)
        return
    if host_uuid is None:
        info = agreement.unrecorded_member_at(
            aggregate.metadata, members,
            intent.url or access.locator.locate(intent.host))
        host_uuid = info.uuid if info is not None else None
    if host_uuid is None:
        _roll_back(aggregate, intent, report, 'the joiner is not a member')
        return
    if host_uuid not in members.uuids:
        awaiting.await_join(access.locator, intent, session, host_uuid)
        members = pool.snapshot(session)
        report.members = sorted(members.uuids)
    if host_uuid in members.uuids:
        info = members.host(host_uuid)
        if not (info.live and info.enabled):
            awaiting.wait_live(session, host_uuid, intent,
                               access.locator.timeouts)
        ledger.settle(aggregate, intent, {intent.host: host_uuid}, ps.ACTIVE)
        report.actions.append('finished add of host %s' % intent.host)
        return
    _release_claim(aggregate, access, intent)
    _roll_back(aggregate, intent, report, 'the host did not join')


def _repair_first_host(aggregate, access, intent, host_uuid, members, report):
    """Phase ``init``: the first host's pool is named, or it is not."""
    if members.name_label == aggregate.name and \
            host_uuid in (None, members.master_uuid) and \
            len(members.hosts) == 1:
        updates = {intent.host: members.master_uuid,
                   bk.MASTER_COMPUTE: intent.host}
        ledger.settle(aggregate, intent, updates, ps.ACTIVE,
                      members.master.address)
        report.actions.append('finished add of first host %s' % intent.host)
        return
    _release_claim(aggregate, access, intent)
    _roll_back(aggregate, intent, report, 'the pool was not named')


# -- an interrupted remove ------------------------------------------------------

def _repair_remove(aggregate, access, intent, host_uuid, session, members,
                   report):
    if intent.phase == 'clear':
        # NOTE: the last host: it stays in its pool, whose name is cleared
        if members.name_label == aggregate.name:
            _roll_back(aggregate, intent, report, 'the pool name was not cleared')
            return
        _finish_remove(aggregate, intent, session, report)
        return
    if intent.phase == 'designate' and intent.target_uuid and \
            members.master_uuid != intent.target_uuid:
        # NOTE: the designate may be in effect, the new master booting: not
        # decided until pool.master names the target or it provably did not.
        members = awaiting.await_designate(intent, session, members,
                                           access.locator.timeouts.live,
                                           monotonic=access.monotonic)
        report.members = sorted(members.uuids)
    if host_uuid is not None and host_uuid in members.uuids:
        members = awaiting.await_eject(session, intent,
                                       access.locator.timeouts)
    if host_uuid is not None and host_uuid in members.uuids:
        _roll_back(aggregate, intent, report, 'the host is still a member')
        return
    _finish_remove(aggregate, intent, session, report)


def _finish_remove(aggregate, intent, session, report):
    updates = {intent.host: None}
    left = dict(bk.recorded_hosts(aggregate.metadata))
    left.pop(intent.host, None)
    if left:
        new = ps.ERROR if intent.prev_state == ps.ERROR else ps.ACTIVE
        ledger.settle(aggregate, intent, updates, new)
    else:
        updates[bk.MASTER_COMPUTE] = None
        ledger.settle(aggregate, intent, updates, ps.CREATED, '')
        host_claims.release_pool_claim(session, aggregate)
    report.actions.append('finished remove of host %s' % intent.host)
