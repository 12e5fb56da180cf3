"""Embedded aggregate store for standalone use (SQLite default, any SQLAlchemy URL).

Public API: :class:`Store`, :class:`StoredAggregate`, :class:`HostRecord`
and the errors :class:`StoreError`, :class:`NotFound`, :class:`Conflict`,
:class:`InvalidInput`, :class:`StoreUnavailable`, :class:`SchemaError`.
Options: :mod:`xenpool_driver.store.conf` (group ``[store]``).

NOTE: the names are resolved on first use (PEP 562), so that
:mod:`xenpool_driver.store.conf` - the options, which the sample generator
lists - imports where SQLAlchemy 2 (the ``cli`` extra) is not installed,
e.g. beside a compute service's older pins.
"""

import importlib

_EXPORTS = {
    'HostRecord': 'inventory', 'Store': 'database',
    'StoredAggregate': 'aggregate',
    'Conflict': 'errors', 'InvalidInput': 'errors', 'NotFound': 'errors',
    'SchemaError': 'errors', 'StoreError': 'errors', 'StoreUnavailable': 'errors',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    return getattr(importlib.import_module('%s.%s' % (__name__, module)), name)
