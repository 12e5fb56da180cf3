"""pool.eject, pool.designate_new_master, host.destroy."""

import pytest
import XenAPI

from tests.passwords import PASSWORD
from tests.unit.simulator.conftest import failure, join, sdk
from xenpool_driver.simulator import Timings, VMSpec


def test_cannot_eject_master(lab):
    m = sdk(lab.hosts[0])
    assert failure(m.xenapi.pool.eject, lab.hosts[0].ref) == [
        'INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master']


def test_eject_unknown_host(lab):
    m = sdk(lab.hosts[0])
    assert failure(m.xenapi.pool.eject, 'OpaqueRef:x') == ['HANDLE_INVALID', 'host', 'OpaqueRef:x']


def test_vm_resident_blocks_eject(lab):
    join(lab, 1)
    m = sdk(lab.hosts[0])
    vm = m.xenapi.VM.get_by_name_label('guest')
    assert vm == []
    from xenpool_driver.simulator import model
    vm = lab.hosts[0].db.create('VM', name_label='guest', power_state='Halted')
    m.xenapi.VM.start_on(vm, lab.hosts[1].ref, False, False)
    assert failure(m.xenapi.pool.eject, lab.hosts[1].ref) == [
        'OPERATION_NOT_ALLOWED', 'VM resident on host']
    m.xenapi.VM.hard_shutdown(vm)
    assert m.xenapi.VM.get_resident_on(vm) == model.NULL
    m.xenapi.pool.eject(lab.hosts[1].ref)


def test_host_offline(lab):
    join(lab, 1)
    lab.stop(1, mark_offline=True)
    m = sdk(lab.hosts[0])
    assert failure(m.xenapi.pool.eject, lab.hosts[1].ref) == ['HOST_OFFLINE', lab.hosts[1].ref]


def test_cannot_contact_host(lab):
    join(lab, 1)
    lab.cut(0, 1)
    m = sdk(lab.hosts[0])
    assert failure(m.xenapi.pool.eject, lab.hosts[1].ref) == [
        'CANNOT_CONTACT_HOST', lab.hosts[1].ref]


def test_eject_lifecycle(make_lab):
    lab = make_lab(2, specs={1: {'vms': [VMSpec('local-vm')]}},
                   timings=Timings(eject_reboot=100))
    master, slave = lab.hosts
    join(lab, 1)
    m = sdk(master)
    srs_before = {m.xenapi.SR.get_uuid(r) for r in m.xenapi.SR.get_all()}
    old_pool_of_slave = None
    assert m.xenapi.pool.eject(slave.ref) == ''
    # gone from the master DB at once: host, metrics, dom0, PIFs, PBDs, local SR
    assert m.xenapi.host.get_all() == [master.ref]
    assert all(not r['is_control_domain'] or r['resident_on'] == master.ref
               for r in m.xenapi.VM.get_all_records().values())
    assert all(r['host'] == master.ref for r in m.xenapi.PIF.get_all_records().values())
    assert len(m.xenapi.SR.get_all()) == len(srs_before) - 1
    # VM records stay (halted, dangling disks)
    assert m.xenapi.VM.get_by_name_label('local-vm')
    # reboot, then standalone: same uuid, new pool object, no guests
    assert lab.wait_until(lambda: slave.state == 'down')
    assert lab.wait_until(lambda: slave.state == 'running' and slave.role == 'master')
    s = sdk(slave)
    pools = s.xenapi.pool.get_all()
    assert len(pools) == 1 and pools != old_pool_of_slave
    assert pools != m.xenapi.pool.get_all()
    me = s.xenapi.host.get_by_uuid(slave.uuid)
    assert s.xenapi.pool.get_master(pools[0]) == me
    assert [r['name_label'] for r in s.xenapi.VM.get_all_records().values()
            if not r['is_control_domain']] == []
    # and it can join again
    s.xenapi.pool.join(master.address, 'root', PASSWORD)
    assert lab.settle()
    assert len(m.xenapi.host.get_all()) == 2


def test_designate_new_master(lab3):
    join(lab3, 1)
    join(lab3, 2)
    old, new = lab3.hosts[0], lab3.hosts[1]
    m = sdk(old)
    pool = m.xenapi.pool.get_all()[0]
    # no-op when already master
    assert m.xenapi.pool.designate_new_master(old.ref) == ''
    assert lab3.scheduler.idle
    assert m.xenapi.pool.designate_new_master(new.ref) == ''
    # dbsync_master.ml: pool.master moves when the new master has booted
    assert m.xenapi.pool.get_master(pool) == old.ref
    assert lab3.settle()
    assert all(h.generation >= 1 for h in lab3.hosts)     # every xapi restarted
    # sessions died: the SDK re-logs in and meets HOST_IS_SLAVE on the old master
    assert failure(m.xenapi.pool.get_all) == ['HOST_IS_SLAVE', new.address]
    assert failure(XenAPI.Session(lab3.hosts[2].url).xenapi.login_with_password,
                   'root', PASSWORD) == ['HOST_IS_SLAVE', new.address]
    n = sdk(new)
    assert n.xenapi.pool.get_master(pool) == new.ref
    assert len(n.xenapi.host.get_all()) == 3
    # and the old master can now be ejected
    n.xenapi.pool.eject(old.ref)
    assert len(n.xenapi.host.get_all()) == 2


