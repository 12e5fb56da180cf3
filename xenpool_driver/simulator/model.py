"""The simulated xapi database: pure data, one :class:`Database` per pool.

Records are plain dicts of Python values (str, bool, int, float, datetime,
lists and dicts); the wire codecs in :mod:`.rpc` turn them into xapi's
encoding. Reverse references (``host.resident_VMs``, ``SR.PBDs`` ...) are
computed when a record is read, so they can never go stale.
"""

import collections
import copy
import datetime
import threading
import uuid as uuidlib

from xenpool_driver.simulator import datamodel, xapi_types
from xenpool_driver.simulator.errors import XapiError

NULL = xapi_types.NULL
EPOCH = xapi_types.EPOCH

#: Wire class names, as xapi spells them in method names: the classes of
#: :mod:`.datamodel`, in the order ``event.from`` lists a first dump.
CLASSES = ('pool', 'host', 'host_metrics', 'VM', 'VM_metrics', 'VM_guest_metrics',
           'SR', 'VDI', 'PBD', 'VBD', 'PIF', 'network', 'VIF', 'task', 'session')
assert set(CLASSES) == set(datamodel.FIELDS)
#: Lower-case name (as in events and event.from filters) -> wire class name.
BY_LOWER = {c.lower(): c for c in CLASSES}
#: Classes whose changes make no events (``gen_events:false`` in the datamodel).
NO_EVENTS = frozenset({'session'})


class I4(int):
    """An int xapi writes as ``<i4>`` (only event.from ``valid_ref_counts``)."""


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def new_uuid():
    return str(uuidlib.uuid4())


def new_ref():
    return 'OpaqueRef:' + new_uuid()


#: Computed reverse references (``datamodel.ml`` ``all_relations``): class ->
#: {Set field: (other class, its Ref field)}. ``session.tasks`` is left out:
#: its other side, ``task.session``, is internal and not modelled.
REVERSE = {}
for (_cls, _ref_field), (_other, _set_field) in datamodel.RELATIONS:
    if (_cls, _ref_field) != ('task', 'session'):
        REVERSE.setdefault(_other, {})[_set_field] = (_cls, _ref_field)

#: What xapi's own create code puts in a field where the datamodel has no
#: default or another one, for every record the simulator creates.
CREATED = {
    # xapi_host.ml create: ~aPI_version_vendor:Datamodel_common.api_version_vendor
    'host': dict(API_version_vendor='XenSource'),
    # xapi_vm.ml create: ~domid:(-1L) ~domarch:""
    'VM': dict(domid=-1),
    # xapi_pif.ml introduce_internal of a physical PIF: ~vLAN:(-1L)
    'PIF': dict(VLAN=-1),
    # taskHelper.ml make: ~_type:"<none/>"
    'task': dict(type='<none/>'),
}

#: Every stored field of every class with its default: the datamodel's
#: public fields (:mod:`.datamodel`) less the computed reverse references.
DEFAULTS = {}
for _cls in CLASSES:
    _rec = datamodel.defaults(_cls)
    for _field in REVERSE.get(_cls, ()):
        del _rec[_field]
    _rec.update(CREATED.get(_cls, {}))
    DEFAULTS[_cls] = _rec


def fields_of(cls):
    """Every field name of ``cls`` (stored and computed)."""
    return set(DEFAULTS[cls]) | set(REVERSE.get(cls, ()))


