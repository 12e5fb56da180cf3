"""Our own bookkeeping inside the aggregate's metadata: two namespaced keys.

The aggregate's metadata keeps the classic layout (``operational_state``,
``hypervisor_pool``, ``master_compute``, ``<compute host>`` = xenhost uuid);
everything else the workflow needs is compact JSON under two keys of ours.
:data:`INTENT_KEY` holds the operation in flight (its lease)::

    {"id": "3f2a...", "op": "add", "host": "compute-2",
     "started": 1767225600, "owner": "compute-1:4242",
     "expires": 1767225720,           # lease: renewed while the owner runs it
     "prev": "active",                # state to restore on failure
     "url": "https://192.0.2.12",     # host's xapi URL (never userinfo)
     "uuid": "<xenhost uuid>",        # the host added/removed, once known
     "target": "<xenhost uuid>",      # new master chosen (master removal)
     "phase": "designate"}            # step reached, for reconcile

:data:`KEY` holds what outlives an operation::

    {"v": 1,
     "failures": 1,                   # consecutive failures
     "master": "192.0.2.11",          # master's management address
     "counted": {"id": "3f2a...", "op": "add", "host": "compute-2"},
                                      # or "uncounted": {"id": ..., "host": ...}
     "reason": "add of compute-2 failed: XAPI error ... (counted operations
                91bc..., 3f2a...)"}   # last failure

Absent fields are omitted; an empty record deletes its key. ``counted`` names
the last failure of ours counted already (then ``undo_aggregate_operation``
does not count it twice); ``uncounted`` one that was not (nothing that
changes the pool was sent: an undo that counts it names its operation). ``reason``
says why the pool is in ``error`` (or what failed last), and stays until the
next success; while failures are counted it ends with the ids of the
operations that counted (:func:`with_operations`), newest last, so that the
reason of an ``error`` state points to the operations that caused it (their
history records carry XAPI's codes, see :mod:`.history`).

NOTE: a compute service stores metadata values in a 255-character column;
:func:`encode_intent` drops what can be found again (the URL, the start time)
before it would exceed :data:`VALUE_LIMIT`, and ``reason`` is shortened.

Parsing is tolerant: garbage (bad JSON, wrong types) is treated as absent with
a warning, field by field, and never raises.  No credential is ever stored:
URLs are written without their userinfo part.
"""

import dataclasses
import json
import re
import urllib.parse
import uuid as uuidlib

from oslo_log import log as logging

from xenpool_driver import pool_states
from xenpool_driver.aggregates import reasons

LOG = logging.getLogger(__name__)

#: The metadata key of our bookkeeping that outlives operations.
KEY = 'xenpool:state'
#: The metadata key of the operation in flight (the intent record, a lease).
INTENT_KEY = 'xenpool:intent'
#: Longest metadata value a compute service stores (nova: String(255)).
VALUE_LIMIT = 255
#: Classic key: compute host name of the pool master.
MASTER_COMPUTE = 'master_compute'
VERSION = 1

#: Keys that are never a ``<compute host>`` key.
RESERVED_KEYS = frozenset({pool_states.KEY, pool_states.POOL_FLAG,
                           MASTER_COMPUTE, KEY, INTENT_KEY,
                           'availability_zone'})

#: Phases after which the pool may have changed (a call that changes it was
#: sent): a failure from then on is a pool failure, and reconcile must read
#: reality before it decides. Before them nothing was attempted.
CHANGING_PHASES = frozenset({'init', 'join', 'live', 'eject', 'designate',
                             'destroy', 'clear'})

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                      r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')


