"""What a join does to refs and to the joiner before its restart.

``ocaml/xapi/xapi_pool.ml`` (``create_or_get_host_on_master``,
``create_or_get_sr_on_master``, ``PIF.pool_introduce``, the metadata
import): the joiner's records are created anew in the master's database:
new refs, the same uuids. ``ocaml/xapi/xapi_fuse.ml``: after ``pool.join``
returns, the joiner keeps its own database (its pool object included) until
its xapi restarts.
"""

from tests.unit.simulator.conftest import sdk
from xenpool_driver.simulator import Timings, VMSpec


def _by_uuid(records):
    return {rec['uuid']: ref for ref, rec in records.items()}


def test_join_makes_new_refs_and_keeps_uuids(make_lab):
    lab = make_lab(2, timings=Timings(fuse=5000), specs={1: {'vms': [VMSpec('guest')]}})
    master, joiner = lab.hosts
    s = sdk(joiner)
    before = {cls: _by_uuid(getattr(s.xenapi, cls).get_all_records())
              for cls in ('host', 'VM', 'PIF', 'PBD', 'host_metrics', 'VM_metrics')}
    s.xenapi.pool.join(master.address, 'root', lab.password)
    m = sdk(master)
    after = {cls: _by_uuid(getattr(m.xenapi, cls).get_all_records())
             for cls in before}
    for cls, refs in before.items():
        for uuid, old_ref in refs.items():
            assert uuid in after[cls], (cls, uuid)          # same uuid
            assert after[cls][uuid] != old_ref, (cls, uuid)  # new ref
    host = after['host'][joiner.uuid]
    rec = m.xenapi.host.get_record(host)
    # the references between the new records are re-pointed
    assert m.xenapi.host_metrics.get_uuid(rec['metrics']) in before['host_metrics']
    assert m.xenapi.VM.get_resident_on(rec['control_domain']) == host
    assert all(m.xenapi.PIF.get_host(p) == host for p in rec['PIFs'])
    assert rec['PBDs'] and all(m.xenapi.PBD.get_host(p) == host for p in rec['PBDs'])
    guest = after['VM'][next(u for u, r in before['VM'].items()
                             if s.xenapi.VM.get_name_label(r) == 'guest')]
    assert m.xenapi.VM.get_metrics(guest) in after['VM_metrics'].values()


def test_joiner_keeps_its_pool_until_its_restart(make_lab):
    lab = make_lab(2, timings=Timings(fuse=200, restart=50, boot=50))
    master, joiner = lab.hosts
    s = sdk(joiner)
    own_pool = s.xenapi.pool.get_all()
    old_ref = joiner.ref
    s.xenapi.pool.join(master.address, 'root', lab.password)
    # the fuse burns: the joiner answers as before, from its own pool
    assert s.xenapi.pool.get_all() == own_pool
    assert s.xenapi.pool.get_master(own_pool[0]) == old_ref
    assert lab.wait_until(lambda: joiner.role == 'slave' and joiner.state == 'running')
    m = sdk(master)
    assert m.xenapi.pool.get_all() != own_pool and len(m.xenapi.pool.get_all()) == 1
    assert joiner.ref == m.xenapi.host.get_by_uuid(joiner.uuid) != old_ref


def test_a_joiners_disks_come_over_with_its_local_sr(make_lab):
    from xenpool_driver.simulator import VDISpec
    lab = make_lab(2, timings=Timings(fuse=5000), specs={1: {
        'vms': [VMSpec('guest', disks=[VDISpec('root'), VDISpec('data')])],
        'vdis': [VDISpec('iso-cache')]}})
    master, joiner = lab.hosts
    s = sdk(joiner)
    before = {cls: _by_uuid(getattr(s.xenapi, cls).get_all_records())
              for cls in ('VDI', 'VBD')}
    assert len(before['VDI']) == 3 and len(before['VBD']) == 2
    s.xenapi.pool.join(master.address, 'root', lab.password)
    m = sdk(master)
    vdis = m.xenapi.VDI.get_all_records()
    assert {r['uuid'] for r in vdis.values()} == set(before['VDI'])
    assert not set(vdis) & set(before['VDI'].values())         # new refs
    guest = m.xenapi.VM.get_by_name_label('guest')[0]
    disks = [m.xenapi.VBD.get_VDI(v) for v in m.xenapi.VM.get_VBDs(guest)]
    assert sorted(vdis[d]['name_label'] for d in disks) == ['data', 'root']
    joiner_host = m.xenapi.host.get_by_uuid(joiner.uuid)
    sr = vdis[disks[0]]['SR']
    assert [m.xenapi.PBD.get_host(p) for p in m.xenapi.SR.get_PBDs(sr)] == [joiner_host]