def test_designate_offline_target(lab):
    join(lab, 1)
    lab.stop(1, mark_offline=True)
    m = sdk(lab.hosts[0])
    assert failure(m.xenapi.pool.designate_new_master, lab.hosts[1].ref) == [
        'HOST_OFFLINE', lab.hosts[1].ref]


def test_host_destroy(lab):
    join(lab, 1)
    m = sdk(lab.hosts[0])
    slave = lab.hosts[1].ref
    assert failure(m.xenapi.host.destroy, slave) == ['HOST_IS_LIVE', slave]
    assert failure(m.xenapi.host.destroy, lab.hosts[0].ref) == ['HOST_IS_LIVE',
                                                                lab.hosts[0].ref]
    lab.stop(1, mark_offline=True)
    assert m.xenapi.host.destroy(slave) == ''
    assert m.xenapi.host.get_all() == [lab.hosts[0].ref]
    # restarted, the destroyed host is unknown to its master
    lab.start_host(1)
    assert lab.wait_until(lambda: lab.hosts[1].state == 'emergency')
    assert failure(XenAPI.Session(lab.hosts[1].url).xenapi.login_with_password,
                   'root', PASSWORD) == ['HOST_UNKNOWN_TO_MASTER', lab.hosts[1].uuid]


def test_host_destroy_with_resident_vms(lab):
    join(lab, 1)
    m = sdk(lab.hosts[0])
    vm = lab.hosts[0].db.create('VM', name_label='guest', power_state='Running',
                                resident_on=lab.hosts[1].ref)
    lab.stop(1, mark_offline=True)
    assert failure(m.xenapi.host.destroy, lab.hosts[1].ref) == [
        'HOST_HAS_RESIDENT_VMS', lab.hosts[1].ref]
    assert vm


def test_stopped_slave_goes_offline_after_liveness_timeout(lab):
    join(lab, 1)
    m = sdk(lab.hosts[0])
    metrics = m.xenapi.host.get_metrics(lab.hosts[1].ref)
    lab.stop(1)
    assert m.xenapi.host_metrics.get_live(metrics) is True
    assert lab.wait_until(lambda: m.xenapi.host_metrics.get_live(metrics) is False)
    lab.start_host(1)
    assert lab.wait_until(lambda: m.xenapi.host_metrics.get_live(metrics) is True)


@pytest.mark.parametrize('method', ['pool.eject', 'pool.designate_new_master'])
def test_pool_ops_refused_on_a_slave(lab, method):
    join(lab, 1)
    proxy = XenAPI.xmlrpclib.ServerProxy(lab.hosts[1].url)
    m = sdk(lab.hosts[0])
    result = getattr(proxy, method)(m._session, lab.hosts[1].ref)
    assert result['ErrorDescription'] == ['HOST_IS_SLAVE', lab.hosts[0].address]


def test_designate_leaves_an_ejected_host_waiting_for_its_reboot_alone(make_lab):
    # the ejected host still holds the pool database until it reboots: a
    # designate in between must not restart it as a slave of the new master
    lab = make_lab(3, timings=Timings(eject_reboot=200))
    join(lab, 1)
    join(lab, 2)
    master, ejected, new = lab.hosts
    m = sdk(master)
    m.xenapi.pool.eject(ejected.ref)
    assert m.xenapi.pool.designate_new_master(new.ref) == ''
    assert lab.settle()
    assert (ejected.state, ejected.role) == ('running', 'master')
    pools = sdk(ejected).xenapi.pool.get_all()
    assert len(pools) == 1
    assert sdk(new).xenapi.host.get_all_records().keys() == {new.ref, master.ref}


def test_eject_forgets_the_local_srs_with_their_vdis(make_lab):
    """``ocaml/xapi/xapi_pool.ml`` eject_self: ``unplug_pbds`` calls
    ``SR.forget`` on every SR whose only PBD is the ejected host's, and
    ``really_forget`` (``ocaml/xapi/xapi_sr.ml``) destroys its PBDs, its
    VDIs, then the SR: the disks on the host's local storage are lost (the
    VMs stay, halted, without them)."""
    from xenpool_driver.simulator import VDISpec
    spec = {'vms': [VMSpec('web', disks=[VDISpec('web-root', 20 * 1024 ** 3)])],
            'vdis': [VDISpec('scratch')]}
    lab = make_lab(2, specs={1: spec}, timings=Timings(eject_reboot=100))
    master, slave = lab.hosts
    join(lab, 1)
    m = sdk(master)
    vdis = {r['name_label']: r for r in m.xenapi.VDI.get_all_records().values()}
    assert set(vdis) == {'web-root', 'scratch'}
    local = vdis['web-root']['SR']
    assert [m.xenapi.PBD.get_host(p) for p in m.xenapi.SR.get_PBDs(local)] == [
        m.xenapi.host.get_by_uuid(slave.uuid)]
    assert vdis['web-root']['virtual_size'] == str(20 * 1024 ** 3)
    web = m.xenapi.VM.get_by_name_label('web')[0]
    assert len(m.xenapi.VM.get_VBDs(web)) == 1
    m.xenapi.pool.eject(m.xenapi.host.get_by_uuid(slave.uuid))
    assert m.xenapi.VDI.get_all_records() == {}
    assert m.xenapi.VBD.get_all_records() == {}
    assert local not in m.xenapi.SR.get_all()
    assert m.xenapi.VM.get_VBDs(web) == []          # the VM stays, diskless
