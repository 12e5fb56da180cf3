"""One hierarchy of errors, with three branches kept apart.

* :class:`XapiUnavailable` - no xapi answered (refused, reset, TLS failure,
  timeout: :class:`XapiTimeout`), of a declared ``kind``.
* :class:`XapiError` - xapi answered with an error; carries XAPI's ``code``
  and ``params`` and where it happened (``method``, ``host``).
* :class:`Refused` - our own rule refused the request before anything was
  changed: :class:`OperationRefused` for a pool operation (raised by the
  xapi layer, which knows no aggregate; :class:`HostClaimed` for a host
  claim), :class:`InvalidAggregateAction` for an aggregate request
  (:class:`PreflightFailed` lists every mismatch found).

Every class declares the fields it carries in its constructor; every text
goes through :func:`xenpool_driver.redaction.redact`.
"""

from xenpool_driver import redaction


class XenPoolError(Exception):
    """Base of every error this project raises."""

    def __init__(self, message):
        self.message = redaction.redact(message)
        super().__init__(self.message)

    def __str__(self):
        return self.message


# Kinds of :class:`XapiUnavailable`.
REFUSED = 'refused'      # nothing reached xapi
RESET = 'reset'          # connection dropped (maybe after sending)
TIMEOUT = 'timeout'
TLS = 'tls'              # handshake / certificate verification failed
NETWORK = 'network'      # unreachable, DNS, other socket errors
PROTOCOL = 'protocol'    # an answer that is not a valid XAPI response
KINDS = frozenset([REFUSED, RESET, TIMEOUT, TLS, NETWORK, PROTOCOL])


class XapiUnavailable(XenPoolError):
    """No xapi answered: the connection could not be made or was lost.

    :ivar host: the host (URL or address) we tried to reach.
    :ivar method: the XAPI method being called, if any.
    :ivar reason: short text from the transport (never a secret).
    :ivar maybe_applied: True when the request may have reached xapi before
        the connection was lost (the ambiguous case: re-read reality).
    :ivar kind: what failed, one of :data:`KINDS` (the recovery policies key
        on it); None when not known.
    """

    def __init__(self, host, reason, method=None, maybe_applied=False,
                 kind=None):
        if kind is not None and kind not in KINDS:
            raise ValueError('unknown kind of unavailability: %r' % (kind,))
        self.host = redaction.redact(host)
        self.method = method
        self.reason = redaction.redact(reason)
        self.maybe_applied = maybe_applied
        self.kind = kind
        what = ' calling %s' % method if method else ''
        super().__init__('xapi at %s unavailable%s: %s' % (self.host, what, self.reason))


class XapiTimeout(XapiUnavailable):
    """xapi did not answer, or an awaited condition did not happen, in time.

    :ivar task_ref: the task that was awaited, when it goes on (or None).
    :ivar still_running: True when that task cannot be cancelled and may
        still complete (the outcome is not known yet).
    """

    def __init__(self, host, reason, method=None, maybe_applied=False,
                 kind=TIMEOUT, task_ref=None, still_running=False):
        self.task_ref = task_ref
        self.still_running = still_running
        super().__init__(host, reason, method=method,
                         maybe_applied=maybe_applied, kind=kind)


class XapiProtocolError(XapiUnavailable):
    """Something answered, but not with a valid XAPI response.

    Malformed or oversized XML, an HTTP error page, a struct without
    ``Status``: no usable answer, so callers treat it like a lost connection
    (``maybe_applied`` says whether the request had been sent).
    """

    def __init__(self, host, reason, method=None, maybe_applied=False,
                 kind=PROTOCOL):
        super().__init__(host, reason, method=method,
                         maybe_applied=maybe_applied, kind=kind)


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


class Refused(XenPoolError):
    """Our own rule refused the request before anything was changed.

    Nothing was sent that changes a pool: callers never count it as a pool
    failure and never re-read the pool to see whether it happened.

    :ivar action: what was asked.
    :ivar reason: why it was refused.
    """

    def __init__(self, action, reason, message):
        self.action = action
        self.reason = redaction.redact(reason)
        super().__init__(message)


class InvalidAggregateAction(Refused):
    """Our own rule refused an aggregate request.

    :ivar action: what was asked (``add_to_aggregate``, ...).
    :ivar aggregate_id: the aggregate's id.
    :ivar reason: why it was refused.
    """

    def __init__(self, action, aggregate_id, reason):
        self.aggregate_id = aggregate_id
        super().__init__(action, reason,
                         'Cannot perform action %r on aggregate %s. Reason: %s'
                         % (action, aggregate_id, redaction.redact(reason)))


class PreflightFailed(InvalidAggregateAction):
    """The joiner would be refused by xapi; every mismatch is listed.

    :ivar mismatches: list of :class:`~xenpool_driver.xapi.preflight.Mismatch`
        (anything with ``code``, ``params`` and a one-line ``str``).
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


class OperationRefused(Refused):
    """A pool operation refused by our own rule before any change was made.

    E.g. ejecting the master, ejecting a host with running guest VMs,
    destroying the record of a live host. Raised by the xapi layer, where no
    aggregate is known.

    :ivar action: the pool operation (``pool.eject``, ``host.destroy``, ...).
    :ivar host: the host uuid concerned.
    :ivar reason: why it was refused.
    """

    def __init__(self, action, host, reason):
        self.host = host
        super().__init__(action, reason, 'Refused %s of host %s: %s'
                         % (action, host, redaction.redact(reason)))


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
