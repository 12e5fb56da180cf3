"""xapi's datamodel for the classes the simulator serves: static data.

Read from xapi-project/xen-api at commit e2ee48d6883e (the snapshot named
in doc/simulator.md): the ``~contents`` of each class's ``create_obj`` in
``ocaml/idl/datamodel.ml``, ``datamodel_host.ml``, ``datamodel_pool.ml`` and
``datamodel_vm.ml``, with the helpers of ``datamodel_common.ml`` (``uid``,
``names``, ``allowed_and_current_operations``, ``namespace``: a field in a
namespace is ``<namespace>_<field>``); types are written as xapi's own
datamodel dump ``doc/data/xenapi.json`` writes them.

Only public fields: ``internal_only`` fields never reach a client (the
record types are generated from the fields ``Gen_api_main`` keeps). Fields
whose lifecycle ends ``Removed`` are still in the record (xapi keeps the
column; e.g. ``VM.is_snapshot_from_vmpp``, ``host_metrics.memory_free``).

A default is the field's ``~default_value``, as a Python value: ``EPOCH`` is
``VDateTime Date.epoch``; ``VRef ""`` is written ``OpaqueRef:NULL``, which is
what xapi's create functions pass (``xapi_vm.ml``: ``~snapshot_of:Ref.null``);
a ``Constants.x`` default is its value in ``ocaml/xapi-consts/constants.ml``
(``default_ssh_enabled = true``, the timeouts ``0L``).
``None``: the datamodel has no default (the creator must give one); the
simulator then uses :func:`.xapi_types.zero` of the type.

The tables themselves are in :mod:`.fields_host` (a host and what runs on
it) and :mod:`.fields_pool` (what a pool shares); the types and enums in
:mod:`.xapi_types`. This module joins them and holds the relations and
:func:`defaults`.
"""

from xenpool_driver.simulator import fields_host, fields_pool, xapi_types

XAPI_COMMIT = 'e2ee48d6883e0b98c4d219d3f0778a10c6655607'

#: class -> ((field, type, qualifier, default), ...) in datamodel order.
FIELDS = {**fields_host.HOST_FIELDS, **fields_pool.POOL_FIELDS}

#: One-to-many relations between served classes (``datamodel.ml``
#: ``all_relations``): (class, Ref field) -> (class, Set field). The Set side
#: is computed from the Ref side when a record is read.
RELATIONS = (
    (('VM', 'snapshot_of'), ('VM', 'snapshots')),
    (('VDI', 'snapshot_of'), ('VDI', 'snapshots')),
    (('VM', 'parent'), ('VM', 'children')),
    (('task', 'subtask_of'), ('task', 'subtasks')),
    (('PBD', 'host'), ('host', 'PBDs')),
    (('PBD', 'SR'), ('SR', 'PBDs')),
    (('VBD', 'VDI'), ('VDI', 'VBDs')),
    (('VBD', 'VM'), ('VM', 'VBDs')),
    (('VIF', 'VM'), ('VM', 'VIFs')),
    (('VIF', 'network'), ('network', 'VIFs')),
    (('PIF', 'host'), ('host', 'PIFs')),
    (('PIF', 'network'), ('network', 'PIFs')),
    (('VDI', 'SR'), ('SR', 'VDIs')),
    (('VM', 'resident_on'), ('host', 'resident_VMs')),
    (('VDI', 'metadata_of_pool'), ('pool', 'metadata_VDIs')),
)


def defaults(cls):
    """{field: default} of every public field of ``cls`` (fresh containers)."""
    out = {}
    for name, ty, _qualifier, default in FIELDS[cls]:
        value = xapi_types.zero(ty) if default is None else default
        out[name] = list(value) if isinstance(value, list) else (
            dict(value) if isinstance(value, dict) else value)
    return out
