"""Running one step of an operation under the failure rule.

Step 4 of the contract of :mod:`.workflow`: the step's result is the
success; a failure re-reads reality first (the goal may have been reached
although xapi reported an error: then it is a success), otherwise the
operation is failed - the previous state restored, the intent cleared, the
claim it made released, a failure counted when the pool may have changed -
and the original exception re-raised (XAPI's code and params intact).
"""

from oslo_log import log as logging

from xenpool_driver import exception
from xenpool_driver.aggregates import adding
from xenpool_driver.aggregates import host_claims
from xenpool_driver.aggregates import ledger

LOG = logging.getLogger(__name__)


def run(aggregate, op, step, verify, locator, threshold):
    """Run ``step()``; on failure, ``verify()`` then fail ``op`` or succeed.

    :param op: the :class:`~.ledger.Operation` begun.
    :param step: ``() -> (updates, master address)``: the XAPI calls.
    :param verify: ``() -> outcome or None``: re-reads the pool after a
        failure (None: the goal was not reached); may raise
        :class:`~.adding.JoinedNotLive`.
    :param locator: :class:`~.locating.XapiLocator` (to release a claim).
    :param threshold: ``[xenserver] pool_error_threshold``.
    :returns: the step's outcome, or the outcome ``verify`` found.
    :raises: the step's exception when the goal was not reached (``op``
        failed first); :class:`~.ledger.LeaseLost` untouched.
    """
    try:
        return step()
    except ledger.LeaseLost:
        raise
    except Exception as exc:
        try:
            reached = None
            if not isinstance(exc, exception.Refused):
                reached = _safe_verify(aggregate, verify)
        except adding.JoinedNotLive as joined:
            # NOTE: a member (recorded: one truth) that is not live: the
            # add failed and says so; the state follows the failure rule.
            op.fail(exc, threshold, counts=True, updates=joined.updates)
            raise exc from None
        if reached is None:
            _undo_claim(aggregate, op, locator)
            op.fail(exc, threshold, counts=counts(op, exc))
            raise
        LOG.warning('%s of host %s to aggregate %s reported %s, but the '
                    'pool shows it done: success', op.intent.op,
                    op.intent.host, aggregate.id, exc)
        return reached


def counts(op, exc):
    """Whether a failure counts towards ``pool_error_threshold``.

    Only failures that may have changed the pool count: not a refusal by our
    own rule, not one before the first call that changes the pool, and not
    a login refused or a connection never made on the way to that call
    (when no earlier step changed anything).
    """
    if isinstance(exc, exception.Refused):
        return False
    if not op.intent.may_have_changed_pool():
        return False
    if op.changed_before:
        return True
    if isinstance(exc, exception.XapiError):
        return exc.code != 'SESSION_AUTHENTICATION_FAILED'
    if isinstance(exc, exception.XapiUnavailable) and \
            not isinstance(exc, exception.XapiTimeout):
        return exc.maybe_applied
    return True


def _undo_claim(aggregate, op, locator):
    """After a failure: the claim this operation made goes (if any)."""
    held = op.claim
    if held is None or held.intent != op.intent.id:
        return  # NOTE: none, or the aggregate's own pool claim of before
    host_claims.release_claim(locator, aggregate, op.intent, held)


def _safe_verify(aggregate, verify):
    try:
        return verify()
    except adding.JoinedNotLive:
        raise
    except Exception as exc:  # noqa: BLE001
        # NOTE: whatever the re-read raises, the caller gets the original
        LOG.warning('Could not re-read the pool of aggregate %s: %s',
                    aggregate.id, exc)
        return None
