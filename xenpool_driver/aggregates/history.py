"""The history of operations: one :class:`OperationRecord` per operation, to a sink.

Every operation the workflow begins (an add or a remove: an intent written,
the state ``changing``) ends exactly once - it succeeded, it failed, our own
rule refused it after it began, or it was interrupted (Ctrl-C, or its lease
taken over) - and at that end :meth:`.workflow.Workflow` hands one
:class:`OperationRecord` to its ``history`` sink. A request refused before
it began (the state check, an unlocatable host) is not an operation: it
writes nothing and records nothing.

A sink is any callable ``sink(record)`` (:class:`HistorySink`):

* the ``xenpool`` command's store keeps them (``Store.record_operation``;
  ``xenpool aggregate history NAME`` reads them back);
* a compute service logs them, one structured line each (:func:`log_sink`).

No record carries a secret: the error texts are those of
:mod:`xenpool_driver.exception` (redacted where they are made) and every
text is redacted once more here.
"""

import dataclasses
import re
import typing

from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver.aggregates import ledger

SUCCEEDED = 'succeeded'
FAILED = 'failed'
#: Our own rule refused it after it began (a preflight mismatch, a claimed
#: host, running guests, no slave to promote): nothing changed the pool.
REFUSED = 'refused'
#: This process stopped without knowing the outcome (KeyboardInterrupt), or
#: another actor took the operation over (its lease had expired): the
#: intent stays for reconcile.
INTERRUPTED = 'interrupted'
OUTCOMES = (SUCCEEDED, FAILED, REFUSED, INTERRUPTED)

#: The operation name of a removal of a dead host (``host.destroy``).
DEAD_REMOVE = 'dead-remove'

#: Longest error text kept (one line).
ERROR_LIMIT = 1000

_OWNER_RE = re.compile(r'^(?:(?P<user>[^@:\s]+)@)?(?P<hostname>[^@:\s]+):'
                       r'(?P<pid>\d+)$')


@dataclasses.dataclass(frozen=True)
class OperationRecord:
    """One operation, as it ended.

    :ivar id: the operation's id (its intent's id: the id the kept reason of
        an ``error`` state names).
    :ivar aggregate: the aggregate's name.
    :ivar op: ``add``, ``remove`` or ``dead-remove``.
    :ivar host: the compute host added or removed.
    :ivar owner: who ran it, ``user@host:pid`` (see
        :func:`.workflow.default_owner`; a compute service writes
        ``host:pid``).
    :ivar user: the user of ``owner``, None when it names none.
    :ivar hostname: the host of ``owner``, None when unparseable.
    :ivar pid: the process id of ``owner``, None when unparseable.
    :ivar started: wall-clock epoch seconds when it began (its intent's).
    :ivar ended: wall-clock epoch seconds when it ended.
    :ivar duration: ``ended - started`` (seconds).
    :ivar outcome: one of :data:`OUTCOMES`.
    :ivar state_after: ``operational_state`` once it ended (``changing``
        after an interruption: reconcile decides).
    :ivar xapi_code: XAPI's error code (the first mismatch's for a
        preflight refusal), None when xapi reported none.
    :ivar xapi_params: XAPI's error parameters (list of str).
    :ivar task: the ref of the XAPI task it created (join, eject), when
        known.
    :ivar error: one line: why it did not succeed (redacted); None on
        success.
    :ivar counted: whether its failure counted towards
        ``pool_error_threshold`` (a compute service's undo may still count
        one that did not: the kept reason then names it).
    :ivar aggregate_id: the aggregate's id (None when not known).
    """

    id: str
    aggregate: str
    op: str
    host: str
    owner: str
    user: str | None
    hostname: str | None
    pid: int | None
    started: float
    ended: float
    duration: float
    outcome: str
    state_after: str | None
    xapi_code: str | None = None
    xapi_params: list = dataclasses.field(default_factory=list)
    task: str | None = None
    error: str | None = None
    counted: bool = False
    aggregate_id: typing.Any = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError('unknown outcome %r' % (self.outcome,))

    def to_dict(self):
        """A JSON-friendly dict (the command's JSON and table views)."""
        out = dataclasses.asdict(self)
        out['xapi_params'] = list(self.xapi_params)
        return out


class HistorySink(typing.Protocol):
    """Where the records go: any callable ``sink(record)``.

    Called once per operation, in the thread that ran it, after its last
    metadata write. A sink that raises is logged and ignored: keeping the
    history never changes an operation's outcome.
    """

    def __call__(self, record: OperationRecord) -> None: ...


