"""What an eject destroys: the host's local SRs, their VDIs, the VMs losing disks.

XAPI knowledge only, read-only. ``ocaml/xapi/xapi_pool.ml`` ``eject_self``
unplugs the host's PBDs and ``SR.forget`` s every SR whose only PBD is the
host's (``unplug_pbds``; ``really_forget`` in ``ocaml/xapi/xapi_sr.ml``
destroys its VDIs), then the host reboots with its local storage
reinitialised. ``xe pool-eject`` (``pool_eject`` in
``ocaml/xapi-cli-server/cli_operations.ml``) warns of exactly those VDIs:
those of the SRs whose PBDs are on no other host. :func:`read_losses` reads
the same from the master, plus the VMs that lose a disk and the guests still
resident on the host (xapi refuses the eject while one is not halted).

XAPI round trips of :func:`read_losses` (5 or 6, all ``get_all_records``):
``host``, ``PBD``, ``SR``, ``VDI``, ``VM``, and ``VBD`` when a local SR holds
a VDI (which VM each disk belongs to).
"""

import dataclasses

from xenpool_driver.xapi import host as host_mod


@dataclasses.dataclass(frozen=True)
class LostSR:
    """An SR only the host plugs: ``SR.forget`` on eject."""

    uuid: str
    name_label: str
    type: str


@dataclasses.dataclass(frozen=True)
class LostVDI:
    """A disk on a local SR: destroyed by the eject."""

    uuid: str
    name_label: str
    virtual_size: int
    sr_uuid: str
    sr_name: str


@dataclasses.dataclass(frozen=True)
class LostVM:
    """A VM (no control domain) that loses disks, or is resident on the host.

    :ivar resident: resident on the host (not halted: the eject is refused
        until it is shut down or moved).
    :ivar disks: uuids of its VDIs on the host's local SRs.
    """

    uuid: str
    name_label: str
    power_state: str
    resident: bool
    disks: tuple = ()


@dataclasses.dataclass(frozen=True)
class Losses:
    """Everything an eject of ``host_uuid`` destroys (empty: nothing).

    :ivar srs: :class:`LostSR` s, by name.
    :ivar vdis: :class:`LostVDI` s, by SR then name.
    :ivar vms: :class:`LostVM` s, by name.
    """

    host_uuid: str
    srs: tuple = ()
    vdis: tuple = ()
    vms: tuple = ()

    @property
    def virtual_size(self):
        """Bytes of the VDIs lost (their virtual sizes)."""
        return sum(v.virtual_size for v in self.vdis)

    def __bool__(self):
        return bool(self.vdis or self.vms)

    def to_dict(self):
        """A JSON-friendly dict."""
        out = dataclasses.asdict(self)
        for vm in out['vms']:
            vm['disks'] = list(vm['disks'])
        out.update(srs=list(out['srs']), vdis=list(out['vdis']),
                   vms=list(out['vms']), virtual_size=self.virtual_size)
        return out


def _int(value):
    """An API int (a string over XML-RPC), 0 when unreadable."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def local_srs(host_ref, pbds, srs):
    """``{SR ref: record}`` of the SRs whose every PBD is ``host_ref``'s.

    xe's rule (``cli_operations.ml`` ``pool_eject``: no other host has a
    PBD of it), which is xapi's ``unplug_pbds`` rule (one PBD left).
    """
    hosts_of = {}
    for pbd in pbds.values():
        hosts_of.setdefault(pbd.get('SR'), set()).add(pbd.get('host'))
    return {ref: rec for ref, rec in srs.items()
            if hosts_of.get(ref) == {host_ref}}


def read_losses(master_session, host_uuid):
    """What ejecting ``host_uuid`` from its pool would destroy (read-only).

    :param master_session: :class:`XapiSession` on the pool master (a
        member's follows HOST_IS_SLAVE there).
    :param host_uuid: the host to be ejected.
    :returns: :class:`Losses` (empty when the host is not a member, or has
        nothing on local storage).
    :raises XapiUnavailable, XapiError: from the session.
    """
    host_ref = host_mod.find_ref(master_session.call('host.get_all_records'),
                                 host_uuid)
    if host_ref is None:
        return Losses(host_uuid)
    srs = local_srs(host_ref, master_session.call('PBD.get_all_records'),
                    master_session.call('SR.get_all_records'))
    vdis = {ref: rec for ref, rec in
            master_session.call('VDI.get_all_records').items()
            if rec.get('SR') in srs}
    vms = master_session.call('VM.get_all_records')
    vbds = master_session.call('VBD.get_all_records') if vdis else {}
    disks_of = {}
    for vbd in vbds.values():
        if vbd.get('VDI') in vdis:
            disks_of.setdefault(vbd.get('VM'), []).append(
                vdis[vbd['VDI']].get('uuid', ''))
    lost_vms = [
        LostVM(uuid=rec.get('uuid', ''), name_label=rec.get('name_label', ''),
               power_state=rec.get('power_state', ''),
               resident=rec.get('resident_on') == host_ref,
               disks=tuple(sorted(disks_of.get(ref, ()))))
        for ref, rec in vms.items()
        if not host_mod.as_bool(rec.get('is_control_domain', False)) and
        (ref in disks_of or rec.get('resident_on') == host_ref)]
    lost_vdis = [
        LostVDI(uuid=rec.get('uuid', ''), name_label=rec.get('name_label', ''),
                virtual_size=_int(rec.get('virtual_size')),
                sr_uuid=srs[rec['SR']].get('uuid', ''),
                sr_name=srs[rec['SR']].get('name_label', ''))
        for rec in vdis.values()]
    return Losses(
        host_uuid,
        srs=tuple(sorted((LostSR(rec.get('uuid', ''), rec.get('name_label', ''),
                                 rec.get('type', '')) for rec in srs.values()),
                         key=lambda s: (s.name_label, s.uuid))),
        vdis=tuple(sorted(lost_vdis, key=lambda v: (v.sr_name, v.name_label,
                                                    v.uuid))),
        vms=tuple(sorted(lost_vms, key=lambda v: (v.name_label, v.uuid))))
