"""Pool operations: XAPI knowledge only (no aggregates, no metadata).

INTERFACE CONTRACT (bodies are being implemented; signatures are fixed).

Every function takes :class:`xenpool_driver.xapi.session.XapiSession`
handles and makes its XAPI calls through ``session.call`` /
``session.call_async`` / ``session.wait_for``. Timeouts default to the
session's settings (``session.settings.task_timeout`` / ``live_timeout``).
Verbs are idempotent where xapi allows: they re-read state and accept an
already reached goal; join, eject and designate are never repeated blindly.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class HostInfo:
    """One host as the master sees it."""

    ref: str
    uuid: str
    name_label: str
    address: str
    enabled: bool
    live: bool


@dataclasses.dataclass(frozen=True)
class Membership:
    """A snapshot of a pool read from its master."""

    pool_ref: str
    pool_uuid: str
    name_label: str
    master_uuid: str
    hosts: tuple  # of HostInfo

    @property
    def master(self):
        """:class:`HostInfo` of the master."""
        return self.host(self.master_uuid)

    @property
    def uuids(self):
        """frozenset of member host uuids."""
        return frozenset(h.uuid for h in self.hosts)

    def host(self, uuid):
        """The member with ``uuid``, or None."""
        for h in self.hosts:
            if h.uuid == uuid:
                return h
        return None


def snapshot(session):
    """Read the pool's membership (pool, master, hosts with liveness)."""
    raise NotImplementedError


def this_host(session):
    """:class:`HostInfo` of the host whose xapi ``session`` talks to."""
    raise NotImplementedError


def init_pool(session, name_label):
    """Make a standalone host's pool the aggregate's pool (``name_label``)."""
    raise NotImplementedError


def clear_pool(session):
    """Clear the pool's ``name_label`` (last host left the aggregate)."""
    raise NotImplementedError


def preflight(joiner, master, force=False):
    """Every mismatch xapi would refuse the join for, as ``Mismatch`` list."""
    raise NotImplementedError


def join(joiner, master, master_address, username, password, force=False,
         on_progress=None):
    """Join ``joiner`` to ``master``'s pool and wait until it is live."""
    raise NotImplementedError


def wait_until_live(master, host_uuid, timeout=None):
    """Wait until the master shows ``host_uuid`` enabled and live."""
    raise NotImplementedError


def eject(master, host_uuid, force=False, on_progress=None):
    """Eject slave ``host_uuid`` from ``master``'s pool."""
    raise NotImplementedError


def designate_new_master(master, host_uuid, timeout=None):
    """Make ``host_uuid`` the master and wait until the pool settles."""
    raise NotImplementedError


def destroy_host(master, host_uuid):
    """Forget a dead host's record (only when the master reports it offline)."""
    raise NotImplementedError
