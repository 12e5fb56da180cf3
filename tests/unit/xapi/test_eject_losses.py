"""What an eject destroys, read from the master (session autospec'd).

``ocaml/xapi/xapi_pool.ml`` eject_self: ``unplug_pbds`` forgets every SR
whose only PBD is the ejected host's, and ``really_forget``
(``ocaml/xapi/xapi_sr.ml``) destroys its VDIs; ``xe pool-eject``
(``ocaml/xapi-cli-server/cli_operations.ml``) lists those VDIs first.
"""

import pytest

from xenpool_driver.xapi import eject_losses
from xenpool_driver.xapi import session as xsession

H1, H2 = 'OpaqueRef:h1', 'OpaqueRef:h2'
GIB = 1024 ** 3


@pytest.fixture
def sess(mocker):
    s = mocker.create_autospec(xsession.XapiSession, instance=True)
    s.address = '192.0.2.1'
    return s


def _pool(vdis=True):
    records = {
        'host.get_all_records': {H1: {'uuid': 'u1'}, H2: {'uuid': 'u2'}},
        'PBD.get_all_records': {
            'OpaqueRef:p1': {'host': H2, 'SR': 'OpaqueRef:local2'},
            'OpaqueRef:p2': {'host': H2, 'SR': 'OpaqueRef:nfs'},
            'OpaqueRef:p3': {'host': H1, 'SR': 'OpaqueRef:nfs'},
            'OpaqueRef:p4': {'host': H1, 'SR': 'OpaqueRef:local1'},
            'OpaqueRef:p5': {'host': H2, 'SR': 'OpaqueRef:tools'},
            'OpaqueRef:p6': {'host': H1, 'SR': 'OpaqueRef:tools'},
        },
        'SR.get_all_records': {
            'OpaqueRef:local2': {'uuid': 'sr2', 'name_label': 'Local storage',
                                 'type': 'ext'},
            'OpaqueRef:local1': {'uuid': 'sr1', 'name_label': 'Local storage',
                                 'type': 'ext'},
            'OpaqueRef:nfs': {'uuid': 'srn', 'name_label': 'NFS', 'type': 'nfs'},
            'OpaqueRef:tools': {'uuid': 'srt', 'name_label': 'Tools', 'type': 'iso'},
        },
        'VDI.get_all_records': {
            'OpaqueRef:d-root': {'uuid': 'root', 'name_label': 'web root',
                                 'virtual_size': str(20 * GIB),
                                 'SR': 'OpaqueRef:local2'},
            'OpaqueRef:d-scratch': {'uuid': 'scratch', 'name_label': 'scratch',
                                    'virtual_size': str(GIB), 'SR': 'OpaqueRef:local2'},
            'OpaqueRef:d-shared': {'uuid': 'shared', 'name_label': 'db data',
                                   'virtual_size': str(GIB), 'SR': 'OpaqueRef:nfs'},
            'OpaqueRef:d-other': {'uuid': 'other', 'name_label': 'other host',
                                  'virtual_size': str(GIB), 'SR': 'OpaqueRef:local1'},
        } if vdis else {},
        'VM.get_all_records': {
            'OpaqueRef:dom0': {'uuid': 'dom0', 'name_label': 'Control domain',
                               'is_control_domain': True, 'resident_on': H2,
                               'power_state': 'Running'},
            'OpaqueRef:web': {'uuid': 'web', 'name_label': 'web',
                              'is_control_domain': False,
                              'resident_on': 'OpaqueRef:NULL', 'power_state': 'Halted'},
            'OpaqueRef:db': {'uuid': 'db', 'name_label': 'db',
                             'is_control_domain': False,
                             'resident_on': H1, 'power_state': 'Running'},
            'OpaqueRef:busy': {'uuid': 'busy', 'name_label': 'busy',
                               'is_control_domain': False,
                               'resident_on': H2, 'power_state': 'Running'},
        },
        'VBD.get_all_records': {
            'OpaqueRef:b1': {'VM': 'OpaqueRef:web', 'VDI': 'OpaqueRef:d-root'},
            'OpaqueRef:b2': {'VM': 'OpaqueRef:db', 'VDI': 'OpaqueRef:d-shared'},
            'OpaqueRef:b3': {'VM': 'OpaqueRef:dom0', 'VDI': 'OpaqueRef:d-scratch'},
        },
    }
    return lambda method: records[method]


def _calls(sess):
    return [c.args[0] for c in sess.call.call_args_list]


def test_the_vdis_of_the_srs_only_the_host_plugs_are_lost(sess):
    sess.call.side_effect = _pool()
    losses = eject_losses.read_losses(sess, 'u2')
    assert losses.srs == (eject_losses.LostSR('sr2', 'Local storage', 'ext'),)
    assert losses.vdis == (
        eject_losses.LostVDI('scratch', 'scratch', GIB, 'sr2', 'Local storage'),
        eject_losses.LostVDI('root', 'web root', 20 * GIB, 'sr2', 'Local storage'))
    assert losses.virtual_size == 21 * GIB
    # web loses its disk; busy is still running there (xapi refuses the
    # eject until it is halted); dom0 and db (shared disk, elsewhere) lose nothing
    assert losses.vms == (
        eject_losses.LostVM('busy', 'busy', 'Running', resident=True, disks=()),
        eject_losses.LostVM('web', 'web', 'Halted', resident=False, disks=('root',)))
    assert _calls(sess) == ['host.get_all_records', 'PBD.get_all_records',
                            'SR.get_all_records', 'VDI.get_all_records',
                            'VM.get_all_records', 'VBD.get_all_records']
    data = losses.to_dict()
    assert data['virtual_size'] == 21 * GIB and data['vms'][1]['disks'] == ['root']
    assert data['vdis'][0] == {'uuid': 'scratch', 'name_label': 'scratch',
                               'virtual_size': GIB, 'sr_uuid': 'sr2',
                               'sr_name': 'Local storage'}


def test_without_local_disks_no_vbd_is_read(sess):
    sess.call.side_effect = _pool(vdis=False)
    losses = eject_losses.read_losses(sess, 'u2')
    assert losses.vdis == () and [v.uuid for v in losses.vms] == ['busy']
    assert 'VBD.get_all_records' not in _calls(sess)


def test_a_host_that_is_not_a_member_loses_nothing(sess):
    sess.call.side_effect = _pool()
    losses = eject_losses.read_losses(sess, 'gone')
    assert losses == eject_losses.Losses('gone') and not losses
    assert _calls(sess) == ['host.get_all_records']
