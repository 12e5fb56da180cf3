"""A dry run's answer: what an add or a remove would do now, done nothing.

:meth:`.workflow.Workflow.plan_add` and :meth:`~.workflow.Workflow.plan_remove`
answer a :class:`Plan`. They run the real flow's checks and decisions
(:mod:`.adding`, :mod:`.removing`: the state check, where the host is, first
host or joiner, the claim, the preflight, which member is master and which
slave would be designated, whether guests block an eject) with reads only:
no intent, no claim, no metadata write, no pool write.
"""

import dataclasses

from xenpool_driver import exception


@dataclasses.dataclass(frozen=True)
class Plan:
    """What an operation would do now.

    :ivar operation: ``add``, ``remove`` or ``dead-remove``.
    :ivar aggregate: the aggregate's name.
    :ivar host: the compute host added or removed.
    :ivar refusal: what our rules would refuse now (then the operation
        stops before its first call that changes anything), or None.
    :ivar preflight: every :class:`~xenpool_driver.xapi.preflight.Mismatch`
        a join would be refused for (an add of a joiner; ``[]`` otherwise).
    :ivar calls: the XAPI calls that change something, in the order the
        operation would make them were it not refused, e.g.
        ``['pool.designate_new_master(host2)', 'Async.pool.eject(host1)']``
        (reads are not listed; never a password). ``[]``: nothing to do.
    :ivar designate: the compute host that would become the new master
        (removing the master), else None.
    :ivar losses: for an eject, the
        :class:`~xenpool_driver.xapi.eject_losses.Losses` it destroys (the
        VDIs on the host's local SRs, the VMs losing disks); else None.
    """

    operation: str
    aggregate: str
    host: str
    refusal: str | None = None
    preflight: list = dataclasses.field(default_factory=list)
    calls: list = dataclasses.field(default_factory=list)
    designate: str | None = None
    losses: object = None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """A JSON-friendly dict (the command's JSON and text views)."""
        return {'operation': self.operation, 'aggregate': self.aggregate,
                'host': self.host, 'refusal': self.refusal,
                'preflight': [{'code': m.code, 'params': list(m.params),
                               'reason': m.reason} for m in self.preflight],
                'calls': list(self.calls), 'designate': self.designate,
                'losses': (self.losses.to_dict() if self.losses is not None
                           else None)}


def refusal_text(refused):
    """What a :class:`~xenpool_driver.exception.Refused` says, for a plan.

    An aggregate refusal's reason (``pool still has hosts``); a pool
    operation's whole message, which names the operation and the host
    (``Refused pool.eject of host <uuid>: ...``). None stays None.
    """
    if refused is None:
        return None
    if isinstance(refused, exception.InvalidAggregateAction):
        return refused.reason
    return str(refused)
