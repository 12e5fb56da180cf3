"""A declarative fault plan per simulated host.

Rules are matched against the method name without its ``Async.`` prefix
(``pool.join`` also matches ``Async.pool.join``; a rule for
``Async.pool.join`` matches only the async form); ``*`` matches any method.
Each rule fires ``times`` times (None: for ever) and is then spent.

Plan as data (also accepted by :meth:`FaultPlan.load`)::

    [{"kind": "fail", "method": "pool.join", "code": "INTERNAL_ERROR",
      "params": ["boom"], "times": 1},
     {"kind": "drop", "method": "pool.eject", "when": "after"},
     {"kind": "latency", "method": "*", "seconds": 2.0, "times": null},
     {"kind": "hang", "method": "pool.join", "after_effect": true}]
"""

import dataclasses
import threading

KINDS = ('fail', 'drop', 'latency', 'hang')


@dataclasses.dataclass
class Rule:
    kind: str
    method: str = '*'
    times: int | None = 1
    code: str = 'INTERNAL_ERROR'
    params: list = dataclasses.field(default_factory=list)
    when: str = 'before'          # drop: before | after the call takes effect
    seconds: float = 0.0          # latency, in xapi seconds (scaled by the lab)
    after_effect: bool = False    # hang: the call's effect happens, the task never ends
    fired: int = 0
    released: threading.Event = dataclasses.field(default_factory=threading.Event,
                                                   repr=False, compare=False)

    def release(self):
        """A hung task (``hang``) goes on: its call runs, or its task ends."""
        self.released.set()

    def matches(self, method, is_async):
        if self.method == '*':
            return True
        if self.method.startswith('Async.'):
            return is_async and self.method[6:] == method
        return self.method == method


class FaultPlan(object):
    """The rules armed on one host; thread-safe."""

    def __init__(self):
        self._rules = []
        self._lock = threading.Lock()

    def add(self, kind, method='*', **kw):
        if kind not in KINDS:
            raise ValueError('unknown fault kind %r' % kind)
        rule = Rule(kind=kind, method=method, **kw)
        if kind == 'drop' and rule.when not in ('before', 'after'):
            raise ValueError("drop 'when' must be 'before' or 'after'")
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(self, method, code, params=(), times=1):
        """Fail the next ``times`` calls of ``method`` with ``code``/``params``."""
        return self.add('fail', method, code=code, params=[str(p) for p in params],
                        times=times)

    def drop(self, method, when='before', times=1):
        """Close the connection without an answer, before or after the effect."""
        return self.add('drop', method, when=when, times=times)

    def latency(self, seconds, method='*', times=None):
        """Delay matching calls by ``seconds`` (xapi seconds, scaled)."""
        return self.add('latency', method, seconds=seconds, times=times)

    def hang_task(self, method, after_effect=False, times=1):
        """The task of an ``Async.`` call of ``method`` stays pending until released.

        ``rule.release()`` lets it go on; ``task.cancel`` ends it only where
        the call is cancellable (never join, eject or designate: xapi).
        """
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

    def take(self, kind, method, is_async, when=None):
        """The first live rule of ``kind`` matching the call, consumed; or None."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if rule.kind != kind or not rule.matches(method, is_async):
                    continue
                if when is not None and rule.when != when:
                    continue
                rule.fired += 1
                if rule.times is not None and rule.fired >= rule.times:
                    self._rules.remove(rule)
                return rule
        return None