def split_owner(owner):
    """``(user, hostname, pid)`` of ``user@host:pid`` (or ``host:pid``).

    Each part is None when ``owner`` does not have it.
    """
    match = _OWNER_RE.match(owner or '')
    if match is None:
        return None, None, None
    return match.group('user'), match.group('hostname'), int(match.group('pid'))


def outcome_of(exc):
    """The outcome of an operation that ended with ``exc`` (None: success)."""
    if exc is None:
        return SUCCEEDED
    if isinstance(exc, exception.Refused):
        return REFUSED
    if not isinstance(exc, Exception) or isinstance(exc, ledger.LeaseLost):
        return INTERRUPTED
    return FAILED


def xapi_error_of(exc):
    """``(code, params)`` XAPI gave for ``exc`` (or its cause), else ``(None, [])``.

    A :class:`~xenpool_driver.exception.PreflightFailed` gives its first
    mismatch (xapi checks in that order); a timeout whose cause is the
    join's own error gives that error.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, exception.XapiError):
            return exc.code, [str(p) for p in exc.params]
        if isinstance(exc, exception.PreflightFailed) and exc.mismatches:
            first = exc.mismatches[0]
            return first.code, [redaction.redact(str(p)) for p in first.params]
        exc = exc.__cause__ or exc.__context__
    return None, []


def error_text(exc):
    """One redacted line saying what ``exc`` is (None for no exception)."""
    if exc is None:
        return None
    text = ' '.join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, exception.XenPoolError):
        text = '%s: %s' % (type(exc).__name__, text) if str(exc) else text
    text = redaction.redact(text)
    return text if len(text) <= ERROR_LIMIT else text[:ERROR_LIMIT - 3] + '...'


def record_of(aggregate, intent, op_name, ended, exc=None, task=None,
              counted=False):
    """The :class:`OperationRecord` of the operation of ``intent``.

    :param aggregate: the aggregate (its ``name``, ``id`` and the
        ``operational_state`` its metadata holds now).
    :param intent: the operation's :class:`~.bookkeeping.Intent`.
    :param op_name: ``add``, ``remove`` or ``dead-remove``.
    :param ended: wall-clock epoch seconds.
    :param exc: what it ended with (None: success).
    :param task: the XAPI task ref it created, if known (else a timeout's).
    :param counted: whether its failure counted.
    """
    code, params = xapi_error_of(exc)
    user, hostname, pid = split_owner(intent.owner)
    started = float(intent.started)
    return OperationRecord(
        id=intent.id, aggregate=str(getattr(aggregate, 'name', '') or ''),
        op=op_name, host=intent.host, owner=intent.owner, user=user,
        hostname=hostname, pid=pid, started=started, ended=float(ended),
        duration=max(0.0, float(ended) - started), outcome=outcome_of(exc),
        state_after=(getattr(aggregate, 'metadata', None) or {}).get(
            'operational_state'),
        xapi_code=code, xapi_params=params,
        task=task or getattr(exc, 'task_ref', None), error=error_text(exc),
        counted=bool(counted) and exc is not None,
        aggregate_id=getattr(aggregate, 'id', None))


def _value(value):
    """One ``key=value`` value: bare when it has no blank or quote."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, list):
        value = ','.join(str(v) for v in value)
    text = str(value)
    if text and not re.search(r'[\s"=\\]', text):
        return text
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def log_line(record):
    """The record as one line of ``key=value`` pairs (see :func:`log_sink`)."""
    pairs = [('id', record.id), ('aggregate', record.aggregate),
             ('aggregate_id', record.aggregate_id), ('op', record.op),
             ('host', record.host), ('owner', record.owner),
             ('outcome', record.outcome),
             ('duration', '%.1fs' % record.duration),
             ('state', record.state_after), ('counted', record.counted),
             ('xapi_code', record.xapi_code),
             ('xapi_params', record.xapi_params or None),
             ('task', record.task), ('error', record.error)]
    return redaction.redact('xenpool operation ' + ' '.join(
        '%s=%s' % (key, _value(value)) for key, value in pairs))


def log_sink(logger):
    """A sink writing ONE structured line per operation to ``logger``.

    E.g. ``xenpool operation id=3f2a4b5c6d7e aggregate=prod aggregate_id=4
    op=add host=compute-2 owner=compute-1:4242 outcome=failed duration=12.3s
    state=active counted=yes xapi_code=JOINING_HOST_CONNECTION_FAILED
    xapi_params=- task=OpaqueRef:... error="XAPI error ..."``: INFO for a
    success, WARNING otherwise. Never a secret (the line is redacted).

    :param logger: a ``logging``/``oslo_log`` logger.
    """
    def sink(record):
        level = 'info' if record.outcome == SUCCEEDED else 'warning'
        getattr(logger, level)('%s', log_line(record))
    return sink
