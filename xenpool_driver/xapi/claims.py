"""Host claims: a host belongs to at most one pool aggregate at a time.

XAPI knowledge only (no aggregates, no metadata): the caller passes the
aggregate's identity as an opaque string. See ``doc/design-claims.md``.

A claim is one key, :data:`KEY`, in ``other_config`` of a host's **pool**
object (a standalone host is the master of its own one-host pool), its
value a :class:`Claim` (:mod:`.claim_value`). This module holds the verbs:
:func:`read`, :func:`claim_first_host`, :func:`claim_joiner`,
:func:`release`, :func:`release_pool`, :func:`force_release`, and
:func:`plan` (what claiming would write, written nothing). A claim is
read, decided (:mod:`.claim_decision`) and written by compare-and-set
(:mod:`.claim_cas`: xapi's map add refuses an existing key with
MAP_DUPLICATE_KEY, so of two claimers that both saw the key absent, exactly
one adds it), in at most :data:`MAX_ROUNDS` rounds.

* ``kind="pool"`` (no expiry): the aggregate owns this pool. Made on the
  first host's own pool; it lives as long as the pool object does, which
  survives ``designate_new_master`` (same database, same pool row:
  ``create_pool_record`` in ``ocaml/xapi/dbsync_master.ml`` only creates a
  pool when there is none). Released when the last host leaves.
* ``kind="join"`` (a lease): a joiner is being joined into the aggregate's
  pool. Made on the joiner's own pool; a successful join makes that pool
  object vanish (the joiner's database is replaced by the master's at its
  restart, ``xapi_pool.ml``/``xapi_fuse.ml``), and the claim with it.

XAPI round trips: :func:`read` 2 (``pool.get_all_records``,
``host.get_all_records``); a claim on an unclaimed host 3 (read + add); a
takeover of an expired claim 3 reads + 4 writes (read, then
:func:`.claim_cas.replace`); :func:`release` 3.

Every function takes a :class:`~xenpool_driver.xapi.session.XapiSession`
(only ``call`` and ``address`` are used). NOTE: a session on a pool member
follows HOST_IS_SLAVE to its master, so the pool read is the pool the host
really is in.
"""

import dataclasses
import time

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.xapi import claim_cas
from xenpool_driver.xapi import claim_decision as decision
from xenpool_driver.xapi import host as host_mod
# NOTE: also reached as claims.<name> by the aggregates layer and the tests.
from xenpool_driver.xapi.claim_cas import TAKEOVER_PREFIX
from xenpool_driver.xapi.claim_value import JOIN, KEY, POOL, Claim

LOG = logging.getLogger(__name__)

#: Rounds of read-decide-write before giving up under contention.
MAX_ROUNDS = 3


@dataclasses.dataclass(frozen=True)
class PoolView:
    """A host's pool as :func:`read` found it.

    :ivar pool_ref: the pool's ref (valid on this database only).
    :ivar claim: the :class:`Claim` under :data:`KEY`, or None (none, or
        unreadable: see :attr:`raw`).
    :ivar host_count: hosts in the pool (1: standalone).
    :ivar pool: the pool record.
    :ivar hosts: ``host.get_all_records`` of the pool.
    :ivar raw: the text under :data:`KEY`, or None when there is no claim.
    """

    pool_ref: str
    claim: Claim | None
    host_count: int
    pool: dict = dataclasses.field(repr=False)
    hosts: dict = dataclasses.field(repr=False)
    raw: str | None = None

    @property
    def pool_uuid(self):
        return self.pool.get('uuid', '')

    @property
    def master(self):
        """``(uuid, name_label, address)`` of the pool's master."""
        rec = self.hosts.get(self.pool.get('master'), {})
        return rec.get('uuid', ''), rec.get('name_label', ''), rec.get('address', '')

    @property
    def other_config(self):
        return self.pool.get('other_config') or {}

    def describe(self):
        """E.g. ``pool 'prod' (uuid p1, 2 hosts, master h1 'host1' at 10.0.0.1)``."""
        uuid, label, address = self.master
        return ("pool %r (uuid %s, %d host%s, master %s %r at %s)"
                % (self.pool.get('name_label', ''), self.pool_uuid, self.host_count,
                   '' if self.host_count == 1 else 's', uuid, label, address))


def read(session):
    """Read the pool ``session``'s host is in, and its claim.

    XAPI calls (2): ``pool.get_all_records``, ``host.get_all_records``.

    :param session: :class:`XapiSession` on the host (a member's session
        follows HOST_IS_SLAVE to its master).
    :returns: :class:`PoolView`.
    :raises XapiUnavailable, XapiError: from the session.
    """
    pool_ref, pool_rec = host_mod.read_pool(session)
    hosts = session.call('host.get_all_records')
    raw = (pool_rec.get('other_config') or {}).get(KEY)
    claim = None
    if raw is not None:
        try:
            claim = Claim.decode(raw)
        except ValueError as error:
            LOG.warning('Pool %s on %s has an unreadable %s value (%s): treated as '
                        'another claimant', pool_rec.get('uuid'), session.address, KEY, error)
    return PoolView(pool_ref, claim, len(hosts), pool_rec, hosts, raw)


