"""What happens to a pool's members after the join: ``pool.eject`` and
``host.destroy`` (a member leaves; :func:`forget_host` drops its records)
and ``pool.designate_new_master`` (another member becomes the master).

Eject and designate_new_master are forwarded to their target host as xapi's
``do_op_on`` (:func:`_forward_target`) and hold the pool operation lock
(:class:`~.pool_lock.PoolOp`); the restart that follows runs on the lab's
scheduler.
"""

from xenpool_driver.simulator import model
from xenpool_driver.simulator.errors import XapiError
from xenpool_driver.simulator.methods import api
from xenpool_driver.simulator.pool_lock import PoolOp


def _live(db, host_ref):
    metrics = db.get('host', host_ref)['metrics']
    return db.exists('host_metrics', metrics) and db.get('host_metrics', metrics)['live']


def _forward_target(call, host_ref):
    """The live, reachable host an op is forwarded to (xapi's ``do_op_on``).

    :raises XapiError: HOST_OFFLINE when not live, CANNOT_CONTACT_HOST when
        unreachable.
    """
    if not _live(call.db, host_ref):
        raise XapiError('HOST_OFFLINE', host_ref)
    target = call.lab.host_by_ref(host_ref)
    if target is None or not call.lab.reachable(call.host, target):
        raise XapiError('CANNOT_CONTACT_HOST', host_ref)
    return target


@api('pool.eject', 1, async_ok=True)
def pool_eject(call, host_ref):
    db, lab = call.db, call.lab
    db.get('host', host_ref)
    with PoolOp(call, 'eject'):
        target = _forward_target(call, host_ref)
        if target.is_master:
            raise XapiError('INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master')
        pool = db.get('pool', db.pool_ref())
        if pool['ha_enabled']:
            raise XapiError('HA_IS_ENABLED')
        for rec in db.records('VM').values():
            if (not rec['is_control_domain'] and rec['resident_on'] == host_ref
                    and rec['power_state'] != 'Halted'):
                raise XapiError('OPERATION_NOT_ALLOWED', 'VM resident on host')
        call.sleep(lab.timings.eject_duration)
        forget_host(db, host_ref)
    lab.after(lab.timings.fuse, lambda: lab.reboot_standalone(target))
    return ''


def forget_host(db, host_ref):
    """Remove a host and what only it had: dom0, PIFs, PBDs, local SRs.

    A local SR - one whose only PBD is this host's - goes with its VDIs, as
    ``unplug_pbds`` in ``ocaml/xapi/xapi_pool.ml`` (eject) has ``SR.forget``
    ``really_forget`` it in ``ocaml/xapi/xapi_sr.ml`` (its PBDs, its VDIs,
    the SR); the VBDs of those VDIs go at once (xapi's database GC removes
    them later). Guest VMs stay, halted, without those disks.
    """
    with db.lock:
        hrec = db.record('host', host_ref)
        for ref, vm in list(db.tables['VM'].items()):
            if vm['is_control_domain'] and vm['resident_on'] == host_ref:
                db.destroy('VM', ref)
                for cls, link in (('VM_metrics', vm['metrics']),
                                  ('VM_guest_metrics', vm['guest_metrics'])):
                    if db.exists(cls, link):
                        db.destroy(cls, link)
            elif vm['resident_on'] == host_ref:
                db.set('VM', ref, resident_on=model.NULL, power_state='Halted')
        for ref in hrec['PIFs']:
            db.destroy('PIF', ref)
        for ref in hrec['PBDs']:
            sr = db.get('PBD', ref)['SR']
            db.destroy('PBD', ref)
            if db.exists('SR', sr) and not db.record('SR', sr)['PBDs']:
                _forget_sr(db, sr)
        db.destroy('host', host_ref)
        if db.exists('host_metrics', hrec['metrics']):
            db.destroy('host_metrics', hrec['metrics'])


def _forget_sr(db, sr):
    """An SR with no PBD left: its VDIs (and their VBDs), then the SR."""
    for vdi in db.find('VDI', SR=sr):
        for vbd in db.find('VBD', VDI=vdi):
            db.destroy('VBD', vbd)
        db.destroy('VDI', vdi)
    db.destroy('SR', sr)


@api('pool.designate_new_master', 1, async_ok=True)
def designate_new_master(call, host_ref):
    db, lab = call.db, call.lab
    db.get('host', host_ref)
    with PoolOp(call, 'designate_new_master'):
        target = _forward_target(call, host_ref)
        if target.is_master:
            return ''
        if db.get('pool', db.pool_ref())['ha_enabled']:
            raise XapiError('HA_IS_ENABLED')
        call.sleep(lab.timings.designate_duration)
        # NOTE: dbsync_master.ml: pool.master is set by the new master once it
        # has booted as master (Lab.switch_master), not here.
    lab.after(lab.timings.fuse, lambda: lab.switch_master(db, target))
    return ''


@api('host.destroy', 1, async_ok=True)
def host_destroy(call, host_ref):
    db = call.db
    db.get('host', host_ref)
    # NOTE: xapi_host.ml is_host_alive: a host the database says is live is
    # asked; one that does not answer is dead, whatever host_metrics say.
    target = call.lab.host_by_ref(host_ref)
    alive = (_live(db, host_ref) and target is not None
             and call.lab.reachable(call.host, target))
    if alive or host_ref == call.host.ref:
        raise XapiError('HOST_IS_LIVE', host_ref)
    if db.get('pool', db.pool_ref())['ha_enabled']:
        raise XapiError('HA_IS_ENABLED')
    for rec in db.records('VM').values():
        if not rec['is_control_domain'] and rec['resident_on'] == host_ref:
            raise XapiError('HOST_HAS_RESIDENT_VMS', host_ref)
    forget_host(db, host_ref)
    return ''
