"""The command's output schemas: one per object, the same fields everywhere.

Every command prints one of these objects (``-f json`` / ``yaml`` print them
as they are; ``table`` / ``value`` / ``csv`` print their columns). A field
has one meaning wherever it appears:

* a ``name``, ``host`` or ``master`` is a **compute host name** (or an
  aggregate's name); a ``uuid`` / ``*_uuid`` is a **xapi uuid**;
* ``hosts`` is always ``{compute host name: xenhost uuid or null}`` (the
  aggregate's metadata layout); ``members`` is always a list of **host**
  objects as xapi reports them;
* an error is always an **error** object (:func:`error_record`), never prose.

Schemas (``AGGREGATE_FIELDS`` ... below list each one's fields in order):

* **aggregate**: ``name``, ``operational_state``, ``hypervisor_pool``,
  ``master``, ``hosts``, ``failures``, ``reason`` (the last failure kept),
  ``operation`` (the operation in flight: an **operation** object, or null),
  ``metadata``; ``aggregate show`` adds the live side: ``pool`` (a **pool**
  object or null), ``xapi_error`` (an **error** or null), ``consistent``,
  ``differences``, ``unhealthy``.
* **host**: ``name`` (compute host name, null when no aggregate records the
  uuid), ``uuid``, ``name_label``, ``address``, ``enabled``, ``live``,
  ``master`` (true for the pool master).
* **pool**: ``uuid``, ``name_label``, ``master_uuid``, ``members``.
* **operation**: ``id``, ``op``, ``aggregate``, ``host``, ``host_uuid``,
  ``owner``, ``started``, ``phase``, ``expires``, ``duration``, ``outcome``,
  ``state_after``, ``xapi_code``, ``task`` (fields a source does not know
  are null; the history's records are :meth:`OperationRecord.to_dict`).
* **preflight**: ``aggregate``, ``host``, ``url``, ``force``, ``can_join``,
  ``mismatches`` (``[{code, params, reason}]``, xapi's codes).
* **reconcile report**: ``name``, ``state_before``, ``state_after``,
  ``agreed``, ``actions``, ``drift``, ``unhealthy``, ``error``, ``busy``,
  ``pending``, ``reason``.
* **error**: ``type``, ``message``, ``code``, ``params``, ``method``,
  ``host`` (XAPI's, null when xapi did not answer), and by type: ``kind``,
  ``maybe_applied`` (xapi unavailable), ``mismatches`` (preflight), ``action``,
  ``reason`` (refusals).

:func:`compare` is read-only (unlike reconcile, it repairs nothing): it says
whether an aggregate's metadata and the pool xapi reports agree.
"""

import time

from cliff import columns

from xenpool_driver import exception
from xenpool_driver import pool_states as ps
from xenpool_driver.aggregates import agreement
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import reading

AGGREGATE_FIELDS = ('name', 'operational_state', 'hypervisor_pool', 'master', 'hosts',
                    'failures', 'reason', 'operation', 'metadata')
LIVE_FIELDS = ('pool', 'xapi_error', 'consistent', 'differences', 'unhealthy')
HOST_FIELDS = ('name', 'uuid', 'name_label', 'address', 'enabled', 'live', 'master')
POOL_FIELDS = ('uuid', 'name_label', 'master_uuid', 'members')
OPERATION_FIELDS = ('id', 'op', 'aggregate', 'host', 'host_uuid', 'owner', 'started',
                    'phase', 'expires', 'duration', 'outcome', 'state_after', 'xapi_code',
                    'task')
PREFLIGHT_FIELDS = ('aggregate', 'host', 'url', 'force', 'can_join', 'mismatches')
REPORT_FIELDS = ('name', 'state_before', 'state_after', 'agreed', 'actions', 'drift',
                 'unhealthy', 'error', 'busy', 'pending', 'reason')
ERROR_FIELDS = ('type', 'message', 'code', 'params', 'method', 'host')

#: An operation's ``outcome`` (the history's words: succeeded, failed,
#: refused, interrupted; ``in flight`` for one that has not ended).
SUCCEEDED = 'succeeded'
IN_FLIGHT = 'in flight'


# -- the objects ---------------------------------------------------------------

def host_record(info, name=None, master_uuid=None):
    """A **host** from xapi's :class:`HostInfo` (``name``: its compute name)."""
    return {'name': name, 'uuid': info.uuid, 'name_label': info.name_label,
            'address': info.address, 'enabled': bool(info.enabled),
            'live': bool(info.live), 'master': info.uuid == master_uuid}


def pool_record(members, names=None):
    """A **pool** from xapi's :class:`Membership`.

    :param names: ``{xenhost uuid: compute host name}`` known to an aggregate.
    """
    names = names or {}
    return {'uuid': members.pool_uuid, 'name_label': members.name_label,
            'master_uuid': members.master_uuid,
            'members': [host_record(h, names.get(h.uuid), members.master_uuid)
                        for h in members.hosts]}


