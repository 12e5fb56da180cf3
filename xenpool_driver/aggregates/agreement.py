"""The one answer to "do this aggregate's metadata and its pool agree?".

:func:`compare` is read-only and pure: reconcile (what drift is left),
``xenpool aggregate show`` (``consistent``), the CLI's exit codes and the
tests all call it, so none of them can disagree with another.

What it checks, each item a one-line difference:

* the state is one of ours, nothing is in flight, the state matches the hosts
  (``created`` has none, ``active``/``error`` have some);
* the caller's host list and the ``<host>`` uuid keys name the same hosts;
* without hosts: no master recorded;
* with the pool read: every recorded uuid is a member, every member is
  recorded, ``master_compute`` and the master address are the real master's,
  the pool is named after the aggregate.

Members that are not live or not enabled are *unhealthy*: reported apart,
since metadata can agree with a pool whose host is down.
"""

import dataclasses
import urllib.parse

from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import bookkeeping as bk


@dataclasses.dataclass(frozen=True)
class Agreement:
    """The outcome of :func:`compare`.

    :ivar differences: what disagrees (empty: they agree).
    :ivar unhealthy: members not live or not enabled.
    :ivar unlisted: hosts with a uuid recorded but missing from the host list.
    :ivar unrecorded: hosts in the host list without a uuid recorded.
    """

    differences: tuple = ()
    unhealthy: tuple = ()
    unlisted: tuple = ()
    unrecorded: tuple = ()

    @property
    def agreed(self):
        return not self.differences


def compare(name, hosts, metadata, members, error=None, now=None):
    """Compare an aggregate with its pool.

    :param name: the aggregate's name (the pool's ``name_label``).
    :param hosts: the caller's host list.
    :param metadata: the aggregate's metadata.
    :param members: :class:`~xenpool_driver.xapi.pool.Membership`, or None
        when the pool was not read (no host recorded, or ``error``).
    :param error: why the pool could not be read, or None.
    :param now: wall-clock seconds, to tell a live lease from an expired one.
    :returns: :class:`Agreement`.
    """
    record = bk.read(metadata)
    recorded = bk.recorded_hosts(metadata)
    out = _state_differences(metadata.get(ps.KEY), record.intent, recorded, now)
    unlisted = tuple(sorted(set(recorded) - set(hosts)))
    unrecorded = tuple(sorted(set(hosts) - set(recorded)))
    out += ['host %s has a uuid recorded but is not in the host list' % host
            for host in unlisted]
    out += ['host %s is in the host list with no uuid recorded' % host
            for host in unrecorded]
    unhealthy = []
    if not recorded:
        if metadata.get(bk.MASTER_COMPUTE) or record.master_address:
            out.append('a master is recorded but no host')
    elif error is not None:
        out.append('pool not read: %s' % error)
    elif members is None:
        out.append('pool not read')
    else:
        out += _member_differences(metadata, recorded, members, unhealthy)
        out += _master_differences(metadata, record, recorded, members)
        if members.name_label != name:
            out.append('pool is named %r, not %r' % (members.name_label, name))
    return Agreement(tuple(out), tuple(unhealthy), unlisted, unrecorded)


def _state_differences(state, intent, recorded, now):
    """The state is ours, nothing is in flight, the state fits the hosts."""
    out = []
    if state not in ps.ALL_STATES:
        out.append('unknown operational_state %r' % (state,))
    if intent is not None:
        lease = ''
        if now is not None:
            lease = (' (lease alive)' if intent.lease_alive(now)
                     else ' (lease expired)')
        out.append('operation in flight: %s of %s by %s%s'
                   % (intent.op, intent.host, intent.owner, lease))
    elif state == ps.CHANGING:
        out.append('state is changing with no operation recorded')
    if state == ps.CREATED and recorded:
        out.append('state is created with %d host(s) recorded' % len(recorded))
    if state in (ps.ACTIVE, ps.ERROR) and not recorded and intent is None:
        out.append('state is %s with no host recorded' % state)
    return out


def _member_differences(metadata, recorded, members, unhealthy):
    """Recorded uuids and members are the same hosts; the unhealthy members
    (recorded, not live or not enabled) are appended to ``unhealthy``."""
    out = []
    real = {h.uuid: h for h in members.hosts}
    for host, host_uuid in sorted(recorded.items()):
        if host_uuid not in real:
            out.append('host %s (%s) is recorded but not a member'
                       % (host, host_uuid))
    known = set(recorded.values())
    for host_uuid, info in sorted(real.items()):
        if host_uuid not in known:
            out.append('member %s (%s) is not recorded'
                       % (host_uuid, info.address))
        elif not (info.live and info.enabled):
            unhealthy.append('host %s is %s' % (
                bk.host_for_uuid(metadata, host_uuid),
                'not live' if not info.live else 'disabled'))
    return out


def _master_differences(metadata, record, recorded, members):
    """``master_compute`` and the master address are the real master's."""
    master = members.master
    if master is None:
        return ['the pool reports no master']
    out = []
    named = metadata.get(bk.MASTER_COMPUTE)
    if recorded.get(named) != master.uuid:
        out.append('master is %s (%s), metadata says %s' % (
            bk.host_for_uuid(metadata, master.uuid) or master.uuid,
            master.address, named))
    if record.master_address != master.address:
        out.append('master address is %s, metadata says %s'
                   % (master.address, record.master_address))
    return out


def unrecorded_member_at(metadata, members, url):
    """The member no ``<host>`` key names whose address is ``url``'s host.

    How a compute host known only by its xapi URL is found in the pool (a
    join that finished after its caller died, a host listed without uuid).

    :returns: its :class:`~xenpool_driver.xapi.host.HostInfo`, or None.
    """
    address = urllib.parse.urlsplit(url).hostname if url else None
    recorded = set(bk.recorded_hosts(metadata).values())
    for info in members.hosts:
        if address and info.address == address and info.uuid not in recorded:
            return info
    return None
