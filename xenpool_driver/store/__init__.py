"""Embedded aggregate store for standalone use (SQLite default, any SQLAlchemy URL).

Public API: :class:`Store`, :class:`StoredAggregate`, :class:`HostRecord`
and the errors :class:`StoreError`, :class:`NotFound`, :class:`Conflict`,
:class:`InvalidInput`, :class:`StoreUnavailable`, :class:`SchemaError`.
Options: :mod:`xenpool_driver.store.conf` (group ``[store]``).
"""

from xenpool_driver.store.api import HostRecord, Store, StoredAggregate
from xenpool_driver.store.errors import (
                                         Conflict,
                                         InvalidInput,
                                         NotFound,
                                         SchemaError,
                                         StoreError,
                                         StoreUnavailable,
)

__all__ = ['Conflict', 'HostRecord', 'InvalidInput', 'NotFound',
           'SchemaError', 'Store', 'StoreError', 'StoreUnavailable',
           'StoredAggregate']