@dataclasses.dataclass(frozen=True)
class Intent:
    """The operation in flight, written before any XAPI call.

    :param id: unique id of this operation.
    :param op: ``add`` or ``remove`` (pool_states.OP_*).
    :param host: compute host name added or removed.
    :param started: wall-clock seconds when it started.
    :param owner: who runs it (compute host name or ``xenpool-cli``).
    :param prev_state: ``operational_state`` before ``changing``.
    :param url: xapi URL of ``host`` (no userinfo), when known.
    :param host_uuid: xenhost uuid of ``host``, once known.
    :param target_uuid: the new master chosen when the master is removed.
    :param phase: the step reached (``designate``, ``eject``...), for reconcile.
    :param expires: wall-clock seconds when the lease ends unless renewed
        (None: an intent written before leases existed - taken as expired).
    """

    id: str
    op: str
    host: str
    started: float
    owner: str
    prev_state: str
    url: str | None = None
    host_uuid: str | None = None
    target_uuid: str | None = None
    phase: str | None = None
    expires: float | None = None

    _FIELDS = (('id', 'id'), ('op', 'op'), ('host', 'host'),
               ('started', 'started'), ('owner', 'owner'),
               ('prev_state', 'prev'), ('url', 'url'),
               ('host_uuid', 'uuid'), ('target_uuid', 'target'),
               ('phase', 'phase'), ('expires', 'expires'))

    def lease_alive(self, now):
        """True while the owner's lease runs (it renews it while it works)."""
        return self.expires is not None and now < self.expires

    def may_have_changed_pool(self):
        """True once a call that changes the pool may have been sent.

        NOTE: an intent without a lease was written before phases were noted
        before every change: it may have changed the pool in any phase.
        """
        return self.expires is None or self.phase in CHANGING_PHASES

    def to_json(self):
        out = {}
        for attr, name in self._FIELDS:
            value = getattr(self, attr)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data):
        """Build from parsed JSON; raises TypeError/ValueError when malformed."""
        if not isinstance(data, dict):
            raise TypeError('intent is not an object')
        kwargs = {attr: data.get(name) for attr, name in cls._FIELDS}
        for required in ('id', 'op', 'host', 'owner', 'prev_state'):
            if not isinstance(kwargs[required], str) or not kwargs[required]:
                raise ValueError('intent lacks %s' % required)
        if kwargs['op'] not in (pool_states.OP_ADD, pool_states.OP_REMOVE):
            raise ValueError('intent has unknown op %r' % kwargs['op'])
        if kwargs['prev_state'] not in pool_states.ALL_STATES:
            raise ValueError('intent has unknown prev state')
        if not isinstance(kwargs['started'], (int, float)) or \
                isinstance(kwargs['started'], bool):
            kwargs['started'] = 0.0
        if not isinstance(kwargs['expires'], (int, float)) or \
                isinstance(kwargs['expires'], bool):
            kwargs['expires'] = None
        for optional in ('url', 'host_uuid', 'target_uuid', 'phase'):
            if not isinstance(kwargs[optional], str):
                kwargs[optional] = None
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class Counted:
    """The last failure of ours (``id`` of its intent).

    :param counted: True when it counted already (an undo must not count it
        again: stored as ``counted``); False when it did not (an undo that
        counts it names ``id``: stored as ``uncounted``, without ``op``, to
        leave room for the reason).
    """

    id: str
    op: str
    host: str
    counted: bool = True

    @property
    def key(self):
        """The name it is stored under in :data:`KEY`."""
        return 'counted' if self.counted else 'uncounted'

    def to_json(self):
        if not self.counted:
            return {'id': self.id, 'host': self.host}
        return {'id': self.id, 'op': self.op, 'host': self.host}


@dataclasses.dataclass(frozen=True)
class Bookkeeping:
    """Parsed content of :data:`KEY` (all fields optional)."""

    intent: Intent | None = None
    failures: int = 0
    master_address: str | None = None
    counted: Counted | None = None
    reason: str | None = None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def is_empty(self):
        return self == Bookkeeping()


def new_intent(op, host, prev_state, owner, started, url=None,
               host_uuid=None, expires=None):
    """A fresh :class:`Intent` with a unique id; ``url`` loses its userinfo."""
    return Intent(id=uuidlib.uuid4().hex[:12], op=op, host=host,
                  started=float(started), owner=owner[:OWNER_LIMIT],
                  prev_state=prev_state, url=safe_url(url),
                  host_uuid=host_uuid or None,
                  expires=None if expires is None else float(expires))


