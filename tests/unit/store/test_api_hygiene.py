"""Store input and file hygiene: reserved names, userinfo, busy timeout, corruption."""

import os
import sqlite3

import pytest

from tests import passwords
from xenpool_driver import store as store_mod
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.store import checks as store_checks
from tests.unit.store import busy_timeout_ms

RESERVED = sorted(bk.RESERVED_KEYS)


def _journal_mode(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute('PRAGMA journal_mode').fetchone()[0]
    finally:
        conn.close()


# --- reserved host names ---

def test_reserved_names_are_the_bookkeeping_keys():
    assert {'operational_state', 'hypervisor_pool', 'master_compute',
            'xenpool:state', 'availability_zone'} <= bk.RESERVED_KEYS


@pytest.mark.parametrize('host', RESERVED)
def test_reserved_name_is_refused_as_an_aggregate_host(store, host):
    agg = store.create_aggregate('pool', {'operational_state': 'created'})
    with pytest.raises(store_mod.InvalidInput) as exc:
        agg.add_host(host)
    message = str(exc.value)
    assert '\n' not in message and repr(host) in message
    assert all(name in message for name in RESERVED)
    fresh = store.get_aggregate('pool')
    assert (fresh.hosts, fresh.metadata) == ([], {'operational_state': 'created'})


@pytest.mark.parametrize('host', RESERVED)
def test_reserved_name_is_refused_in_the_inventory(store, host):
    with pytest.raises(store_mod.InvalidInput, match='reserved'):
        store.set_host_url(host, 'http://192.0.2.2')
    assert store.list_hosts() == []


def test_a_name_that_only_looks_reserved_is_a_host(store):
    agg = store.create_aggregate('pool')
    agg.add_host('operational_state-2')
    assert agg.hosts == ['operational_state-2']


# --- userinfo ---

@pytest.mark.parametrize('url', [
    'http://root:%s@192.0.2.2' % passwords.PASSWORD,
    'https://root:%s@192.0.2.2:8443/' % passwords.PASSWORD,
    'http://root@192.0.2.2',
    'root:%s@192.0.2.2' % passwords.PASSWORD,
])
def test_url_with_userinfo_is_refused_and_not_echoed(store, url):
    with pytest.raises(store_mod.InvalidInput) as exc:
        store.set_host_url('h2', url)
    assert passwords.PASSWORD not in str(exc.value)
    assert '\n' not in str(exc.value)
    assert store.list_hosts() == []


def test_userinfo_refusal_names_the_rule_and_the_host():
    with pytest.raises(store_mod.InvalidInput) as exc:
        store_checks.check_url('http://root:%s@192.0.2.2:80' % passwords.PASSWORD)
    assert 'refused' in str(exc.value) and '192.0.2.2:80' in str(exc.value)
    assert 'never stored' in str(exc.value)


def test_url_without_userinfo_is_stored(store):
    store.set_host_url('h2', 'http://192.0.2.2:80/')
    assert store.get_host_url('h2') == 'http://192.0.2.2:80/'


# --- busy timeout and the write-ahead log ---

def test_store_busy_timeout_reaches_the_connection(sqlite_url):
    with store_mod.Store(sqlite_url, busy_timeout=2.5) as s:
        assert busy_timeout_ms(s) == 2500


@pytest.fixture
def pre_wal_file(tmp_path):
    """A store file in the rollback-journal mode and a writer holding its lock."""
    path = tmp_path / 'a.sqlite'
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute('CREATE TABLE other (a)')
    conn.execute('BEGIN IMMEDIATE')
    conn.execute('INSERT INTO other VALUES (1)')
    yield path, conn
    if conn.in_transaction:
        conn.execute('COMMIT')
    conn.close()


def test_opening_waits_for_a_writer_instead_of_failing(pre_wal_file):
    path, writer = pre_wal_file
    sleeps = []

    def sleep(seconds):
        # NOTE: the writer finishes while the store waits; no real sleep.
        sleeps.append(seconds)
        writer.execute('COMMIT')

    with store_mod.Store('sqlite:///%s' % path, busy_timeout=30,
                         sleep=sleep) as s:
        assert s.schema_version() == 2
    assert sleeps == [0.001]
    assert _journal_mode(path) == 'wal'


def test_opening_gives_up_at_once_with_busy_timeout_zero(pre_wal_file):
    path, _writer = pre_wal_file
    sleeps = []
    with pytest.raises(store_mod.StoreUnavailable, match='database is locked'):
        store_mod.Store('sqlite:///%s' % path, busy_timeout=0,
                        sleep=sleeps.append)
    assert sleeps == []


# --- corrupted files ---

def _random_bytes(path):
    path.write_bytes(os.urandom(8192))


def _malformed_pages(path):
    with store_mod.Store('sqlite:///%s' % path) as s:
        for i in range(20):
            s.create_aggregate('pool-%d' % i, {'k': 'v' * 500})
    data = bytearray(path.read_bytes())
    # NOTE: a valid header, garbage everywhere else.
    data[100:] = os.urandom(len(data) - 100)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize('corrupt', [_random_bytes, _malformed_pages])
def test_corrupt_file_is_one_clear_error(tmp_path, corrupt):
    path = tmp_path / 'a.sqlite'
    corrupt(path)
    with pytest.raises(store_mod.StoreUnavailable) as exc:
        store_mod.Store('sqlite:///%s' % path)
    message = str(exc.value)
    assert '\n' not in message
    assert 'is not a usable database' in message and str(path) in message


def test_integrity_errors_are_not_corruption(store):
    store.create_aggregate('pool')
    with pytest.raises(store_mod.Conflict):
        store.create_aggregate('pool')