def intent_record(intent, aggregate=None):
    """An **operation** in flight, from the aggregate's intent record."""
    if intent is None:
        return None
    record = dict.fromkeys(OPERATION_FIELDS)
    record.update(id=intent.id, op=intent.op, aggregate=aggregate, host=intent.host,
                  host_uuid=intent.host_uuid, owner=intent.owner, started=intent.started,
                  phase=intent.phase, expires=intent.expires, outcome=IN_FLIGHT)
    return record


def operation_record(op, aggregate, host, outcome, host_uuid=None, started=None,
                     clock=time.time):
    """An **operation** the command just ran (its result line's object)."""
    record = dict.fromkeys(OPERATION_FIELDS)
    record.update(op=op, aggregate=aggregate.name, host=host, host_uuid=host_uuid,
                  outcome=outcome, state_after=aggregate.metadata.get(ps.KEY),
                  started=started)
    if started is not None:
        record['duration'] = round(clock() - started, 3)
    return record


def aggregate_record(agg):
    """An **aggregate** as its metadata says (no xapi call)."""
    md = dict(agg.metadata)
    recorded = bk.recorded_hosts(md)
    book = bk.read(md)
    return {'name': agg.name, 'operational_state': md.get(ps.KEY),
            'hypervisor_pool': ps.is_hv_pool(md), 'master': md.get(bk.MASTER_COMPUTE),
            'hosts': {h: recorded.get(h) for h in sorted(agg.hosts)},
            'failures': book.failures, 'reason': book.reason,
            'operation': intent_record(book.intent, agg.name), 'metadata': md}


def read_live(workflow, agg):
    """``(membership, error)`` of ``agg``'s pool, as reconcile reads it.

    NOTE: the same candidates in the same order as reading.read_pool, through
    the workflow (no xapi import here), so that the error stays an object.
    """
    first, errors = None, []
    for url in reading.candidate_urls(agg, workflow.locator, None):
        try:
            members = workflow.membership(url)
        except (exception.XapiError, exception.XapiUnavailable) as exc:
            errors.append(exc)
            continue
        if reading.is_ours(agg, members):
            return members, None
        first = first or members
    if first is not None:
        return first, None
    return None, (errors[0] if errors else None)


def aggregate_view(ctx, agg, clock=time.time):
    """An **aggregate** beside its live pool, with ``consistent``."""
    view = aggregate_record(agg)
    md = view['metadata']
    recorded = bk.recorded_hosts(md)
    members, error = None, None
    if view['hypervisor_pool'] and recorded:
        members, error = read_live(ctx.workflow, agg)
    names = {uuid: name for name, uuid in recorded.items()}
    view['pool'] = pool_record(members, names) if members is not None else None
    view['xapi_error'] = error_record(error) if error is not None else None
    result = agreement.compare(agg.name, agg.hosts, md, members,
                               error=('cannot read the pool: %s' % error) if error else None,
                               now=clock())
    differences = list(result.differences) if view['hypervisor_pool'] else []
    view['consistent'] = not differences
    view['differences'] = differences
    view['unhealthy'] = list(result.unhealthy)
    return view


def preflight_record(agg, host, url, force, mismatches):
    return {'aggregate': agg.name, 'host': host, 'url': url, 'force': bool(force),
            'can_join': not mismatches,
            'mismatches': [{'code': m.code, 'params': list(m.params), 'reason': m.reason}
                           for m in mismatches]}


def report_view(agg, report):
    """A **reconcile report**."""
    return {'name': agg.name, 'state_before': report.state_before,
            'state_after': report.state_after, 'agreed': report.agreed,
            'actions': list(report.actions), 'drift': list(report.drift),
            'unhealthy': list(report.unhealthy), 'error': report.error,
            'busy': report.busy, 'pending': report.pending, 'reason': report.reason}


def error_record(exc):
    """An **error** object for ``exc`` (every text already redacted)."""
    record = dict.fromkeys(ERROR_FIELDS)
    record['message'] = one_line(str(exc))
    if isinstance(exc, exception.XapiError):
        record.update(type='xapi_error', code=exc.code, params=list(exc.params),
                      method=exc.method, host=exc.host)
    elif isinstance(exc, exception.XapiUnavailable):
        record.update(type='xapi_timeout' if isinstance(exc, exception.XapiTimeout)
                      else 'xapi_unavailable', method=exc.method, host=exc.host,
                      kind=exc.kind, maybe_applied=exc.maybe_applied)
    elif isinstance(exc, exception.Refused):
        record.update(type='refused', action=exc.action, reason=one_line(exc.reason))
        if isinstance(exc, exception.PreflightFailed):
            record.update(host=exc.host, mismatches=[
                {'code': m.code, 'params': list(m.params), 'reason': m.reason}
                for m in exc.mismatches])
        elif isinstance(exc, exception.OperationRefused):
            record['host'] = exc.host
    return record


