"""In-memory aggregates for unit tests (the aggregate contract)."""

import copy


class FakeAggregate(object):
    """Aggregate without compare-and-set: ``update_metadata`` only.

    :ivar history: every metadata dict stored, in order (copies).
    """

    def __init__(self, name='pool-a', hosts=(), metadata=None, id=1):
        self.id = id
        self.name = name
        self.hosts = list(hosts)
        self.metadata = dict(metadata or {})
        self.history = []
        self.deleted_hosts = []

    def update_metadata(self, updates):
        for key, value in updates.items():
            if value is None:
                self.metadata.pop(key, None)
            else:
                self.metadata[key] = value
        self.history.append(copy.deepcopy(self.metadata))

    def delete_host(self, host):
        """The classic undo op: drop ``host`` from the host list."""
        self.deleted_hosts.append(host)
        if host in self.hosts:
            self.hosts.remove(host)


class FakeAtomicAggregate(FakeAggregate):
    """Aggregate with ``compare_and_set_metadata``.

    :ivar before_cas: optional callable run at the start of each CAS (lets a
        test make a competing request win the race).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_cas = None
        self.cas_calls = []

    def compare_and_set_metadata(self, expected, updates):
        if self.before_cas is not None:
            hook, self.before_cas = self.before_cas, None
            hook()
        self.cas_calls.append((dict(expected), dict(updates)))
        for key, value in expected.items():
            if self.metadata.get(key) != value:
                return False
        self.update_metadata(updates)
        return True
