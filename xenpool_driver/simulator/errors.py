"""Errors the simulated xapi raises, and wire-level control flow."""


class XapiError(Exception):
    """An XAPI error: ``code`` plus string ``params`` (xapi's ErrorDescription)."""

    def __init__(self, code, *params):
        self.code = code
        self.params = [str(p) for p in params]
        super().__init__(code, *self.params)

    @property
    def description(self):
        return [self.code] + self.params


class DropConnection(Exception):
    """Close the client's connection without answering (a fault)."""


class NoRoute(Exception):
    """A host-to-host connection that cannot be made (down host or cut link)."""


def handle_invalid(cls, ref):
    return XapiError('HANDLE_INVALID', cls, ref)
