"""A kept failure reason: its message and the operations that counted.

The reason of an aggregate's last failure (bookkeeping's ``reason``) names
the operations that moved it towards ``error``: ``... (counted operations
<id>, <id>)``, oldest first, so that ``xenpool aggregate history`` can show
them. :func:`fit` makes it fit the metadata value limit, the newest id last
to go.
"""

import re

#: Longest failure reason kept (without its operation ids).
REASON_LIMIT = 160
#: Shortest failure message kept before operation ids are dropped for room.
MESSAGE_MIN = 40

_OPERATIONS_RE = re.compile(r'(?:^| )\(counted operations ([0-9a-zA-Z_-]+'
                            r'(?:, [0-9a-zA-Z_-]+)*)\)$')


def with_operations(message, ids):
    """``message`` naming the operations that counted: ``... (counted
    operations 91bc..., 3f2a...)``, oldest first; ``message`` alone when
    ``ids`` is empty. :func:`reason_operations` reads them back.
    """
    message = reason_message(message) or ''
    ids = [i for i in ids if i]
    if not ids:
        return message
    return ('%s (counted operations %s)' % (message, ', '.join(ids))).strip()


def reason_operations(reason):
    """The operation ids a reason names (see :func:`with_operations`), or ()."""
    match = _OPERATIONS_RE.search(reason or '')
    return tuple(match.group(1).split(', ')) if match else ()


def reason_message(reason):
    """``reason`` without the operation ids it names (None stays None)."""
    if reason is None:
        return None
    return _OPERATIONS_RE.sub('', reason)


def fit(out, reason, limit, dumps):
    """Dump ``out`` (with ``dumps``) with as much of ``reason`` as fits in ``limit``.

    NOTE: the message is shortened first (to :data:`MESSAGE_MIN`), then the
    oldest operation ids are dropped, then the message again: the newest
    operation id survives whenever anything of the reason does.
    """
    message = shorten(reason_message(reason), REASON_LIMIT)
    ids = list(reason_operations(reason))
    while True:
        out['reason'] = with_operations(message, ids)
        if not out['reason']:
            del out['reason']
            return dumps(out)
        raw = dumps(out)
        over = len(raw) - limit
        if over <= 0:
            return raw
        if len(message) > MESSAGE_MIN:
            message = shorten(message, max(MESSAGE_MIN, len(message) - over))
        elif len(ids) > 1:
            ids.pop(0)
        elif message:
            message = shorten(message, len(message) - max(over, 4))
            if message == '...':
                message = ''
        else:
            ids = []


def shorten(text, limit):
    limit = max(limit, 0)
    return text if len(text) <= limit else text[:max(limit - 3, 0)] + '...'
