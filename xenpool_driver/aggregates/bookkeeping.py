"""Our own bookkeeping inside the aggregate's metadata: one namespaced key.

The aggregate's metadata keeps the classic layout (``operational_state``,
``hypervisor_pool``, ``master_compute``, ``<compute host>`` = xenhost uuid);
everything else the workflow needs lives under :data:`KEY` as compact JSON::

    {"v": 1,
     "intent": {"id": "3f2a...", "op": "add", "host": "compute-2",
                "started": 1767225600.0, "owner": "compute-1",
                "prev": "active",               # state to restore on failure
                "url": "https://192.0.2.12",    # host's xapi URL (never userinfo)
                "uuid": "<xenhost uuid>",       # the host added/removed, once known
                "target": "<xenhost uuid>",     # new master chosen (master removal)
                "phase": "designate"},          # step reached, for reconcile
     "failures": 1,                             # consecutive failures
     "master": "192.0.2.11",                    # master's management address
     "counted": {"id": "3f2a...", "op": "add", "host": "compute-2"}}

Absent fields are omitted; an empty record deletes the key. ``counted`` names
the last failure already counted, so that ``undo_aggregate_operation`` does
not count it twice.

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

LOG = logging.getLogger(__name__)

#: The one metadata key we own for bookkeeping.
KEY = 'xenpool:state'
#: Classic key: compute host name of the pool master.
MASTER_COMPUTE = 'master_compute'
VERSION = 1

#: Keys that are never a ``<compute host>`` key.
RESERVED_KEYS = frozenset({pool_states.KEY, pool_states.POOL_FLAG,
                           MASTER_COMPUTE, KEY, 'availability_zone'})

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

    _FIELDS = (('id', 'id'), ('op', 'op'), ('host', 'host'),
               ('started', 'started'), ('owner', 'owner'),
               ('prev_state', 'prev'), ('url', 'url'),
               ('host_uuid', 'uuid'), ('target_uuid', 'target'),
               ('phase', 'phase'))

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
        if not isinstance(kwargs['started'], (int, float)):
            kwargs['started'] = 0.0
        for optional in ('url', 'host_uuid', 'target_uuid', 'phase'):
            if not isinstance(kwargs[optional], str):
                kwargs[optional] = None
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class Counted:
    """The last failure already counted (``id`` of its intent)."""

    id: str
    op: str
    host: str


@dataclasses.dataclass(frozen=True)
class Bookkeeping:
    """Parsed content of :data:`KEY` (all fields optional)."""

    intent: Intent | None = None
    failures: int = 0
    master_address: str | None = None
    counted: Counted | None = None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def is_empty(self):
        return self == Bookkeeping()


def new_intent(op, host, prev_state, owner, started, url=None,
               host_uuid=None):
    """A fresh :class:`Intent` with a unique id; ``url`` loses its userinfo."""
    return Intent(id=uuidlib.uuid4().hex[:12], op=op, host=host,
                  started=float(started), owner=owner, prev_state=prev_state,
                  url=safe_url(url), host_uuid=host_uuid or None)


def safe_url(url):
    """``url`` without any ``user:password@`` part (None stays None)."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if '@' not in parts.netloc:
        return url
    netloc = parts.netloc.rsplit('@', 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def encode(bookkeeping):
    """Compact JSON for ``bookkeeping``, or None when it is empty.

    :returns: the value to store under :data:`KEY` (None deletes the key).
    """
    if bookkeeping.is_empty():
        return None
    out = {'v': VERSION}
    if bookkeeping.intent is not None:
        out['intent'] = bookkeeping.intent.to_json()
    if bookkeeping.failures:
        out['failures'] = bookkeeping.failures
    if bookkeeping.master_address:
        out['master'] = bookkeeping.master_address
    if bookkeeping.counted is not None:
        out['counted'] = dataclasses.asdict(bookkeeping.counted)
    return json.dumps(out, separators=(',', ':'), sort_keys=True)


def parse(raw):
    """Parse a stored value; garbage is treated as absent, with a warning.

    :param raw: the stored string (or None).
    :returns: :class:`Bookkeeping` (never raises).
    """
    if raw is None or raw == '':
        return Bookkeeping()
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        LOG.warning('Ignoring unreadable %s metadata value', KEY)
        return Bookkeeping()
    if not isinstance(data, dict):
        LOG.warning('Ignoring %s metadata value: not a JSON object', KEY)
        return Bookkeeping()
    return Bookkeeping(intent=_field(data, 'intent', Intent.from_json),
                       failures=_field(data, 'failures', _count) or 0,
                       master_address=_field(data, 'master', _text),
                       counted=_field(data, 'counted', _counted))


def read(metadata):
    """:class:`Bookkeeping` stored in ``metadata`` (tolerant, see :func:`parse`)."""
    return parse(metadata.get(KEY))


def updates(bookkeeping):
    """The metadata update storing ``bookkeeping``: ``{KEY: json-or-None}``."""
    return {KEY: encode(bookkeeping)}


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
