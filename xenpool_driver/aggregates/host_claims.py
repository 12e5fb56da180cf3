"""The aggregate's side of host claims: its identity, and releasing a claim.

A claim (see :mod:`xenpool_driver.xapi.claims`) names the aggregate by an
opaque identity; this module is where that identity is chosen, and where a
claim an operation made is given back - by the workflow after a failure and
by reconcile after an interrupted operation that provably did not happen.
Releasing is best effort: a claim left behind only ever blocks *other*
aggregates, which are told who holds it.
"""

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.xapi import claims

LOG = logging.getLogger(__name__)


def identity(aggregate):
    """The aggregate's name in host claims: its uuid, else its name."""
    return str(getattr(aggregate, 'uuid', None) or aggregate.name)


def release_claim(locator, aggregate, intent, claim=None):
    """Best effort: remove the claim ``intent`` made (it did not happen).

    :param locator: :class:`~.locating.XapiLocator` (the host's xapi).
    :param claim: the claim held, when known (else rebuilt from the intent:
        a pool claim for a first host, a join claim otherwise).
    :returns: True when a claim was released.
    """
    url = intent.url or locator.locate(intent.host)
    if not url:
        return False
    if claim is None:
        make = (claims.Claim.pool if not bk.recorded_hosts(
            aggregate.metadata) else
            lambda a, i, o: claims.Claim.join(a, i, o, 0.0, 0.0))
        claim = make(identity(aggregate), intent.id, intent.owner)
    try:
        return claims.release(locator.session_at(url), claim)
    except exception.XenPoolError as exc:
        LOG.warning('Claim of %s on host %s not released: %s',
                    intent.op, intent.host, exc)
        return False


def release_pool_claim(master, aggregate):
    """Best effort: the last host left, the aggregate's pool claim goes.

    :param master: :class:`XapiSession` on the (last) pool master.
    """
    try:
        claims.release_pool(master, identity(aggregate))
    except exception.XenPoolError as exc:
        # NOTE: the host stays claimed by this aggregate only: adding it
        # again works; another aggregate is told who claims it.
        LOG.warning('Pool claim of aggregate %s not released: %s',
                    aggregate.id, exc)
