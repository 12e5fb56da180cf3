"""The claim value: :class:`Claim`, stored as compact JSON under :data:`KEY`.

XAPI knowledge only (no aggregates, no metadata): the aggregate's identity
is an opaque string. What a claim means and how it is made:
:mod:`.claims` and ``doc/design-claims.md``. No XAPI calls here.

Value (compact JSON, sorted keys)::

    {"aggregate": <identity>, "expires": <epoch seconds or null>,
     "intent": <intent id>, "kind": "pool" | "join", "owner": <owner>}

NOTE: xapi's map add is *idempotent* for an identical (key, value) pair when
``db_idempotent_map`` is set, and always for DB calls made from a slave
(``Db_rpc_common_v2`` turns AddMapLegacy into AddMap): the same value may be
accepted twice. Values are therefore unique per operation (aggregate, intent
id, owner) and encoded deterministically, so "added twice" only ever means
"the same claimant twice".
"""

import dataclasses
import json
import time

#: The claim key in ``pool.other_config``.
KEY = 'xenpool.aggregate'

POOL = 'pool'
JOIN = 'join'
KINDS = (POOL, JOIN)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim, as stored under :data:`KEY`.

    :param aggregate: the aggregate's identity (opaque: e.g. its uuid).
    :param intent: id of the operation that made the claim.
    :param owner: who runs that operation (shown in refusals).
    :param kind: ``"pool"`` (the aggregate owns the pool) or ``"join"``.
    :param expires: epoch seconds after which a ``join`` claim may be taken
        over; None (``pool`` claims): never.
    """

    aggregate: str
    intent: str
    owner: str
    kind: str
    expires: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError('claim kind must be one of %s, not %r' % (KINDS, self.kind))
        for name in ('aggregate', 'intent', 'owner'):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError('claim %s must be a non-empty string' % name)
        if self.expires is not None and (isinstance(self.expires, bool) or
                                         not isinstance(self.expires, (int, float))):
            raise ValueError('claim expires must be epoch seconds or None')

    @classmethod
    def pool(cls, aggregate, intent, owner):
        """The claim of a first host: the aggregate owns this pool (no expiry)."""
        return cls(aggregate, intent, owner, POOL, None)

    @classmethod
    def join(cls, aggregate, intent, owner, now, lease):
        """The claim of a joiner, valid ``lease`` seconds from ``now``."""
        return cls(aggregate, intent, owner, JOIN, float(now) + float(lease))

    def encode(self):
        """Compact JSON, sorted keys: the same claim always gives the same text."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(',', ':'))

    @classmethod
    def decode(cls, text):
        """Parse :meth:`encode`'s text.

        :raises ValueError: not a claim (not JSON, a missing or bad field).
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise ValueError('not JSON: %s' % error) from None
        if not isinstance(data, dict):
            raise ValueError('not a JSON object')
        try:
            return cls(data['aggregate'], data['intent'], data['owner'], data['kind'],
                       data.get('expires'))
        except KeyError as missing:
            raise ValueError('missing field %s' % missing) from None

    def expired(self, now):
        """True when ``now`` (epoch seconds) is past :attr:`expires`."""
        return self.expires is not None and now > self.expires

    def same_operation(self, other):
        """Same aggregate, intent and kind (the owner may differ after a takeover)."""
        return (other is not None and (self.aggregate, self.intent, self.kind) ==
                (other.aggregate, other.intent, other.kind))

    def describe(self):
        """One line for messages: who holds it and until when."""
        until = 'no expiry' if self.expires is None else 'expires %s' % _stamp(self.expires)
        return ('%s claim of aggregate %s (intent %s, owner %s, %s)'
                % (self.kind, self.aggregate, self.intent, self.owner, until))


def _stamp(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
