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
