"""The one place where our errors become Nova's.

Nova 22.4.0's compute manager runs the driver's ``undo_aggregate_operation``
only for its own exception types: ``AggregateError`` after a failed add (the
host leaves the aggregate's host list again), ``AggregateError`` (set_error)
or ``InvalidAggregateAction`` (no error) after a failed remove (the host is
put back). Any other type leaves the host list wrong, so every error of a
hook is translated here, and XAPI's code and params travel in the reason and
in the exception's ``kwargs`` (``xapi_code``, ``xapi_params``).

Outside Nova our hierarchy (:mod:`xenpool_driver.exception`) is unchanged.
"""

from nova import exception as nova_exception

from xenpool_driver import exception

ADD = 'add_to_aggregate'
REMOVE = 'remove_from_aggregate'


def is_refusal(exc):
    """True when our own rule refused the request (nothing was attempted)."""
    return isinstance(exc, exception.Refused)


def xapi_details(exc):
    """``(code, params)`` of an error xapi answered, else ``(None, [])``."""
    if isinstance(exc, exception.XapiError):
        return exc.code, list(exc.params)
    if isinstance(exc, exception.PreflightFailed) and exc.mismatches:
        # NOTE: a preflight refusal: the first code xapi would raise
        return exc.codes[0], [str(m) for m in exc.mismatches]
    return None, []


def reason(exc):
    """One line for Nova's reason: our message, which names XAPI's code."""
    return str(exc).replace('\n', ' ')


def to_nova(exc, action, aggregate_id):
    """Nova's exception for ``exc`` raised by the ``action`` hook.

    :param exc: an exception raised by :class:`~xenpool_driver.driver.XenPoolDriver`.
    :param action: :data:`ADD` or :data:`REMOVE`.
    :param aggregate_id: the aggregate's id.
    :returns: ``InvalidAggregateActionDelete`` for a refused remove (Nova puts
        the host back without counting an error); ``AggregateError`` for
        everything else (an add of any kind: Nova undoes only on this type).
    """
    code, params = xapi_details(exc)
    kwargs = dict(aggregate_id=aggregate_id, reason=reason(exc),
                  xapi_code=code, xapi_params=params)
    if action == REMOVE and is_refusal(exc):
        return nova_exception.InvalidAggregateActionDelete(**kwargs)
    return nova_exception.AggregateError(action=action, **kwargs)
