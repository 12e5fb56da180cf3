"""The connector: one handle per URL, a redirected handle filed under its new URL."""

import XenAPI

from tests.unit.xapi.fakes import A, B, settings
from xenpool_driver.xapi import connector as xconnector


def test_connector_caches_per_url(fake, clock):
    conn = xconnector.Connector(settings(), sleep=clock.sleep, clock=clock,
                              session_factory=fake.factory)
    assert conn.get(A) is conn.get(A)
    assert conn.get(A) is not conn.get(B)
    fake.on('pool.get_all', [])
    conn.get(A).call('pool.get_all')
    conn.close()
    assert fake.methods()[-1] == 'session.logout'


def test_connector_files_a_redirected_handle_under_its_new_url(fake, clock):
    conn = xconnector.Connector(settings(), sleep=clock.sleep, clock=clock,
                              session_factory=fake.factory)
    fake.on_url(A, 'pool.get_all', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url(B, 'pool.get_all', ['OpaqueRef:p'])
    first = conn.get(A)
    assert first.call('pool.get_all') == ['OpaqueRef:p']
    assert first.url == B
    # the redirected handle now serves B; A (maybe standalone again) starts afresh
    assert conn.get(B) is first
    fresh = conn.get(A)
    assert fresh is not first and fresh.url == A
    assert {id(h) for h in conn.handles()} == {id(first), id(fresh)}
    conn.close()
    assert conn.handles() == []


def test_connector_prefers_the_handle_that_followed_the_master(fake, clock):
    conn = xconnector.Connector(settings(), sleep=clock.sleep, clock=clock,
                              session_factory=fake.factory)
    older = conn.get(B)  # e.g. opened before a master change restarted xapi
    fake.on_url(A, 'pool.get_all', XenAPI.Failure(['HOST_IS_SLAVE', '192.0.2.2']))
    fake.on_url(B, 'pool.get_all', ['OpaqueRef:p'])
    moved = conn.get(A)
    moved.call('pool.get_all')
    assert conn.get(B) is moved
    assert older in conn.handles()  # retired, closed with the connector
