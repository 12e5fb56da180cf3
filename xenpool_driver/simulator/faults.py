"""A declarative fault plan per simulated host: fault kinds as small classes,
each acting at one stage of a call.

Stages, in the order a call meets them (``SimHost._call`` / ``_run_task``):

``wire``
    the request has arrived, before xapi looks at it (no session check yet):
    :class:`Latency` delays it, :class:`Drop` ``when='before'`` closes the
    connection (the call never ran).
``before``
    just before the call's effect: :class:`Fail` raises instead. For an
    ``Async.`` call this stage is inside its task, so the task fails.
``task``
    around the effect of an ``Async.`` call, in its task: :class:`Hang`
    holds the task ``pending`` before the effect, or after it
    (``after_effect``), until the rule is released.
``after``
    the call took effect (or failed), its answer is on its way:
    :class:`Drop` ``when='after'`` closes the connection instead (for an
    ``Async.`` call the answer is the task ref).

Rules are matched against the method name without its ``Async.`` prefix
(``pool.join`` also matches ``Async.pool.join``; a rule for
``Async.pool.join`` matches only the async form); ``*`` matches any method.
Each rule fires ``times`` times (None: for ever) and is then spent. At each
stage at most one rule of each kind fires, the first armed.

Plan as data (also accepted by :meth:`FaultPlan.load`)::

    [{"kind": "fail", "method": "pool.join", "code": "INTERNAL_ERROR",
      "params": ["boom"], "times": 1},
     {"kind": "drop", "method": "pool.eject", "when": "after"},
     {"kind": "latency", "method": "*", "seconds": 2.0, "times": null},
     {"kind": "hang", "method": "pool.join", "after_effect": true}]
"""

import collections
import threading

from xenpool_driver.simulator.errors import DropConnection, XapiError

WIRE, BEFORE, TASK, AFTER = 'wire', 'before', 'task', 'after'
STAGES = (WIRE, BEFORE, TASK, AFTER)

#: Where a fault acts: the host (its lab: clock, scale, closing), the
#: method (without ``Async.``), whether the call is async, and the running
#: call (``methods.Call``; None before the session is checked).
Site = collections.namedtuple('Site', 'host method is_async call')


class Rule(object):
    """One armed fault: which calls it matches, how often, and its effect.

    A subclass sets :attr:`kind` (its name in a plan), :attr:`fields` (its
    own plan fields and their defaults) and acts through :meth:`act` (a
    point stage) or :meth:`around` (the ``task`` stage).
    """

    kind = None
    #: {field: default} of this kind's own plan fields.
    fields = {}

    def __init__(self, method='*', times=1, **kw):
        unknown = set(kw) - set(self.fields)
        if unknown:
            raise ValueError('fault %r has no field %s' % (self.kind, ', '.join(sorted(unknown))))
        self.method = method
        self.times = times
        for name, default in self.fields.items():
            setattr(self, name, kw.get(name, default))
        self.fired = 0
        self.released = threading.Event()
        self.validate()

    def validate(self):
        """Raise ValueError for fields this kind cannot act on."""

    def stage(self, is_async):
        """The stage at which this rule acts on a call (sync or async)."""
        raise NotImplementedError

    def matches(self, method, is_async):
        if self.method == '*':
            return True
        if self.method.startswith('Async.'):
            return is_async and self.method[6:] == method
        return self.method == method

    def release(self):
        """A held task goes on (see :class:`Hang`); other kinds ignore it."""
        self.released.set()

    def act(self, site):
        """The effect at a point stage (``wire``, ``before``, ``after``)."""

    def around(self, site, effect):
        """The effect at the ``task`` stage: run ``effect()`` (or not)."""
        return effect()

    def __repr__(self):
        extra = ''.join(', %s=%r' % (n, getattr(self, n)) for n in self.fields)
        return '%s(method=%r, times=%r%s, fired=%d)' % (
            type(self).__name__, self.method, self.times, extra, self.fired)


class Latency(Rule):
    """The request waits ``seconds`` (xapi seconds, scaled by the lab) on the wire."""

    kind = 'latency'
    fields = {'seconds': 0.0}

    def stage(self, is_async):
        return WIRE

    def act(self, site):
        lab = site.host.lab
        lab.clock.wait(lab.closing, lab.scaled(self.seconds))


class Drop(Rule):
    """The connection is closed without an answer: before the call runs
    (``when='before'``, on the wire) or after it took effect (``'after'``:
    the value or error is lost)."""

    kind = 'drop'
    fields = {'when': 'before'}

    def validate(self):
        if self.when not in ('before', 'after'):
            raise ValueError("drop 'when' must be 'before' or 'after'")

    def stage(self, is_async):
        return WIRE if self.when == 'before' else AFTER

    def act(self, site):
        raise DropConnection()