@dataclasses.dataclass(frozen=True)
class ClaimPlan:
    """What claiming would do (see :func:`plan`).

    :ivar writes: the ``pool.*_other_config`` calls it would make, in order,
        as text (``[]``: the pool carries the claim already).
    :ivar view: the :class:`PoolView` read.
    :ivar refused: the :class:`~xenpool_driver.exception.HostClaimed` it
        would raise, or None.
    """

    writes: list
    view: PoolView
    refused: Exception | None = None


_ADD = 'pool.add_to_other_config(%s)' % KEY
_TAKEOVER = ['pool.add_to_other_config(%s<guard>)' % TAKEOVER_PREFIX,
             'pool.remove_from_other_config(%s)' % KEY, _ADD,
             'pool.remove_from_other_config(%s<guard>)' % TAKEOVER_PREFIX]


def plan(session, claim, now=None, first_host=False, members=()):
    """What :func:`claim_first_host` / :func:`claim_joiner` would do, doing nothing.

    The same read and the same decision (:func:`.claim_decision.decide`) as
    a claim's first round; nothing is written.

    XAPI calls (2): :func:`read`.

    :param first_host: as :func:`claim_first_host` (True) or
        :func:`claim_joiner` (False) would decide.
    :returns: :class:`ClaimPlan`; when refused its ``writes`` are those of an
        unclaimed host (what the claim would have been).
    :raises XapiUnavailable, XapiError: from the session.
    """
    view = read(session)
    try:
        verdict = decision.decide(view, claim, _now(now), first_host,
                                  frozenset(members))
    except exception.HostClaimed as refused:
        return ClaimPlan([_ADD], view, refused)
    writes = {decision.OURS: [], decision.ADD: [_ADD]}.get(verdict, _TAKEOVER)
    return ClaimPlan(list(writes), view)


def claim_first_host(session, claim, now=None, members=()):
    """Claim the host's pool for the aggregate that the host founds.

    Pre: ``session`` talks to the host that becomes the aggregate's master.
    Post: its pool carries a ``pool`` claim of ``claim.aggregate`` (this one,
    or one the aggregate already held).

    Accepted when the pool carries ``claim`` itself (a retry), or a ``pool``
    claim of the same aggregate (it already owns the pool, whatever its
    hosts), or no claim and the host is alone in its pool (or the pool's
    members are exactly ``members``), or an expired ``join`` claim on a
    standalone host (taken over, with a warning).

    :param session: :class:`XapiSession` on the host.
    :param claim: a ``pool`` :class:`Claim` (see :meth:`Claim.pool`).
    :param now: epoch seconds, for expiry (default :func:`time.time`).
    :param members: host uuids the aggregate already records in this pool:
        adopt a multi-host pool made before claims existed (default: none).
    :returns: the :class:`Claim` now held; its ``intent`` differs from
        ``claim.intent`` when the aggregate already held the pool (then a
        failure of this operation must not release it).
    :raises HostClaimed: the host is in a pool of other hosts, or its pool is
        claimed by another aggregate or another live operation.
    :raises ValueError: ``claim`` is not a ``pool`` claim.
    :raises XapiUnavailable, XapiError: from the session (nothing claimed,
        unless ``maybe_applied``: then :func:`read` tells).
    """
    if claim.kind != POOL:
        raise ValueError('claim_first_host needs a pool claim, not %r' % claim.kind)
    return _claim(session, claim, _now(now), first_host=True, members=frozenset(members))


def claim_joiner(session, claim, now=None, seen=None):
    """Claim a standalone host that is about to join the aggregate's pool.

    Pre: ``session`` talks to the joiner, not yet joined. Post: its pool
    carries ``claim`` until the join succeeds (the pool object then vanishes)
    or :func:`release` removes it.

    Accepted when the pool carries ``claim`` (a retry), or no claim and the
    host is alone in its pool, or an expired ``join`` claim on a standalone
    host (taken over, with a warning).

    :param session: :class:`XapiSession` on the joiner.
    :param claim: a ``join`` :class:`Claim` (see :meth:`Claim.join`).
    :param now: epoch seconds, for expiry (default :func:`time.time`).
    :param seen: a list the :class:`PoolView` of each read is appended to
        (the caller's later reads of the joiner's pool and hosts can start
        from the last one instead of asking again).
    :returns: the :class:`Claim` now held (``claim``, or the stored copy of
        the same operation).
    :raises HostClaimed: the host is not standalone (a member of another
        pool, or the master of other hosts), or it is another aggregate's
        master, or another live join claims it (the claimant is named).
    :raises ValueError: ``claim`` is not a ``join`` claim.
    :raises XapiUnavailable, XapiError: from the session.
    """
    if claim.kind != JOIN:
        raise ValueError('claim_joiner needs a join claim, not %r' % claim.kind)
    return _claim(session, claim, _now(now), first_host=False, members=frozenset(),
                  seen=seen)