#: Longest owner text kept in an intent (it names a process, see Workflow).
OWNER_LIMIT = 64
def safe_url(url):
    """``url`` without any ``user:password@`` part (None stays None)."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if '@' not in parts.netloc:
        return url
    netloc = parts.netloc.rsplit('@', 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _dumps(data):
    return json.dumps(data, separators=(',', ':'), sort_keys=True)


def encode(bookkeeping):
    """Compact JSON for ``bookkeeping`` minus its intent, or None when empty.

    :returns: the value to store under :data:`KEY` (None deletes the key);
        at most :data:`VALUE_LIMIT` characters (``reason`` is shortened, :func:`.reasons.fit`).
    """
    out = {}
    if bookkeeping.failures:
        out['failures'] = bookkeeping.failures
    if bookkeeping.master_address:
        out['master'] = bookkeeping.master_address
    if bookkeeping.counted is not None:
        out[bookkeeping.counted.key] = bookkeeping.counted.to_json()
    if not out and not bookkeeping.reason:
        return None
    out['v'] = VERSION
    raw = _dumps(out)
    if bookkeeping.reason:
        out['reason'] = ''
        raw = reasons.fit(out, bookkeeping.reason, VALUE_LIMIT, _dumps)
    return raw


def encode_intent(intent):
    """Compact JSON for ``intent`` (None: no intent, the key is deleted).

    NOTE: fields reconcile can find again (``url`` through the host
    locator, ``started``, a removed host's uuid which its ``<host>`` key
    holds too) are dropped, then the owner's text shortened,
    before the value would exceed :data:`VALUE_LIMIT`.

    :raises ValueError: still too long (a host name far too long).
    """
    if intent is None:
        return None
    out = intent.to_json()
    for key in ('started', 'expires'):
        if key in out:
            out[key] = int(out[key]) if key == 'started' else int(out[key]) + 1
    raw = _dumps(out)
    for droppable in ('url', 'started', 'uuid', 'owner'):
        if len(raw) <= VALUE_LIMIT:
            break
        if droppable == 'uuid' and intent.op != pool_states.OP_REMOVE:
            continue  # NOTE: a removed host's uuid is also its <host> key
        if droppable == 'owner':
            out['owner'] = reasons.shorten(out['owner'], 24)
        else:
            out.pop(droppable, None)
        raw = _dumps(out)
    if len(raw) > VALUE_LIMIT:
        raise ValueError('intent record of host %s is longer than %d '
                         'characters' % (intent.host, VALUE_LIMIT))
    return raw


def _loads(raw, key):
    if raw is None or raw == '':
        return None
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        LOG.warning('Ignoring unreadable %s metadata value', key)
        return None
    if not isinstance(data, dict):
        LOG.warning('Ignoring %s metadata value: not a JSON object', key)
        return None
    return data


def parse(raw, raw_intent=None):
    """Parse stored values; garbage is treated as absent, with a warning.

    :param raw: the string stored under :data:`KEY` (or None).
    :param raw_intent: the string stored under :data:`INTENT_KEY` (or None).
    :returns: :class:`Bookkeeping` (never raises).
    """
    data = _loads(raw, KEY) or {}
    intent_data = _loads(raw_intent, INTENT_KEY)
    if intent_data is not None:
        data = dict(data, intent=intent_data)
    return Bookkeeping(intent=_field(data, 'intent', Intent.from_json),
                       failures=_field(data, 'failures', _count) or 0,
                       master_address=_field(data, 'master', _text),
                       counted=(_field(data, 'counted', _counted) or
                                _field(data, 'uncounted', _uncounted)),
                       reason=_field(data, 'reason', _text))


def read(metadata):
    """:class:`Bookkeeping` stored in ``metadata`` (tolerant, see :func:`parse`)."""
    return parse(metadata.get(KEY), metadata.get(INTENT_KEY))


def updates(bookkeeping):
    """The metadata update storing ``bookkeeping``: both keys (None deletes)."""
    return {KEY: encode(bookkeeping),
            INTENT_KEY: encode_intent(bookkeeping.intent)}


def recorded_hosts(metadata):
    """``{compute host: xenhost uuid}`` from the classic ``<host>`` keys.

    A key counts when it is not one of ours and its value looks like a uuid
    (other metadata, e.g. ``availability_zone``, is left alone).
    """
    return {key: value for key, value in metadata.items()
            if key not in RESERVED_KEYS and isinstance(value, str)
            and _UUID_RE.match(value)}


def host_for_uuid(metadata, host_uuid):
    """The compute host name recorded for ``host_uuid``, or None."""
    for host, value in recorded_hosts(metadata).items():
        if value == host_uuid:
            return host
    return None


def _field(data, name, convert):
    if name not in data or data[name] is None:
        return None
    try:
        return convert(data[name])
    except (TypeError, ValueError) as exc:
        LOG.warning('Ignoring malformed %r in %s metadata value: %s',
                    name, KEY, exc)
        return None


def _count(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError('not a count')
    return value


def _text(value):
    if not isinstance(value, str) or not value:
        raise ValueError('not a string')
    return value


def _counted(value):
    if not isinstance(value, dict):
        raise TypeError('not an object')
    return Counted(id=_text(value.get('id')), op=_text(value.get('op')),
                   host=_text(value.get('host')))


def _uncounted(value):
    if not isinstance(value, dict):
        raise TypeError('not an object')
    return Counted(id=_text(value.get('id')), op='', host=_text(value.get('host')),
                   counted=False)
