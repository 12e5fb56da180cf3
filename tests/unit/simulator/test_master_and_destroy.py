"""``pool.master`` after a designate, and ``host.destroy`` of a dead host.

* ``ocaml/xapi/dbsync_master.ml``: ``pool.master`` is set when the new
  master has booted as master; until then the old master serves normally
  and the new one answers ``HOST_IS_SLAVE [old master]``.
* ``ocaml/xapi/xapi_host.ml`` (``precheck_destroy_declare_dead``,
  ``is_host_alive``): a host the database says is live is asked; one that
  does not answer is dead and destroyed, even while ``host_metrics.live`` is
  still true; a reachable one, or the master itself, is ``HOST_IS_LIVE``.
"""

import XenAPI

from tests.unit.simulator.conftest import failure, join, sdk
from xenpool_driver.simulator import Timings


def test_pool_master_moves_when_the_new_master_boots(make_lab):
    lab = make_lab(2, timings=Timings(fuse=100))        # 0.2 s before the restart
    join(lab, 1)
    old, new = lab.hosts
    m = sdk(old)
    pool = m.xenapi.pool.get_all()[0]
    assert m.xenapi.pool.designate_new_master(new.ref) == ''
    # the commit is done, the restarts have not happened: the old master serves
    assert m.xenapi.pool.get_master(pool) == old.ref
    assert failure(XenAPI.Session(new.url).xenapi.login_with_password,
                   'root', lab.password) == ['HOST_IS_SLAVE', old.address]
    assert lab.wait_until(lambda: new.state == 'running' and new.is_master)
    n = sdk(new)
    assert n.xenapi.pool.get_master(pool) == new.ref


def test_destroy_of_an_unreachable_host_still_marked_live(make_lab):
    lab = make_lab(2)
    join(lab, 1)
    m = sdk(lab.hosts[0])
    slave = lab.hosts[1].ref
    lab.stop(1, mark_offline=False)          # dead, but host_metrics.live stays true
    metrics = m.xenapi.host.get_metrics(slave)
    assert m.xenapi.host_metrics.get_live(metrics) is True
    assert m.xenapi.host.destroy(slave) == ''
    assert slave not in m.xenapi.host.get_all()


def test_destroy_of_a_reachable_host_or_the_master_is_refused(make_lab):
    lab = make_lab(2)
    join(lab, 1)
    m = sdk(lab.hosts[0])
    for ref in (lab.hosts[1].ref, lab.hosts[0].ref):
        assert failure(m.xenapi.host.destroy, ref) == ['HOST_IS_LIVE', ref]
