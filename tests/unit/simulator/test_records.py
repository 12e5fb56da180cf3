"""Whole records: xapi's public field set and defaults for every served class.

Follows xapi's datamodel at the pinned commit (xapi-project/xen-api
e2ee48d6883e): ``ocaml/idl/datamodel.ml``, ``datamodel_host.ml``,
``datamodel_pool.ml``, ``datamodel_vm.ml`` (each class's ``~contents``),
``datamodel_common.ml`` (``uid``, ``names``, ``namespace``,
``allowed_and_current_operations``) and ``ocaml/idl/ocaml_backend/gen_api_main.ml``
(records carry every field that is not ``internal_only``).
"""

import datetime

import pytest

from tests.unit.simulator.conftest import join, sdk
from xenpool_driver.simulator import HostSpec, VMSpec, datamodel, model, xapi_types

#: Public fields per class in ocaml/idl/datamodel*.ml at e2ee48d6883e.
#: NOTE: VM has 92: the reference sheet's errata says 89, but the datamodel
#: holds xenapi.json's 90 (is_snapshot_from_vmpp is Removed yet still a
#: column, as xapi-24's own VM.get_all_records sample in
#: ocaml/sdk-gen/component-test/spec shows) plus ``groups`` and
#: ``secureboot_certificates_state``.
COUNTS = {'host': 80, 'pool': 66, 'VM': 92, 'PIF': 35, 'SR': 21, 'network': 16,
          'session': 16, 'host_metrics': 6, 'PBD': 6, 'task': 17, 'VIF': 28, 'VBD': 22,
          'VDI': 32, 'VM_metrics': 19, 'VM_guest_metrics': 16}


def test_field_counts_per_class():
    assert {cls: len(fields) for cls, fields in datamodel.FIELDS.items()} == COUNTS
    assert set(model.CLASSES) == set(COUNTS)


def test_field_tables_are_well_formed():
    for cls, fields in datamodel.FIELDS.items():
        names = [f[0] for f in fields]
        assert len(names) == len(set(names)), cls
        assert names[0] == 'uuid', cls
        for name, ty, qualifier, default in fields:
            assert qualifier in ('RW', 'StaticRO', 'DynamicRO'), (cls, name)
            value = xapi_types.zero(ty) if default is None else default
            assert _fits(value, ty), (cls, name, ty, value)


def test_a_few_fields_and_defaults_as_the_datamodel_says():
    def field(cls, name):
        return next(f for f in datamodel.FIELDS[cls] if f[0] == name)
    # datamodel_vm.ml: namespaces give memory_*, VCPUs_*, actions_*, PV_*, HVM_*
    assert field('VM', 'actions_after_softreboot')[3] == 'soft_reboot'
    assert field('VM', 'HVM_shadow_multiplier')[3] == 1.0
    # datamodel_vm.ml: "New default" in 24.14.0
    assert field('VM', 'has_vendor_device')[3] is True
    assert field('VM', 'power_state')[3] == 'Halted'
    # datamodel_host.ml: license_server's default, ssh_enabled from constants.ml
    assert field('host', 'license_server')[3] == {'address': 'localhost', 'port': '27000'}
    assert field('host', 'ssh_enabled')[3] is True
    # datamodel.ml: task backtrace is the sexp of an empty backtrace
    assert field('task', 'backtrace')[3] == '()'
    assert field('network', 'MTU')[3] == 1500
    # datamodel_common.ml uid: uuid has no default
    assert field('host', 'uuid')[3] is None
    # internal_only fields are not public: task.session is; VM.last_booted_record
    # is ~internal_only:false (datamodel.ml, datamodel_vm.ml)
    assert 'session' not in {f[0] for f in datamodel.FIELDS['task']}
    assert 'last_booted_record' in {f[0] for f in datamodel.FIELDS['VM']}


def _fits(value, ty):
    if ty.endswith(' set'):
        return isinstance(value, list) and all(_fits(v, ty[:-4]) for v in value)
    if ty.endswith(' map'):
        key, val = ty[1:-5].split(' -> ')
        return isinstance(value, dict) and all(
            _fits(k, key) and _fits(v, val) for k, v in value.items())
    if ty.endswith(' ref'):
        return isinstance(value, str) and value.startswith('OpaqueRef:')
    if ty.startswith('enum '):
        return value in xapi_types.ENUMS[ty[5:]]
    if ty == 'int':
        return isinstance(value, int) and not isinstance(value, bool)
    if ty == 'float':
        return isinstance(value, float)
    if ty == 'bool':
        return isinstance(value, bool)
    if ty == 'datetime':
        return isinstance(value, (datetime.datetime, str))
    return isinstance(value, str)