def one_line(text):
    return ' '.join(str(text).split())


# -- human-readable cells (table, value, csv); json and yaml get the raw value ----

class Hosts(columns.FormattableColumn):
    """``{name: uuid}``: one ``name uuid`` per line."""

    def human_readable(self):
        return '\n'.join('%s %s' % (name, uuid or '-')
                         for name, uuid in sorted((self._value or {}).items()))


class Lines(columns.FormattableColumn):
    """A list of texts: one per line."""

    def human_readable(self):
        return '\n'.join(str(item) for item in self._value or ())


class Members(columns.FormattableColumn):
    """A list of **host** objects: one per line."""

    def human_readable(self):
        return '\n'.join(render_host(h) for h in self._value or ())


class Pool(columns.FormattableColumn):
    def human_readable(self):
        pool = self._value
        if pool is None:
            return ''
        return '\n'.join(['%s "%s"' % (pool['uuid'], pool['name_label'])] +
                         [render_host(h) for h in pool['members']])


class Mapping(columns.FormattableColumn):
    """A mapping: ``key=value`` per line (nested values as they are)."""

    def human_readable(self):
        if self._value is None:
            return ''
        return '\n'.join('%s=%s' % (k, v) for k, v in sorted(self._value.items())
                         if v is not None)


class Mismatches(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join('%s %s: %s' % (m['code'], ' '.join(m['params']), m['reason'])
                         for m in self._value or ())


class YesNo(columns.FormattableColumn):
    """``consistent``, ``agreed``: ``yes`` / ``NO`` for a person."""

    def human_readable(self):
        return 'yes' if self._value else 'NO'


class Time(columns.FormattableColumn):
    """``started``, ``ended`` (epoch seconds): ISO 8601 UTC for a person."""

    def human_readable(self):
        if self._value is None:
            return None
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self._value))


class Seconds(columns.FormattableColumn):
    """``duration``: to the tenth of a second for a person."""

    def human_readable(self):
        return None if self._value is None else round(self._value, 1)


#: Field -> cell class, for the fields that are not plain scalars.
CELLS = {'hosts': Hosts, 'members': Members, 'pool': Pool, 'metadata': Mapping,
         'operation': Mapping, 'xapi_error': Mapping, 'differences': Lines,
         'unhealthy': Lines, 'actions': Lines, 'drift': Lines, 'mismatches': Mismatches,
         'consistent': YesNo, 'agreed': YesNo, 'params': Lines,
         'started': Time, 'ended': Time, 'expires': Time, 'duration': Seconds}


def cells(record, fields):
    """``(fields, values)`` of ``record`` for cliff, non-scalars wrapped."""
    return (tuple(fields),
            tuple(CELLS[f](record.get(f)) if f in CELLS else record.get(f) for f in fields))


def render_host(h):
    state = '%s, %s' % ('live' if h['live'] else 'not live',
                        'enabled' if h['enabled'] else 'disabled')
    return '%s %s %s %s%s' % (h['name'] or '?', h['uuid'], h['address'], state,
                              ', master' if h['master'] else '')


# -- the demo's side-by-side text --------------------------------------------------

def render(view):
    """Metadata beside xapi, one line per host (``xenpool demo``)."""
    lines = ['aggregate %s: %s%s' % (view['name'], view['operational_state'] or '-',
                                     '' if view['hypervisor_pool'] else ' (not a pool)')]
    live = (view['pool'] or {}).get('members', [])
    by_uuid = {h['uuid']: h for h in live}
    lines.append('  %-16s %-38s | %-15s %s' % ('host', 'metadata uuid', 'xapi address',
                                              'xapi state'))
    shown = set()
    for host, uuid in sorted(view['hosts'].items()):
        real = by_uuid.get(uuid)
        shown.add(uuid)
        role = ' master' if host == view['master'] else ''
        lines.append('  %-16s %-38s | %-15s %s' % (
            host + role, uuid or '-', real['address'] if real else '-',
            _state(real) + (' master' if real and real['master'] else '')))
    for uuid, real in sorted(by_uuid.items()):
        if uuid not in shown:
            lines.append('  %-16s %-38s | %-15s %s' % ('?', uuid, real['address'],
                                                      _state(real)))
    lines.append('  consistent: %s' % ('yes' if view['consistent'] else 'NO'))
    for problem in view['differences']:
        lines.append('    - %s' % problem)
    for problem in view.get('unhealthy', ()):
        lines.append('  unhealthy: %s' % problem)
    if view.get('reason'):
        lines.append('  last failure: %s' % view['reason'])
    return '\n'.join(lines)


def _state(real):
    if real is None:
        return 'not a member'
    return '%s, %s' % ('live' if real['live'] else 'not live',
                       'enabled' if real['enabled'] else 'disabled')
