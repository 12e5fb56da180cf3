"""Reading an aggregate's pool (read-only), for reconcile and ``show``.

Where the pool is read matters: a recorded master address may be stale
(a designate that finished after its caller died), so every recorded host's
xapi is a candidate too - a slave answers HOST_IS_SLAVE with the real
master, which the session follows. A pool read is *ours* only when its
master is a host this aggregate recorded; nothing is repaired from a pool
that is not provably ours.
"""

from xenpool_driver import exception
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import pool

#: Phases of an add before the first host's pool is named: the pool to read
#: is the one of the host being added (nothing is recorded yet).
FIRST_HOST_PHASES = (None, 'claim', 'init')


def read_pool(aggregate, locator, intent=None):
    """``(session, membership, error)`` of the aggregate's pool (read-only).

    Tried in turn: the recorded master, then every recorded host (a stale
    master address is thus no dead end). The first URL whose pool is this
    aggregate's wins; otherwise the first that answered; ``error`` says why
    nothing could be read. Nothing recorded: ``(None, None, None)``.

    :param locator: :class:`~.locating.XapiLocator` (or anything with its
        ``session_at``, ``master_url`` and ``locate``, e.g. a Workflow).
    :param intent: the intent of an interrupted operation, if any (a first
        host being added is read at its own URL).
    """
    first = None
    errors = []
    for url in candidate_urls(aggregate, locator, intent):
        try:
            session = locator.session_at(url)
            members = pool.snapshot(session)
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            errors.append(str(exc))
            continue
        if is_ours(aggregate, members) or intent is not None and \
                intent.phase in FIRST_HOST_PHASES:
            return session, members, None
        if first is None:
            first = (session, members, None)
    if first is not None:
        return first
    if errors:
        return None, None, 'cannot read the pool: %s' % errors[0]
    return None, None, None


def membership_at(locator, url):
    """The pool as the xapi at ``url`` reports it (no aggregate involved).

    :raises XapiError: xapi answered an error (code, params).
    :raises XapiUnavailable: no xapi answered.
    """
    return pool.snapshot(locator.session_at(url))


def candidate_urls(aggregate, locator, intent):
    """Where the pool may be read: the recorded master, then every host."""
    md = aggregate.metadata
    urls = []
    if intent is not None and intent.phase in FIRST_HOST_PHASES and \
            not bk.recorded_hosts(md):
        urls.append(intent.url or locator.locate(intent.host))
    elif bk.recorded_hosts(md) or bk.read(md).master_address or \
            md.get(bk.MASTER_COMPUTE):
        urls.append(locator.master_url(md))
        # NOTE: a wrong or stale master address: any recorded host's xapi
        # answers HOST_IS_SLAVE with the real master, which the session follows.
        for host in sorted(bk.recorded_hosts(md)):
            urls.append(locator.locate(host))
    seen = []
    for url in urls:
        if url and url not in seen:
            seen.append(url)
    return seen


def is_ours(aggregate, members):
    """The pool read is this aggregate's: its master is a recorded host."""
    recorded = set(bk.recorded_hosts(aggregate.metadata).values())
    return members.master_uuid in recorded