def release(session, claim):
    """Remove ``claim`` from the host's pool, only if it is still there.

    "Still there" means the same aggregate, intent and kind (the owner may
    differ: a takeover of the operation keeps its intent). Anything else -
    another claim, no claim, the aggregate's ``pool`` claim seen through a
    joiner that has joined - is left alone.

    NOTE: xapi has no compare-and-delete: the value is read, then the key
    removed. Only a takeover of an *expired* claim can change the value in
    between (see doc/design-claims.md).

    XAPI calls: :func:`read` (2) + ``pool.remove_from_other_config``.

    :returns: True when removed, False when it was not ours (or gone).
    :raises XapiUnavailable, XapiError: from the session.
    """
    view = read(session)
    if not claim.same_operation(view.claim):
        LOG.info('Not releasing %s on %s: the pool holds %s', claim.describe(),
                 view.describe(), view.claim.describe() if view.claim else
                 ('an unreadable claim' if view.raw is not None else 'no claim'))
        return False
    session.call('pool.remove_from_other_config', view.pool_ref, KEY)
    LOG.info('Released %s on %s', view.claim.describe(), view.describe())
    return True


def release_pool(session, aggregate):
    """Remove the aggregate's ``pool`` claim (its last host left it).

    Whatever operation made the claim: the aggregate's own pool claim is
    released by the operation that empties the aggregate (after
    :func:`xenpool_driver.xapi.pool.clear_pool`).

    XAPI calls: :func:`read` (2) + ``pool.remove_from_other_config``.

    :returns: True when removed, False when the pool holds no ``pool`` claim
        of ``aggregate``.
    :raises XapiUnavailable, XapiError: from the session.
    """
    view = read(session)
    held = view.claim
    if held is None or held.kind != POOL or held.aggregate != aggregate:
        LOG.info('No pool claim of aggregate %s on %s to release', aggregate, view.describe())
        return False
    session.call('pool.remove_from_other_config', view.pool_ref, KEY)
    LOG.info('Released %s on %s', held.describe(), view.describe())
    return True


def force_release(session, reason):
    """Remove whatever claim (and takeover guards) the host's pool carries.

    The admin's way out (an unreadable value, a claimant that will never
    come back), once reality has been shown. Logged as a warning with
    ``reason`` and the value removed.

    :returns: the removed :class:`Claim`, the raw text when unreadable, or
        None when there was nothing.
    :raises XapiUnavailable, XapiError: from the session.
    """
    view = read(session)
    keys = [k for k in view.other_config if k == KEY or k.startswith(TAKEOVER_PREFIX)]
    for key in keys:
        session.call('pool.remove_from_other_config', view.pool_ref, key)
    if view.raw is not None:
        LOG.warning('Forced release of %s on %s: %s', view.claim.describe() if view.claim
                    else 'unreadable claim %r' % view.raw, view.describe(), reason)
    return view.claim or view.raw


def _claim(session, claim, now, first_host, members, seen=None):
    """Read, decide (:func:`.claim_decision.decide`), write; at most :data:`MAX_ROUNDS`.

    :param seen: None, or a list each :class:`PoolView` read is appended to.
    :returns: the :class:`Claim` now held.
    :raises HostClaimed: refused, or contended for every round.
    """
    value = claim.encode()
    view = None
    for _ in range(MAX_ROUNDS):
        view = read(session)
        if seen is not None:
            seen.append(view)
        verdict = decision.decide(view, claim, now, first_host, members)
        if verdict == decision.OURS:
            return view.claim
        if verdict == decision.ADD:
            won = claim_cas.add(session, view.pool_ref, KEY, value)
        else:
            LOG.warning('Taking over the expired %s on %s for a %s claim of aggregate %s',
                        view.claim.describe(), view.describe(), claim.kind, claim.aggregate)
            won, taker = claim_cas.replace(session, view.pool_ref, KEY, view.raw, value,
                                           claim, now)
            if taker is not None:
                raise decision.refused(
                    claim, view, 'another actor is taking over its expired claim (%s): %s'
                    % (view.claim.describe(), taker))
        if won:
            LOG.info('Claimed %s: %s', view.describe(), claim.describe())
            return claim
        # NOTE: MAP_DUPLICATE_KEY, or the value changed under the takeover:
        # someone else wrote first. Re-read and decide again (it may be ours
        # after all: a retry of the same value, or it may have been released).
    raise decision.refused(claim, view, 'its claim changed %d times while claiming '
                           '(contended); now %s' % (MAX_ROUNDS, decision.holder(view)))


def _now(now):
    return time.time() if now is None else float(now)
