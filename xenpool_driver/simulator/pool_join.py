"""``pool.join`` and ``pool.join_force`` as xapi performs them: the pre-join
checks (:mod:`.pool_join_checks`), then the joiner's records re-created on
the master (:func:`absorb`) and the joiner's restart as a slave.

The joiner talks to the master over real HTTP (login, pool and host
records, :class:`MasterClient`); the import of its records into the
master's database is done in process (see doc/simulator.md).
"""

import http.client
import ssl
import xmlrpc.client

from xenpool_driver.simulator import model
from xenpool_driver.simulator.errors import NoRoute, XapiError
from xenpool_driver.simulator.methods import api
from xenpool_driver.simulator.pool_join_checks import pre_join_checks
from xenpool_driver.simulator.pool_lock import PoolOp


class MasterClient(object):
    """A minimal xapi client one simulated host uses to reach another."""

    def __init__(self, url):
        ctx = ssl._create_unverified_context() if url.startswith('https') else None
        self.proxy = xmlrpc.client.ServerProxy(url, context=ctx, allow_none=True)

    def call(self, method, *params):
        try:
            result = getattr(self.proxy, method)(*params)
        except (ConnectionError, OSError, http.client.RemoteDisconnected):
            raise XapiError('JOINING_HOST_CONNECTION_FAILED')
        except (xmlrpc.client.ProtocolError, xmlrpc.client.Fault,
                http.client.HTTPException):
            raise XapiError('JOINING_HOST_SERVICE_FAILED')
        if not isinstance(result, dict) or 'Status' not in result:
            raise XapiError('JOINING_HOST_SERVICE_FAILED')
        if result['Status'] == 'Success':
            return result.get('Value', '')
        raise XapiError(*result['ErrorDescription'])

    def close(self):
        self.proxy('close')()


@api('pool.join', 3, async_ok=True)
def pool_join(call, master_address, master_username, master_password):
    return _join(call, master_address, master_username, master_password, force=False)


@api('pool.join_force', 3, async_ok=True)
def pool_join_force(call, master_address, master_username, master_password):
    return _join(call, master_address, master_username, master_password, force=True)


def _join(call, address, username, password, force):
    host, lab = call.host, call.lab
    if not host.spec.pooling_licensed:
        raise XapiError('LICENCE_RESTRICTION')
    try:
        url = lab.route(host, address)
    except NoRoute:
        raise XapiError('JOINING_HOST_CONNECTION_FAILED')
    client = MasterClient(url)
    try:
        session = client.call('session.login_with_password', username, password,
                              '2.21', 'xapi')
        try:
            pools = client.call('pool.get_all', session)
            if len(pools) != 1:
                raise XapiError('INTERNAL_ERROR', 'Should get only one pool')
            pool_rec = client.call('pool.get_record', session, pools[0])
            hosts = client.call('host.get_all_records', session)
            pifs = client.call('PIF.get_all_records', session)
            pre_join_checks(call, force, pool_rec, hosts, pifs)
            master = lab.host_at(address)
            # NOTE: step 5, exchange_certificates_on_join, is a waiting pool
            # op on the master (in the master's own task: the join's task
            # does not become cancellable).
            with PoolOp(call, 'exchange_certificates_on_join', db=master.db,
                        ref=model.new_ref(), cancellable=False):
                pass
            call.sleep(lab.timings.join_duration)
            new_ref = absorb(master.db, host)
        finally:
            try:
                client.call('session.logout', session)
            except XapiError:
                pass
    finally:
        client.close()
    # NOTE: xapi_fuse.ml: the joiner keeps its own database, pool object
    # included, and answers from it until its xapi restarts as a slave.
    host.joined = True
    lab.after(lab.timings.fuse, lambda: lab.become_slave(host, master, address, new_ref))
    return ''


def absorb(mdb, joiner):
    """The master's database gains the joiner: host (disabled, not live),
    its metrics, VMs incl. dom0 (with their metrics), local SRs with their
    VDIs, PBDs, PIFs, VBDs, networks by bridge.

    As ``create_or_get_*_on_master`` in ``ocaml/xapi/xapi_pool.ml``: every
    record is created anew on the master (``Host.create``, ``SR.introduce``,
    ``PIF.pool_introduce``, the metadata import): NEW refs, the SAME uuids;
    the references between them are re-pointed (a reference to a joiner
    record not brought over becomes ``OpaqueRef:NULL``).

    :returns: the joiner's new host ref in the master's database.
    """
    jdb = joiner.db
    with mdb.lock, jdb.lock:
        refs = {model.NULL: model.NULL}
        bridges = {rec['bridge']: ref for ref, rec in mdb.tables['network'].items()}
        tools = [r for r, s in mdb.tables['SR'].items() if s['is_tools_sr']]
        plan = []                       # (class, old ref, extra fields)
        for ref, rec in jdb.tables['network'].items():
            if rec['bridge'] in bridges:
                refs[ref] = bridges[rec['bridge']]
            else:
                plan.append(('network', ref, {}))
        for ref, rec in jdb.tables['SR'].items():
            if rec['is_tools_sr'] and tools:
                refs[ref] = tools[0]
            else:
                plan.append(('SR', ref, dict(shared=False)))
        hrec = jdb.get('host', joiner.ref)
        plan.append(('host_metrics', hrec['metrics'], dict(live=False)))
        plan.append(('host', joiner.ref, dict(enabled=False, allowed_operations=[])))
        for cls in ('PIF', 'PBD'):
            plan.extend((cls, ref, {}) for ref in jdb.tables[cls])
        brought = {ref for cls, ref, _extra in plan if cls == 'SR'}
        # NOTE: the VDIs of the SRs introduced (SR.introduce + scan), and the
        # VBDs of the VMs (the metadata import)
        plan.extend(('VDI', ref, {}) for ref, rec in jdb.tables['VDI'].items()
                    if rec['SR'] in brought)
        plan.extend(('VBD', ref, {}) for ref in jdb.tables['VBD'])
        for ref, rec in jdb.tables['VM'].items():
            for cls, link in (('VM_metrics', rec['metrics']),
                              ('VM_guest_metrics', rec['guest_metrics'])):
                if jdb.exists(cls, link):
                    plan.append((cls, link, {}))
            plan.append(('VM', ref, {}))
        for cls, ref, _extra in plan:
            refs[ref] = model.new_ref()

        def repoint(value):
            if isinstance(value, str) and value.startswith('OpaqueRef:'):
                return refs.get(value, model.NULL)
            if isinstance(value, list):
                return [repoint(v) for v in value]
            return value

        for cls, ref, extra in plan:
            rec = {k: repoint(v) for k, v in _fields(jdb.get(cls, ref)).items()}
            rec.update(extra)
            mdb.create(cls, ref=refs[ref], **rec)
        return refs[joiner.ref]


def _fields(rec):
    import copy
    return copy.deepcopy(rec)