class Fail(Rule):
    """The call fails with ``[code] + params`` instead of taking effect
    (an ``Async.`` call's task fails)."""

    kind = 'fail'
    fields = {'code': 'INTERNAL_ERROR', 'params': ()}

    def validate(self):
        self.params = [str(p) for p in self.params]

    def stage(self, is_async):
        return BEFORE

    def act(self, site):
        raise XapiError(self.code, *self.params)


class Hang(Rule):
    """The task of an ``Async.`` call stays ``pending`` until :meth:`release`
    (or the lab closes), before its effect or, with ``after_effect``, after
    it. A sync call is not affected.

    NOTE: ``task.cancel`` ends a held task only when its call is cancellable
    at that point (``taskHelper.ml``); join, eject and designate are not
    (``xapi_pool.ml``): the task goes on once released.
    """

    kind = 'hang'
    fields = {'after_effect': False}

    def stage(self, is_async):
        return TASK if is_async else None

    def around(self, site, effect):
        if not self.after_effect:
            self._hold(site)
        value = effect()
        if self.after_effect:
            self._hold(site)
        return value

    def _hold(self, site):
        lab = site.host.lab
        while not lab.clock.wait(self.released, 0.05):
            if lab.closing.is_set():
                return
            site.call.check_cancelled()


#: Every kind, in the order rules of one stage act (a latency before a drop
#: on the wire; a hang around a failure in a task).
KIND_CLASSES = collections.OrderedDict(
    (cls.kind, cls) for cls in (Latency, Drop, Hang, Fail))
KINDS = tuple(KIND_CLASSES)


class FaultPlan(object):
    """The rules armed on one host; thread-safe."""

    def __init__(self):
        self._rules = []
        self._lock = threading.Lock()

    def add(self, kind, method='*', **kw):
        """Arm a rule of ``kind``; returns it (``.fired``, ``.kind``, ``.release()``)."""
        cls = KIND_CLASSES.get(kind)
        if cls is None:
            raise ValueError('unknown fault kind %r' % kind)
        rule = cls(method, **kw)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(self, method, code, params=(), times=1):
        """Fail the next ``times`` calls of ``method`` with ``code``/``params``."""
        return self.add('fail', method, code=code, params=params, times=times)

    def drop(self, method, when='before', times=1):
        """Close the connection without an answer, before or after the effect."""
        return self.add('drop', method, when=when, times=times)

    def latency(self, seconds, method='*', times=None):
        """Delay matching calls by ``seconds`` (xapi seconds, scaled)."""
        return self.add('latency', method, seconds=seconds, times=times)

    def hang_task(self, method, after_effect=False, times=1):
        """The task of an ``Async.`` call of ``method`` stays pending until released."""
        return self.add('hang', method, after_effect=after_effect, times=times)

    def load(self, rules):
        """Arm rules given as data (see the module docstring)."""
        for item in rules:
            item = dict(item)
            self.add(item.pop('kind'), item.pop('method', '*'), **item)

    def clear(self):
        with self._lock:
            self._rules = []

    @property
    def rules(self):
        with self._lock:
            return list(self._rules)

    def take(self, kind, method, is_async, stage=None, when=None):
        """The first live rule of ``kind`` matching the call (at ``stage``,
        or with drop's ``when``), consumed; or None."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if rule.kind != kind or not rule.matches(method, is_async):
                    continue
                if stage is not None and rule.stage(is_async) != stage:
                    continue
                if when is not None and getattr(rule, 'when', None) != when:
                    continue
                rule.fired += 1
                if rule.times is not None and rule.fired >= rule.times:
                    self._rules.remove(rule)
                return rule
        return None

    def _firing(self, stage, site):
        """The rules that fire at ``stage`` for this call, one per kind, in order."""
        if not self._rules:         # NOTE: the common case, without the lock
            return []
        found = []
        for kind in KINDS:
            rule = self.take(kind, site.method, site.is_async, stage=stage)
            if rule is not None:
                found.append(rule)
        return found

    def act(self, stage, site):
        """Apply the rules of a point stage (``wire``, ``before``, ``after``),
        kind by kind: each is taken (``fired``) when it acts, so a drop
        after a latency fires once the latency is over."""
        if not self._rules:         # NOTE: the common case, without the lock
            return
        for kind in KINDS:
            rule = self.take(kind, site.method, site.is_async, stage=stage)
            if rule is not None:
                rule.act(site)

    def around(self, site, effect):
        """Run ``effect()`` inside the rules of the ``task`` stage."""
        for rule in reversed(self._firing(TASK, site)):
            effect = _wrapped(rule, site, effect)
        return effect()


def _wrapped(rule, site, effect):
    return lambda: rule.around(site, effect)
