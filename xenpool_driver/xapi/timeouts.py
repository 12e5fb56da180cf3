"""How long pool operations wait: the pool layer's own limits.

A session knows how long one call may take (``login_timeout``,
``call_timeout``); how long a join task or a host's restart may take is the
pool operations' business, so they are given a :class:`PoolTimeouts` by
their caller, built from ``[xenserver] task_timeout`` / ``live_timeout``.
"""

import dataclasses

#: Seconds a join claim outlives the longest join we wait for: the restart
#: fuse and clock skew between actors.
JOIN_LEASE_MARGIN = 60.0


@dataclasses.dataclass(frozen=True)
class PoolTimeouts:
    """Limits of the pool operations (seconds).

    :param task: to await an ``Async.*`` task (join, eject) before
        cancelling it (``[xenserver] task_timeout``).
    :param live: to await a host enabled and live after a join or a master
        change, and a task that outlived ``task`` (``[xenserver]
        live_timeout``).
    """

    task: float
    live: float

    @classmethod
    def from_conf(cls, conf):
        """Build from a ``ConfigOpts`` with ``[xenserver]`` registered."""
        return cls(task=float(conf.xenserver.task_timeout),
                   live=float(conf.xenserver.live_timeout))

    @property
    def join_lease(self):
        """Seconds a ``join`` claim must stay valid: the longest join we wait for.

        ``task`` (the join task) + ``live`` (a task followed past its
        timeout, then the wait until live) + :data:`JOIN_LEASE_MARGIN`.
        NOTE: the joiner's own pool (and the claim) only vanishes when its
        xapi restarts, so a lease that ends before a successful join is
        committed would let a second join be sent.
        """
        return self.task + self.live + JOIN_LEASE_MARGIN
