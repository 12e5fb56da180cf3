"""The claim decision: what a claimer may do with the pool it read.

XAPI knowledge only, and no XAPI calls: :func:`decide` looks at a
:class:`~.claims.PoolView` (what :func:`.claims.read` found) and answers
:data:`OURS` (nothing to write), :data:`ADD` (add the claim) or
:data:`TAKEOVER` (replace an expired ``join`` claim), or refuses with
:class:`~xenpool_driver.exception.HostClaimed` naming the claimant or the
other pool. The table of rules is in ``doc/design-claims.md`` ("Rules").
"""

from xenpool_driver import exception
from xenpool_driver.xapi.claim_value import JOIN, KEY, POOL

#: The pool already carries the claim (or the aggregate already owns it).
OURS = 'ours'
#: No claim: add ours.
ADD = 'add'
#: An expired ``join`` claim on a standalone host: take it over.
TAKEOVER = 'takeover'


def decide(view, claim, now, first_host, members):
    """:data:`OURS`, :data:`ADD` or :data:`TAKEOVER` for ``claim`` on ``view``.

    :param view: the :class:`~.claims.PoolView` just read.
    :param claim: the :class:`~.claim_value.Claim` to make.
    :param now: epoch seconds, for expiry.
    :param first_host: True for :func:`.claims.claim_first_host`, False for
        :func:`.claims.claim_joiner`.
    :param members: frozenset of host uuids a first host's aggregate
        records (adopting a pool made before claims existed).
    :raises HostClaimed: refused (nothing to write).
    """
    held = view.claim
    if held is not None and held.aggregate == claim.aggregate:
        return _same_aggregate(view, claim, now, first_host)
    if view.raw is not None:
        if held is not None and held.kind == JOIN and held.expired(now) and \
                view.host_count == 1:
            return TAKEOVER
        raise refused(claim, view, 'it is claimed: %s' % holder(view))
    if view.host_count == 1:
        return ADD
    if first_host and members and members == _uuids(view):
        return ADD
    if first_host:
        reason = 'it is not alone in its pool: %s' % view.describe()
    else:
        reason = 'it is not standalone: %s' % view.describe()
    raise refused(claim, view, reason, with_pool=False)


def _same_aggregate(view, claim, now, first_host):
    """The pool holds a claim of ``claim``'s own aggregate."""
    held = view.claim
    if held.intent == claim.intent and held.kind == claim.kind:
        return OURS
    if held.kind == POOL:
        if first_host:
            return OURS
        raise refused(claim, view, 'it is the master of this aggregate\'s own pool '
                      '(%s): a host cannot join its own pool' % held.describe())
    # NOTE: another operation of this aggregate left a join claim (a
    # killed add); while its lease lives the join may still be running.
    if held.expired(now) and view.host_count == 1:
        return TAKEOVER
    raise refused(claim, view, 'another operation of this aggregate holds it: %s'
                  % held.describe())


def holder(view):
    """Who holds ``view``'s pool, for messages (``view`` may be None)."""
    if view is None:
        return 'unknown'
    if view.claim is not None:
        return view.claim.describe()
    if view.raw is not None:
        return 'an unreadable value %r under %s' % (view.raw[:80], KEY)
    return 'no claim'


def refused(claim, view, reason, with_pool=True):
    """The :class:`HostClaimed` for ``claim``; ``host`` is the pool's master as read.

    :param view: the :class:`~.claims.PoolView` read last, or None.
    :param with_pool: append the pool's description to ``reason``.
    """
    what = 'first-host claim' if claim.kind == POOL else 'join claim'
    host = view.master[0] if view is not None else '?'
    where = ' on %s' % view.describe() if view is not None and with_pool else ''
    return exception.HostClaimed(
        '%s for aggregate %s' % (what, claim.aggregate), host, reason + where,
        claimant=view.claim if view is not None else None,
        pool_uuid=view.pool_uuid if view is not None else None)


def _uuids(view):
    return frozenset(rec.get('uuid', '') for rec in view.hosts.values())
