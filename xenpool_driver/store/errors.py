"""Errors of the aggregate store; all are :class:`XenPoolError`."""

from xenpool_driver import exception


class StoreError(exception.XenPoolError):
    """Base of every error raised by the store."""


class NotFound(StoreError):
    """No aggregate, aggregate host or inventory host of that name."""


class Conflict(StoreError):
    """The name (or host membership) exists already."""


class InvalidInput(StoreError, ValueError):
    """A name, key or value is malformed; nothing was changed."""


class StoreUnavailable(StoreError):
    """The database could not be reached or refused to work."""


class SchemaError(StoreError):
    """The database schema cannot be used by this version of the code."""