class Database(object):
    """One pool's database, with an event log for ``event.from``.

    Thread-safe: every access holds :attr:`lock`; :attr:`changed` is
    notified on each new event.
    """

    MAX_EVENTS = 50000

    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.tables = {c: {} for c in CLASSES}
        self.generation = 0
        self.events = collections.deque(maxlen=self.MAX_EVENTS)

    # -- basic access -------------------------------------------------------
    def create(self, cls, ref=None, **fields):
        """Add a record (defaults filled in); returns its ref."""
        rec = copy.deepcopy(DEFAULTS[cls])
        unknown = set(fields) - set(rec)
        if unknown:
            raise KeyError('%s has no field(s) %s' % (cls, sorted(unknown)))
        rec.update(fields)
        if not rec.get('uuid'):
            rec['uuid'] = new_uuid()
        ref = ref or new_ref()
        with self.lock:
            self.tables[cls][ref] = rec
            self._emit(cls, 'add', ref)
        return ref

    def get(self, cls, ref):
        """The stored record (live dict; hold :attr:`lock` to mutate)."""
        try:
            return self.tables[cls][ref]
        except KeyError:
            raise XapiError('HANDLE_INVALID', cls, ref)

    def exists(self, cls, ref):
        return ref in self.tables[cls]

    def set(self, cls, ref, **fields):
        with self.lock:
            rec = self.get(cls, ref)
            rec.update(fields)
            self._emit(cls, 'mod', ref)

    def destroy(self, cls, ref):
        with self.lock:
            self.get(cls, ref)
            self._emit(cls, 'del', ref)
            del self.tables[cls][ref]

    def record(self, cls, ref):
        """A full copy of the record, computed fields included."""
        with self.lock:
            rec = copy.deepcopy(self.get(cls, ref))
            for field, (other, back) in REVERSE.get(cls, {}).items():
                rec[field] = [r for r, o in self.tables[other].items() if o[back] == ref]
            return rec

    def refs(self, cls):
        with self.lock:
            return list(self.tables[cls])

    def records(self, cls):
        with self.lock:
            return {ref: self.record(cls, ref) for ref in self.tables[cls]}

    def find(self, cls, **match):
        """Refs of ``cls`` records whose fields equal every ``match`` item."""
        with self.lock:
            return [ref for ref, rec in self.tables[cls].items()
                    if all(rec.get(k) == v for k, v in match.items())]

    def by_uuid(self, cls, uuid):
        found = self.find(cls, uuid=uuid)
        if not found:
            raise XapiError('UUID_INVALID', cls, uuid)
        return found[0]

    def pool_ref(self):
        with self.lock:
            return next(iter(self.tables['pool']), NULL)

    def clear_transient(self):
        """Sessions and tasks are PersistNothing: they die with xapi."""
        with self.lock:
            for cls in ('session', 'task'):
                for ref in list(self.tables[cls]):
                    self.destroy(cls, ref)

    # -- events -------------------------------------------------------------
    def _emit(self, cls, op, ref):
        if cls in NO_EVENTS:
            return
        self.generation += 1
        snap = None if op == 'del' else self.record(cls, ref)
        self.events.append((self.generation, cls.lower(), op, ref, snap))
        self.changed.notify_all()

    def token(self, generation=None):
        gen = self.generation if generation is None else max(0, generation)
        return '%020d,%020d' % (gen, 0)

    def inject(self, cls, ref):
        """``event.inject``: a ``mod`` of ``cls``/``ref``; returns the token before it.

        As ``ocaml/xapi/xapi_event.ml``: the class must be the table the ref
        is in (exact name), else HANDLE_INVALID [class; ref]; the token is the
        generation before the touch minus one, so an ``event.from`` with it
        returns the injected change at once.
        """
        with self.lock:
            if cls not in self.tables or ref not in self.tables[cls]:
                raise XapiError('HANDLE_INVALID', cls, ref)
            before = self.generation
            self._emit(cls, 'mod', ref)
            return self.token(before - 1)

    @staticmethod
    def parse_token(token):
        if token == '':
            return None
        try:
            gen, _msg = token.split(',')
            return int(gen)
        except (ValueError, AttributeError):
            raise XapiError('EVENT_FROM_TOKEN_PARSE_FAILURE', token)

    @staticmethod
    def _matcher(classes):
        subs = []
        for item in classes:
            cls, _, ref = str(item).partition('/')
            cls = cls.lower()
            if cls != '*' and cls not in BY_LOWER:
                # NOTE: xapi ignores unknown classes in a subscription.
                continue
            subs.append((cls, ref))
        def match(cls, ref):
            return any((c == '*' or c == cls) and (not r or r == ref) for c, r in subs)
        return match, subs

    def event_from(self, classes, token, timeout, clock):
        """``event.from``: events after ``token`` matching ``classes``.

        Blocks until at least one event or ``timeout`` seconds of ``clock``
        (the lab's :mod:`.clock`).
        """
        gen = self.parse_token(token)
        match, subs = self._matcher(classes)
        deadline = clock.monotonic() + max(0.0, float(timeout))
        with self.lock:
            if gen is None:
                events = []
                for cls in CLASSES:
                    if cls in NO_EVENTS:
                        continue
                    for ref in self.tables[cls]:
                        if match(cls.lower(), ref):
                            events.append(self._event(self.generation, cls.lower(),
                                                      'add', ref, self.record(cls, ref)))
                return self._result(events, subs)
            while True:
                events = self._since(gen, match)
                left = deadline - clock.monotonic()
                if events or left <= 0:
                    return self._result(events, subs)
                clock.wait(self.changed, left)

    def _since(self, gen, match):
        latest = collections.OrderedDict()
        for egen, cls, op, ref, snap in self.events:
            if egen <= gen or not match(cls, ref):
                continue
            key = (cls, ref)
            if key in latest:
                first_op = latest.pop(key)[2]
                if first_op == 'add' and op == 'del':
                    continue        # NOTE: xapi_event.ml: born and gone unseen
                if first_op == 'add' and op == 'mod':
                    op = 'add'
            latest[key] = (egen, cls, op, ref, snap)
        return [self._event(*e) for e in latest.values()]

    @staticmethod
    def _event(gen, cls, op, ref, snap):
        ev = {'id': str(gen), 'timestamp': '0.0', 'class': cls, 'operation': op, 'ref': ref}
        if op != 'del':
            ev['snapshot'] = snap
        return ev

    def _result(self, events, subs):
        # NOTE: xapi_event.ml counts every table, subscribed or not.
        counts = {cls.lower(): I4(len(self.tables[cls])) for cls in CLASSES}
        return {'events': events, 'valid_ref_counts': counts, 'token': self.token()}