def _wire_ok(value, ty):
    """A value as the SDK decodes it: ints come as strings (xapi's XML-RPC)."""
    if ty == 'int':
        return isinstance(value, str) and value.lstrip('-').isdigit()
    if ty == 'datetime':
        return hasattr(value, 'value')       # xmlrpc.client.DateTime
    if ty.endswith(' set'):
        return isinstance(value, list) and all(_wire_ok(v, ty[:-4]) for v in value)
    if ty.endswith(' map'):
        key, val = ty[1:-5].split(' -> ')
        return isinstance(value, dict) and all(_wire_ok(v, val) for v in value.values())
    return _fits(value, ty)


def _check_pool(s):
    """Every record of every class: xapi's field set, typed values, refs that exist."""
    records = {cls: getattr(s.xenapi, cls).get_all_records()
               for cls in model.CLASSES if cls != 'session'}
    records['session'] = {s._session: s.xenapi.session.get_record(s._session)}
    for cls, recs in records.items():
        types = {f[0]: f[1] for f in datamodel.FIELDS[cls]}
        for ref, rec in recs.items():
            assert set(rec) == set(types), (cls, set(rec) ^ set(types))
            for name, ty in types.items():
                value = rec[name]
                assert _wire_ok(value, ty), (cls, name, ty, value)
                for target, refs in _refs(ty, value):
                    for r in refs:
                        assert r == model.NULL or (target in records and r in records[target]), \
                            (cls, ref, name, r)
    return records


def _refs(ty, value):
    """(class, [refs]) a field holds."""
    if ty.endswith(' ref'):
        return [(ty[:-4], [value])]
    if ty.endswith(' ref set'):
        return [(ty[:-8], value)]
    if ty.endswith(' map'):
        key, val = ty[1:-5].split(' -> ')
        out = []
        if key.endswith(' ref'):
            out.append((key[:-4], list(value)))
        if val.endswith(' ref'):
            out.append((val[:-4], list(value.values())))
        return out
    return []


def test_every_record_is_whole_and_its_refs_exist(make_lab):
    lab = make_lab(2, specs={1: HostSpec(vms=[VMSpec('web', 'Halted')])})
    s = sdk(lab.hosts[0])
    task = s.xenapi.task.create('probe', '')
    assert task
    records = _check_pool(s)
    assert len(records['task']) == 1
    # NOTE: every VM has its VM_metrics (xapi_vm.ml create, create_misc.ml dom0).
    assert all(vm['metrics'] in records['VM_metrics'] for vm in records['VM'].values())
    # datamodel.ml all_relations: VM.VIFs from VIF.VM, and so on; empty here.
    assert all(vm['VIFs'] == [] and vm['VBDs'] == [] for vm in records['VM'].values())
    # After a join the master's records (the joiner's included) are still whole.
    join(lab, 1)
    records = _check_pool(sdk(lab.hosts[0]))
    assert len(records['host']) == 2
    assert {vm['name_label'] for vm in records['VM'].values()} >= {'web'}


def test_defaults_xapi_creators_put(lab):
    s = sdk(lab.hosts[0])
    host = s.xenapi.host.get_record(lab.hosts[0].ref)
    assert host['API_version_vendor'] == 'XenSource'          # xapi_host.ml create
    dom0 = s.xenapi.VM.get_record(host['control_domain'])
    assert dom0['domid'] == '0'                               # create_misc.ml
    assert dom0['guest_metrics'] == model.NULL
    assert dom0['is_a_snapshot'] is False and dom0['snapshot_of'] == model.NULL
    pifs = [s.xenapi.PIF.get_record(p) for p in host['PIFs']]
    assert [p['VLAN'] for p in pifs] == ['-1']                # xapi_pif.ml introduce
    session = s.xenapi.session.get_record(s._session)
    assert session['is_local_superuser'] is True              # xapi_session.ml
    assert session['this_user'] == model.NULL


@pytest.mark.parametrize('cls, field, expected', [
    ('VM', 'VIFs', []), ('VM', 'guest_metrics', model.NULL), ('VM', 'platform', {}),
    ('VM', 'HVM_boot_policy', ''), ('VM', 'actions_after_shutdown', 'destroy'),
])
def test_generated_getters_of_any_field(lab, cls, field, expected):
    s = sdk(lab.hosts[0])
    vm = s.xenapi.host.get_control_domain(lab.hosts[0].ref)
    assert getattr(s.xenapi, cls).__getattr__('get_' + field)(vm) == expected
