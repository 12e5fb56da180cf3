"""One hierarchy of errors, with three branches kept apart.

* :class:`XapiUnavailable` - no xapi answered (refused, reset, TLS failure,
  timeout: :class:`XapiTimeout`).
* :class:`XapiError` - xapi answered with an error; carries XAPI's ``code``
  and ``params`` and where it happened (``method``, ``host``).
* :class:`InvalidAggregateAction` - our own rule refused the request, with
  the reason (:class:`PreflightFailed` lists every mismatch found).

Every text goes through :func:`xenpool_driver.redaction.redact`.
"""

from xenpool_driver import redaction


class XenPoolError(Exception):
    """Base of every error this project raises."""

    def __init__(self, message):
        self.message = redaction.redact(message)
        super().__init__(self.message)

    def __str__(self):
        return self.message


class XapiUnavailable(XenPoolError):
    """No xapi answered: the connection could not be made or was lost.

    :ivar host: the host (URL or address) we tried to reach.
    :ivar method: the XAPI method being called, if any.
    :ivar reason: short text from the transport (never a secret).
    :ivar maybe_applied: True when the request may have reached xapi before
        the connection was lost (the ambiguous case: re-read reality).
    """

    def __init__(self, host, reason, method=None, maybe_applied=False):
        self.host = redaction.redact(host)
        self.method = method
        self.reason = redaction.redact(reason)
        self.maybe_applied = maybe_applied
        what = ' calling %s' % method if method else ''
        super().__init__('xapi at %s unavailable%s: %s' % (self.host, what, self.reason))


class XapiTimeout(XapiUnavailable):
    """xapi did not answer, or an awaited condition did not happen, in time."""


class XapiProtocolError(XapiUnavailable):
    """Something answered, but not with a valid XAPI response.

    Malformed or oversized XML, an HTTP error page, a struct without
    ``Status``: no usable answer, so callers treat it like a lost connection
    (``maybe_applied`` says whether the request had been sent).
    """


class XapiError(XenPoolError):
    """xapi answered with an error.

    :ivar code: XAPI's error code, e.g. ``HOST_IS_SLAVE``.
    :ivar params: XAPI's error parameters (list of str).
    :ivar method: the XAPI method that failed, if known.
    :ivar host: the host that answered, if known.
    """

    def __init__(self, code, params=(), method=None, host=None):
        self.code = str(code)
        self.params = [redaction.redact(p) for p in params]
        self.method = method
        self.host = redaction.redact(host) if host else host
        where = ''
        if method:
            where += ' in %s' % method
        if host:
            where += ' on %s' % self.host
        super().__init__('XAPI error %s %s%s' % (self.code, self.params, where))

    @property
    def details(self):
        """``[code] + params``, as xapi's ErrorDescription."""
        return [self.code] + list(self.params)


class InvalidAggregateAction(XenPoolError):
    """Our own rule refused the request.

    :ivar action: what was asked (``add_to_aggregate``, ...).
    :ivar aggregate_id: the aggregate's id.
    :ivar reason: why it was refused.
    """

    def __init__(self, action, aggregate_id, reason):
        self.action = action
        self.aggregate_id = aggregate_id
        self.reason = redaction.redact(reason)
        super().__init__('Cannot perform action %r on aggregate %s. Reason: %s'
                         % (action, aggregate_id, self.reason))


class Mismatch(object):
    """One pre-join mismatch, with the code xapi would raise."""

    __slots__ = ('code', 'params', 'reason')

    def __init__(self, code, params=(), reason=''):
        self.code = code
        self.params = list(params)
        self.reason = reason

    def __eq__(self, other):
        return (isinstance(other, Mismatch) and
                (self.code, self.params, self.reason) ==
                (other.code, other.params, other.reason))

    def __repr__(self):
        return 'Mismatch(%r, %r, %r)' % (self.code, self.params, self.reason)

    def __str__(self):
        return '%s %s: %s' % (self.code, self.params, self.reason)


class PreflightFailed(InvalidAggregateAction):
    """The joiner would be refused by xapi; every mismatch is listed.

    :ivar mismatches: list of :class:`Mismatch`.
    """

    def __init__(self, action, aggregate_id, host, mismatches):
        self.host = host
        self.mismatches = list(mismatches)
        reason = 'host %s cannot join: %s' % (
            host, '; '.join(str(m) for m in self.mismatches))
        super().__init__(action, aggregate_id, reason)

    @property
    def codes(self):
        return [m.code for m in self.mismatches]


class OperationRefused(InvalidAggregateAction):
    """A pool operation refused by our own rule before any change was made.

    E.g. ejecting the master, ejecting a host with running guest VMs,
    destroying the record of a live host. Raised by
    :mod:`xenpool_driver.xapi.pool`, where no aggregate is known
    (``aggregate_id`` is None unless the caller re-raises with one).

    :ivar action: the pool operation (``pool.eject``, ``host.destroy``, ...).
    :ivar host: the host uuid concerned.
    :ivar reason: why it was refused.
    """

    def __init__(self, action, host, reason, aggregate_id=None):
        self.action = action
        self.host = host
        self.aggregate_id = aggregate_id
        self.reason = redaction.redact(reason)
        XenPoolError.__init__(self, 'Refused %s of host %s: %s' % (action, host, self.reason))


class HostClaimed(OperationRefused):
    """A host claim refused: the host belongs, or is being given, to another pool.

    Raised by :mod:`xenpool_driver.xapi.claims` before any change was made
    (like every :class:`OperationRefused`): the host is a member of another
    pool, or its pool carries the claim of another aggregate or of another
    live operation.

    :ivar claimant: the :class:`~xenpool_driver.xapi.claims.Claim` found on
        the host's pool, or None (not standalone, or an unreadable claim).
    :ivar pool_uuid: uuid of the pool read.
    """

    def __init__(self, action, host, reason, claimant=None, pool_uuid=None):
        self.claimant = claimant
        self.pool_uuid = pool_uuid
        super().__init__(action, host, reason)
