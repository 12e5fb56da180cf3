"""In-memory aggregates for unit tests (the aggregate contract)."""

import copy
from unittest import mock

import pytest

from tests import passwords
from xenpool_driver import conf as xenpool_conf
from xenpool_driver.xapi import claims
from xenpool_driver.xapi import connector as xconnector
from xenpool_driver.xapi import eject_losses
from xenpool_driver.xapi import pool
from xenpool_driver.xapi import preflight
from xenpool_driver.xapi import session as xsession
from xenpool_driver.xapi import timeouts
from xenpool_driver.xapi import urls as xurls


class FakeAggregate:
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


# -- XAPI side: autospec'd pool operations and sessions ----------------------

OWN_URL = 'https://192.0.2.1'
POOL_OPS = ('snapshot', 'this_host', 'init_pool', 'clear_pool', 'join',
            'wait_until_live', 'eject', 'designate_new_master', 'destroy_host',
            'ejectable', 'refuse_guests', 'destroyable')
#: xapi operations patched as ``module.<name>``, logged under ``<name>``.
OTHER_OPS = ((preflight, 'preflight'), (eject_losses, 'read_losses'))
#: What an unclaimed host's claim would write (``claims.plan``).
CLAIM_WRITE = 'pool.add_to_other_config(%s)' % claims.KEY

UUID = {
    'c1': '11111111-1111-1111-1111-111111111111',
    'c2': '22222222-2222-2222-2222-222222222222',
    'c3': '33333333-3333-3333-3333-333333333333',
}
ADDR = {'c1': '192.0.2.1', 'c2': '192.0.2.2', 'c3': '192.0.2.3'}


#: Not the defaults: a call given the defaults instead of the options fails.
TIMEOUTS = timeouts.PoolTimeouts(task=123.0, live=456.0)


def make_conf(**overrides):
    """A private ConfigOpts (the one builder) with [xenserver] test values."""
    values = dict(connection_url=OWN_URL, connection_username='root',
                  connection_password=passwords.PASSWORD,
                  task_timeout=TIMEOUTS.task, live_timeout=TIMEOUTS.live)
    values.update(overrides)
    return xenpool_conf.build(xenserver=values)


def host_info(name, live=True, enabled=True):
    return pool.HostInfo(ref='OpaqueRef:%s' % name, uuid=UUID[name],
                         name_label=name, address=ADDR[name],
                         enabled=enabled, live=live)


def host_record(uuid, address, enabled=True, live=True):
    """A :class:`~xenpool_driver.xapi.host.HostInfo` of any uuid and address."""
    return pool.HostInfo(ref='OpaqueRef:' + uuid, uuid=uuid, name_label=address,
                         address=address, enabled=enabled, live=live)


def members_of(*hosts, master, name='agg'):
    """A :class:`~xenpool_driver.xapi.pool.Membership` of ``host_record`` s."""
    return pool.Membership(pool_ref='OpaqueRef:pool', pool_uuid='p-uuid',
                           name_label=name, master_uuid=master,
                           hosts=tuple(hosts))


def membership(*names, master=None, name_label='pool-a', **health):
    hosts = tuple(host_info(n, **health.get(n, {})) for n in names)
    return pool.Membership(pool_ref='OpaqueRef:pool', pool_uuid='pool-uuid',
                           name_label=name_label,
                           master_uuid=UUID[master or names[0]], hosts=hosts)


class Xapi:
    """Every pool operation patched with autospec, plus sessions per URL.

    :ivar ops: name -> autospec'd mock of ``xenpool_driver.xapi.pool.<name>``
        (and of ``xenpool_driver.xapi.preflight.preflight``).
    :ivar calls: ordered ``(op name, url of first session arg)`` log.
    :ivar sessions: url -> autospec'd XapiSession.
    """

    def __init__(self, mocker):
        self.sessions = {}
        self.ops = {}
        self.manager = mock.Mock()
        for module, name in tuple((pool, n) for n in POOL_OPS) + OTHER_OPS:
            op = mocker.patch.object(module, name, autospec=True)
            self.ops[name] = op
            self.manager.attach_mock(op, name)
        # NOTE: host claims are granted (tests/unit/xapi/test_claims.py and
        # the functional tests prove them); apart from self.calls.
        self.claims = {}
        for name in ('claim_first_host', 'claim_joiner', 'release',
                     'release_pool', 'plan', 'read'):
            self.claims[name] = mocker.patch.object(claims, name,
                                                    autospec=True)
        #: the pool record a claim's read sees (``claims.plan``/``read``).
        self.claimed_pool = {'name_label': '', 'other_config': {}}
        self.claims['read'].side_effect = lambda session: claims.PoolView(
            'OpaqueRef:pool', None, 1, self.claimed_pool, {})
        self.claims['plan'].side_effect = \
            lambda session, claim, now=None, first_host=False, members=(): \
            claims.ClaimPlan([CLAIM_WRITE], self.claims['read'](session))
        self.claims['claim_first_host'].side_effect = \
            lambda session, claim, now=None, members=(): claim
        self.claims['claim_joiner'].side_effect = \
            lambda session, claim, now=None, seen=None: claim
        self.connector = mocker.create_autospec(xconnector.Connector,
                                                instance=True)
        self.connector.get.side_effect = self.session

    @property
    def calls(self):
        """Ordered ``(op name, url of the session it ran on)``."""
        return [(name, getattr(args[0], 'url', None))
                for name, args, _ in self.manager.mock_calls
                if args and '.' not in name and '(' not in name]

    def on(self, name, func):
        """Run ``func(*args, **kwargs)`` as op ``name`` (its result returned)."""
        self.ops[name].side_effect = func

    def session(self, url):
        if url not in self.sessions:
            s = mock.create_autospec(xsession.XapiSession, instance=True)
            s.url = url
            s.address = url.split('//', 1)[1].split(':')[0].split('/')[0]
            self.sessions[url] = s
        return self.sessions[url]

    def url(self, name):
        return 'https://%s' % ADDR[name]

    @property
    def names(self):
        return [name for name, _ in self.calls]


@pytest.fixture(name='xapi')
def xapi_fixture(mocker):
    mocker.patch.object(xurls, 'url_for_address', autospec=True,
                        side_effect=lambda url, addr: 'https://%s' % addr)
    return Xapi(mocker)


@pytest.fixture(name='conf')
def conf_fixture():
    return make_conf()
