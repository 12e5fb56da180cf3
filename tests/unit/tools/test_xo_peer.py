"""tools/benchlib/xo_peer.py: XenOrchestra's xen-api client as a bench peer.

On the bench's own lab (``measure.in_process_lab``), the peer adds two hosts,
removes the master (designate, then eject the old master from the new one)
and removes a slave; after each step the pool is what xapi itself says
(:mod:`tests.reality`), so each figure times a change that really happened.

Needs node and ``npm ci --prefix tests/functional/xo``; without them the
test skips, unless XENPOOL_REQUIRE_XO=1.
"""

import os
import sys

import pytest

from tests import passwords
from tests import reality

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)

from tools.benchlib import measure  # noqa: E402
from tools.benchlib import xo_peer  # noqa: E402

#: 1 xapi second lasts 10 ms; no added latency.
SCALE = 0.01
#: Real seconds the lab may take to settle after a step.
SETTLE = 30.0


@pytest.fixture
def xo_available():
    ok, reason = xo_peer.available()
    if not ok:
        if os.environ.get('XENPOOL_REQUIRE_XO') == '1':
            pytest.fail(reason + ' and XENPOOL_REQUIRE_XO=1')
        pytest.skip(reason)


@pytest.fixture
def lab(xo_available, monkeypatch, request):
    # NOTE: as test_bench_smoke: the bench's labs take this password, so the
    # suite-wide secret scan knows it.
    monkeypatch.setenv('XENPOOL_LAB_PASSWORD', passwords.OTHER_PASSWORD)
    tls = getattr(request, 'param', False)
    with measure.in_process_lab(3, SCALE, 0.0, tls=tls) as lab:
        passwords.remember(lab.password)
        yield lab


def _settle(lab):
    assert lab.settle(timeout=SETTLE), [(h.name, h.state) for h in lab.hosts]


def _figure(seconds):
    assert isinstance(seconds, float) and seconds > 0, seconds
    return seconds


def _assert_pool(lab, master, members):
    """xapi's own view from ``master``: it is the master of exactly ``members``."""
    real = reality.read_pool(lab, master.url)
    assert real.answered_by == master.address
    assert real.master_uuid == master.uuid
    assert set(real.hosts) == {h.uuid for h in members}, real
    for h in members:
        assert real.hosts[h.uuid].enabled and real.hosts[h.uuid].live, real
    for h in members:
        if h is not master:
            assert h.role == 'slave' and h.master_address == master.address, h.name
            assert h.db is master.db
    assert master.role == 'master'


@pytest.mark.parametrize('lab,transport', [(False, 'json-rpc'), (True, 'xml-rpc')],
                         ids=['http-json-rpc', 'tls-xml-rpc'], indirect=['lab'])
def test_xo_peer_adds_and_removes(lab, transport):
    h1, h2, h3 = lab.hosts
    with xo_peer.XoPeer(lab, transport=transport) as peer:
        peer.connect(h1.url)
        peer.connect(h2.url)

        _figure(peer.add(h2.url, h1.url, h1.address))
        _settle(lab)
        _assert_pool(lab, h1, [h1, h2])

        peer.connect(h3.url)
        _figure(peer.add(h3.url, h1.url, h1.address))
        _settle(lab)
        _assert_pool(lab, h1, [h1, h2, h3])

        _figure(peer.remove_master(h1.url, h2.uuid, h1.uuid, h2.url))
        _settle(lab)
        _assert_pool(lab, h2, [h2, h3])
        # the old master rebooted out of the pool: standalone
        reality.assert_standalone(lab, h1.name)
        assert h1.db is not h2.db

        # the old master's client followed the new master: it serves h2's URL
        _figure(peer.remove(h2.url, h3.uuid))
        _settle(lab)
        _assert_pool(lab, h2, [h2])
        reality.assert_standalone(lab, h3.name)
        assert h3.db is not h2.db


def test_xo_peer_reports_xo_errors(lab):
    h1, h2, _ = lab.hosts
    with xo_peer.XoPeer(lab) as peer:
        peer.connect(h1.url)
        # a standalone host is its own master: xapi refuses to eject it
        with pytest.raises(RuntimeError, match=r'^xo peer: callAsync pool\.eject: '):
            peer.remove(h1.url, h1.uuid)
        # a URL with no client connected for it
        with pytest.raises(RuntimeError, match=r'^xo peer: remove: no connected client'):
            peer.remove(h2.url, h2.uuid)
