"""The history of operations kept by the store: one row per operation.

:class:`OperationHistory` holds the two operations; :class:`~.database.Store`
inherits them. ``Store.record_operation`` is a history sink (see
:mod:`xenpool_driver.aggregates.history`): the ``xenpool`` command gives it to
its workflow, which hands it one
:class:`~xenpool_driver.aggregates.history.OperationRecord` as each operation
ends; ``Store.history`` reads them back, oldest first.

An aggregate's history outlives the aggregate: deleting an aggregate keeps
its rows, so ``history(name)`` of a deleted aggregate still answers (a user
asking what happened to a pool they removed expects to be told).
"""

import json

import sqlalchemy as sa

from xenpool_driver.aggregates import history as history_mod
from xenpool_driver.store import checks, errors, models

_ops = models.operations
_agg = models.aggregates

#: Columns copied as they are from a record (the rest are converted).
_PLAIN = ('id', 'aggregate', 'op', 'host', 'owner', 'user', 'hostname', 'pid',
          'started', 'ended', 'duration', 'outcome', 'state_after',
          'xapi_code', 'task', 'error', 'counted')


def _row_values(record, aggregate_id):
    values = {name: getattr(record, name) for name in _PLAIN}
    values['counted'] = bool(record.counted)
    values['xapi_params'] = json.dumps([str(p) for p in record.xapi_params])
    values['aggregate_id'] = aggregate_id
    return values


def _record(row):
    try:
        params = json.loads(row.xapi_params)
    except ValueError:
        params = []
    values = {name: getattr(row, name) for name in _PLAIN}
    return history_mod.OperationRecord(
        xapi_params=[str(p) for p in params if p is not None] if
        isinstance(params, list) else [],
        aggregate_id=row.aggregate_id, **values)


class OperationHistory:
    """The history operations of a store (a mixin of :class:`~.database.Store`).

    Pre-condition: the class it is mixed into provides ``_transaction()``, a
    context manager yielding a connection in one database transaction, its
    errors translated to :class:`~.errors.StoreUnavailable`.
    """

    def record_operation(self, record):
        """Keep ``record`` (a history sink: ``Workflow(history=store.record_operation)``).

        The aggregate's id is the record's when it is an int, else that of
        the aggregate of that name, if any. Recording an operation twice
        keeps the first record.

        :param record: an
            :class:`~xenpool_driver.aggregates.history.OperationRecord`.
        :returns: True when kept now, False when it was recorded already.
        :raises InvalidInput: not a record, or a bad aggregate name.
        """
        if not isinstance(record, history_mod.OperationRecord):
            raise errors.InvalidInput('not an operation record: %r' % (record,))
        checks.check_name(record.aggregate, 'aggregate name')
        agg_id = record.aggregate_id
        with self._transaction() as conn:
            if isinstance(agg_id, bool) or not isinstance(agg_id, int):
                agg_id = conn.execute(sa.select(_agg.c.id).where(
                    _agg.c.name == record.aggregate)).scalar()
            if conn.execute(sa.select(_ops.c.seq).where(
                    _ops.c.id == record.id)).first():
                return False
            conn.execute(sa.insert(_ops).values(**_row_values(record, agg_id)))
        return True

    def history(self, aggregate_name_or_id, limit=None):
        """The operations of an aggregate, OLDEST FIRST (the newest last).

        :param aggregate_name_or_id: a name (every operation recorded under
            it, including those of a deleted aggregate of that name), an int
            id, or an id as a string (tried when no operation and no
            aggregate has that name).
        :param limit: only the ``limit`` newest (still oldest first); None:
            all.
        :returns: list of
            :class:`~xenpool_driver.aggregates.history.OperationRecord`
            (empty for an aggregate that never ran one).
        :raises InvalidInput: neither a name nor an id, or a bad ``limit``.
        :raises NotFound: no aggregate and no recorded operation answers to it.
        """
        key = aggregate_name_or_id
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise errors.InvalidInput('aggregate must be named by name or id, '
                                      'got %r' % (key,))
        if limit is not None and (isinstance(limit, bool) or
                                  not isinstance(limit, int) or limit < 0):
            raise errors.InvalidInput('limit must be a count, got %r' % (limit,))
        if isinstance(key, str):
            checks.check_name(key, 'aggregate name')
        with self._transaction() as conn:
            if isinstance(key, str):
                where = _ops.c.aggregate == key
                known = self._known(conn, where, _agg.c.name == key)
                if not known and key.isdigit():
                    key = int(key)
            if isinstance(key, int):
                where = _ops.c.aggregate_id == key
                known = self._known(conn, where, _agg.c.id == key)
            if not known:
                raise errors.NotFound('no aggregate %s, and no operation '
                                      'recorded for it' % (aggregate_name_or_id,))
            query = sa.select(_ops).where(where).order_by(
                _ops.c.started.desc(), _ops.c.seq.desc())
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execute(query).all()
        return [_record(row) for row in reversed(rows)]

    @staticmethod
    def _known(conn, where_operation, where_aggregate):
        return bool(conn.execute(sa.select(_ops.c.seq).where(where_operation)
                                 .limit(1)).first() or
                    conn.execute(sa.select(_agg.c.id).where(where_aggregate)
                                 ).first())
