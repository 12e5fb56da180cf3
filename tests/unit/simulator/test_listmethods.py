"""system.listMethods and the message table, as xapi has them.

Follows ``ocaml/idl/ocaml_backend/gen_server.ml`` (the list: the sync wire
name of every client-side message of every class, generated getters and
setters included, never ``Async.``) and ``ocaml/xapi/api_server.ml`` (on
XML-RPC the list is written bare, without the Status struct).
"""

import xmlrpc.client

import pytest

from tests.unit.simulator.conftest import failure, jsonrpc, sdk
from xenpool_driver.simulator import methods, model
from xenpool_driver.simulator.xapi_messages import MESSAGES


def _listed(lab):
    return xmlrpc.client.ServerProxy(lab.hosts[0].url).system.listMethods()


def test_xmlrpc_list_is_a_bare_array_of_sync_names(lab):
    got = _listed(lab)
    assert isinstance(got, list)
    assert got == list(methods.LIST_METHODS)
    assert not [m for m in got if m.startswith('Async.')]
    for name in ('pool.join', 'pool.eject', 'pool.designate_new_master', 'task.cancel',
                 'task.create', 'event.from', 'event.inject', 'host.get_record',
                 'VM.get_power_state', 'session.login_with_password',
                 'session.slave_local_login_with_password', 'host.propose_new_master'):
        assert name in got, name


@pytest.mark.parametrize('v2', [False, True])
def test_jsonrpc_list_is_the_result(lab, v2):
    got = jsonrpc(lab.hosts[0], 'system.listMethods', [], v2=v2)
    assert got['result'] == list(methods.LIST_METHODS)
    if not v2:
        assert got['error'] is None


def test_list_does_not_depend_on_call_history(lab):
    before = _listed(lab)
    s = sdk(lab.hosts[0])
    host = lab.hosts[0].ref
    s.xenapi.host_metrics.get_all()
    s.xenapi.host_get_name_label(host)           # obj_msg alias
    with pytest.raises(Exception):
        s.xenapi.host.no_such_message(host)
    assert _listed(lab) == before


def test_class_list_a_client_derives_from_it(lab):
    # NOTE: XenOrchestra's xen-api takes every ``<class>.get_all_records``;
    # xapi has none for session and event.
    types = {m.split('.')[0] for m in _listed(lab) if m.endswith('.get_all_records')}
    assert types == set(model.CLASSES) - {'session'}


def test_every_simulated_message_is_one_of_xapis():
    listed = set(methods.LIST_METHODS)
    assert set(methods._REGISTRY) <= listed
    assert set(MESSAGES) == set(model.CLASSES) | {'event'}


@pytest.mark.parametrize('name, code', [
    ('host.get_data_sources', 'NOT_IMPLEMENTED'),   # xapi has it; not modelled
    ('host_get_data_sources', 'NOT_IMPLEMENTED'),
    ('task.set_name_label', 'MESSAGE_METHOD_UNKNOWN'),   # task.name_label is RO
    ('session.get_all_records', 'MESSAGE_METHOD_UNKNOWN'),
    ('host.frobnicate', 'MESSAGE_METHOD_UNKNOWN'),
])
def test_unmodelled_and_unknown_messages(lab, name, code):
    s = sdk(lab.hosts[0])
    dotted = name if '.' in name else name.replace('_', '.', 1)
    expected = [code, dotted if code == 'NOT_IMPLEMENTED' else name]
    assert failure(getattr(s.xenapi, name), lab.hosts[0].ref) == expected
