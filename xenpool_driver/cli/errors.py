"""The command's exit codes and its one-line (or JSON) errors.

Every error is one line on stderr, ``xenpool: error: ...``; with ``-f json``
(or ``yaml``) it is ``{"error": {...}}`` on stderr, the **error** object of
:mod:`.views` plus ``exit_code``. The exit code says which kind of outcome it
was (:data:`EXIT_CODES`, also in ``xenpool --help``).
"""

import json

from xenpool_driver import exception
from xenpool_driver import redaction
from xenpool_driver import store as store_mod
from xenpool_driver.cli import views

OK = 0
FAILURE = 1
USAGE = 2
REFUSED = 3
DRIFT = 4
INTERRUPTED = 130

#: ``(code, meaning)``, as ``xenpool --help`` lists them.
EXIT_CODES = (
    (OK, 'done (or nothing to do); metadata and xapi agree'),
    (FAILURE, 'failed: xapi answered an error or did not answer, the store failed, '
              'no such aggregate'),
    (USAGE, 'usage: unknown command or option, malformed input (host name, URL, '
            'store URL, config file)'),
    (REFUSED, 'refused by our rules before anything changed (state, an operation in '
              'flight, a claimed host, a preflight mismatch, an existing name, no '
              '--yes); the dry run of a refused plan'),
    (DRIFT, 'drift: metadata and xapi do not agree (aggregate show "consistent: '
            'NO", reconcile that could not make them agree or left an operation '
            'in flight alone)'),
    (INTERRUPTED, 'interrupted (Ctrl-C): the intent record is kept, its lease '
                  'released; run aggregate reconcile'),
)


class UsageError(exception.XenPoolError):
    """The command line cannot be used (nothing was run)."""


class Interrupted(exception.XenPoolError):
    """Ctrl-C: the operation stopped without knowing its outcome."""


def epilog():
    """The exit codes, for ``--help``."""
    return 'exit codes:\n' + '\n'.join('  %3d  %s' % pair for pair in EXIT_CODES)


def exit_code(exc):
    """The exit code of an error."""
    if isinstance(exc, Interrupted):
        return INTERRUPTED
    if isinstance(exc, (UsageError, store_mod.InvalidInput)):
        return USAGE
    if isinstance(exc, (exception.Refused, store_mod.Conflict)):
        return REFUSED
    return FAILURE


def error_type(exc):
    record = views.error_record(exc)
    if record['type']:
        return record['type']
    for cls, name in ((UsageError, 'usage'), (Interrupted, 'interrupted'),
                      (store_mod.InvalidInput, 'usage'), (store_mod.Conflict, 'conflict'),
                      (store_mod.NotFound, 'not_found'),
                      (store_mod.StoreError, 'store'),
                      (exception.XenPoolError, 'failure')):
        if isinstance(exc, cls):
            return name
    return 'internal'


def error_object(exc):
    """``{"error": {...}}`` for ``-f json``: the **error** object and its exit code."""
    record = views.error_record(exc)
    record['type'] = error_type(exc)
    if not isinstance(exc, exception.XenPoolError):
        record['message'] = line(exc)
    record['exit_code'] = exit_code(exc)
    return {'error': record}


def line(exc):
    """The one line an operator sees for ``exc``."""
    if isinstance(exc, exception.XapiError):
        where = ' '.join(part for part in (
            'in %s' % exc.method if exc.method else '',
            'on %s' % exc.host if exc.host else '') if part)
        text = 'xapi error %s%s%s' % (
            exc.code, ' [%s]' % ', '.join(exc.params) if exc.params else '',
            ' (%s)' % where if where else '')
    elif isinstance(exc, exception.XenPoolError):
        text = str(exc)
    else:
        # NOTE: a bug of ours: its type says more than its text alone
        text = redaction.redact('%s: %s' % (type(exc).__name__, exc))
    return views.one_line(text)


def write(stream, exc, as_json=False):
    """Write ``exc`` to ``stream``: one line, or ``{"error": ...}`` JSON."""
    if as_json:
        stream.write(json.dumps(error_object(exc), sort_keys=True) + '\n')
    else:
        stream.write('xenpool: error: %s\n' % line(exc))
    stream.flush()
