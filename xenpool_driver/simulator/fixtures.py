"""Host fixtures: what a simulated host looks like when it (re)boots standalone.

A :class:`HostSpec` carries every property a pre-join check looks at, so a
test can build a host that trips exactly one check. :func:`build_standalone`
turns a spec into a fresh single-host pool database, as firstboot does.
Disks are :class:`VDISpec`: a VM's (:attr:`VMSpec.disks`, each plugged by a
VBD) or a host's own (:attr:`HostSpec.vdis`, attached to no VM), on the
host's ``Local storage`` SR or on one of its shared SRs.
"""

import dataclasses

from xenpool_driver.simulator import model

#: The name of every host's local storage SR (``sr`` of a :class:`VDISpec`).
LOCAL_SR = 'Local storage'


@dataclasses.dataclass
class VDISpec:
    """A virtual disk: on the host's local SR, or on a shared SR of the spec."""

    name: str = 'disk'
    virtual_size: int = 10 * 1024 ** 3
    sr: str = LOCAL_SR                   # LOCAL_SR, or a name in HostSpec.shared_srs


@dataclasses.dataclass
class VMSpec:
    """A guest VM on a host's local storage."""

    name: str = 'vm'
    power_state: str = 'Halted'          # Halted | Running | Paused | Suspended
    current_operations: dict = dataclasses.field(default_factory=dict)
    is_a_template: bool = False
    disks: list = dataclasses.field(default_factory=list)    # of VDISpec


@dataclasses.dataclass
class HostSpec:
    """A simulated host's build; defaults model an XCP-ng 8.3 host."""

    name: str = ''
    product_brand: str = 'XCP-ng'
    product_version: str = '8.3.0'
    platform_name: str = 'XCP'
    platform_version: str = '3.4.0'
    xapi_version: str = '24.19'
    git_id: str = 'sim'
    xs_linux: bool = False
    network_backend: str = 'openvswitch'
    db_schema: str = '5.786'
    api_version: tuple = (2, 21)
    edition: str = 'xcp-ng'
    cpu_vendor: str = 'GenuineIntel'
    management_vlan: int = -1
    tls_verification: bool = True
    external_auth_type: str = ''
    external_auth_service_name: str = ''
    pooling_licensed: bool = True
    restrict_pool_size: bool = False
    ha_enabled: bool = False
    vms: list = dataclasses.field(default_factory=list)
    shared_srs: list = dataclasses.field(default_factory=list)   # SR names
    vdis: list = dataclasses.field(default_factory=list)   # VDISpec of no VM
    memory_total: int = 64 * 1024 ** 3

    def software_version(self):
        sv = {
            'product_version': self.product_version,
            'product_version_text': self.product_version.rsplit('.', 1)[0],
            'product_version_text_short': self.product_version.rsplit('.', 1)[0],
            'platform_name': self.platform_name,
            'platform_version': self.platform_version,
            'product_brand': self.product_brand,
            'build_number': 'release/sim',
            'git_id': self.git_id,
            'hostname': 'localhost',
            'date': '2026-01-01',
            'xapi': self.xapi_version,
            'xapi_build': self.xapi_version + '.0',
            'xen': '4.17.5',
            'linux': '4.19.0+1',
            'network_backend': self.network_backend,
            'db_schema': self.db_schema,
        }
        if self.xs_linux:
            sv['xs:linux'] = '1.0'
        return sv


def build_standalone(spec, host_uuid, address, name, keep_guests=True):
    """A fresh database of a standalone host (its own pool, master of itself).

    :param keep_guests: False after an eject: local VMs, their disks and
        shared SRs are gone (the local SR was reinitialised).
    :returns: (database, host ref).
    """
    db = model.Database()
    host = _create_host(db, spec, host_uuid, address, name)
    _create_dom0(db, host, name)
    _create_management_network(db, spec, host, address)
    local = _create_local_srs(db, host)
    if keep_guests:
        _create_guests(db, spec, host, local)
    db.create('pool', master=host, default_SR=local, ha_enabled=spec.ha_enabled,
              cpu_info=_cpu(spec), tls_verification_enabled=spec.tls_verification,
              restrictions=_restrictions(spec))
    return db, host


def _create_host(db, spec, host_uuid, address, name):
    """The host record and its live host_metrics.

    :returns: the host ref.
    """
    host = model.new_ref()
    metrics = db.create('host_metrics', live=True, memory_total=spec.memory_total,
                        memory_free=spec.memory_total // 2, last_updated=model.now())
    db.create('host', ref=host, uuid=host_uuid, name_label=name, hostname=name,
              address=address, enabled=True, metrics=metrics,
              API_version_major=spec.api_version[0], API_version_minor=spec.api_version[1],
              software_version=spec.software_version(), edition=spec.edition,
              editions=[spec.edition], cpu_info=_cpu(spec),
              license_params=_restrictions(spec),
              external_auth_type=spec.external_auth_type,
              external_auth_service_name=spec.external_auth_service_name,
              tls_verification_enabled=spec.tls_verification,
              allowed_operations=['provision', 'evacuate', 'shutdown', 'reboot',
                                  'vm_start', 'vm_migrate'])
    return host


def _create_dom0(db, host, name):
    """The control domain, running on ``host`` (``host.control_domain``)."""
    # NOTE: create_misc.ml: dom0 runs with domid 0; every VM has its
    # VM_metrics (xapi_vm.ml create), none has guest metrics without tools.
    dom0 = db.create('VM', name_label='Control domain on host: ' + name,
                     is_control_domain=True, power_state='Running', resident_on=host,
                     domid=0, VCPUs_max=8, VCPUs_at_startup=8,
                     metrics=db.create('VM_metrics', VCPUs_number=8,
                                       last_updated=model.now()))
    db.set('host', host, control_domain=dom0)


def _create_management_network(db, spec, host, address):
    """eth0's network and PIF; the management PIF is eth0 itself, or a VLAN
    on it when ``spec.management_vlan`` is set."""
    net = db.create('network', name_label='Pool-wide network associated with eth0',
                    bridge='xenbr0')
    pif = dict(device='eth0', host=host, MTU=1500, currently_attached=True)
    if spec.management_vlan >= 0:
        vnet = db.create('network', name_label='mgmt VLAN %d' % spec.management_vlan,
                         bridge='xapi%d' % spec.management_vlan)
        db.create('PIF', network=net, physical=True, **pif)
        db.create('PIF', network=vnet, management=True, VLAN=spec.management_vlan,
                  IP=address, netmask='255.0.0.0', ip_configuration_mode='Static',
                  physical=False, **pif)
    else:
        db.create('PIF', network=net, management=True, IP=address, netmask='255.0.0.0',
                  ip_configuration_mode='Static', physical=True, **pif)


def _create_local_srs(db, host):
    """Local storage and the tools ISO SR, each plugged by a PBD.

    :returns: the local storage SR ref (the pool's default SR).
    """
    local = db.create('SR', name_label='Local storage', type='ext', content_type='user')
    db.create('PBD', host=host, SR=local, device_config={'device': '/dev/sda3'},
              currently_attached=True)
    tools = db.create('SR', name_label='XCP-ng Tools', type='iso', content_type='iso',
                      shared=True, is_tools_sr=True)
    db.create('PBD', host=host, SR=tools, currently_attached=True,
              device_config={'location': '/opt/xensource/packages/iso'})
    return local


def _create_guests(db, spec, host, local):
    """The spec's shared SRs (plugged by a PBD), guest VMs and disks."""
    srs = {LOCAL_SR: local}
    for sr_name in spec.shared_srs:
        sr = db.create('SR', name_label=sr_name, type='nfs', content_type='user',
                       shared=True)
        db.create('PBD', host=host, SR=sr, device_config={'server': 'nfs'},
                  currently_attached=True)
        srs[sr_name] = sr
    for i, vm in enumerate(spec.vms):
        running = vm.power_state in ('Running', 'Paused')
        ref = db.create('VM', name_label=vm.name, power_state=vm.power_state,
                        resident_on=host if running else model.NULL,
                        domid=i + 1 if running else -1,
                        current_operations=dict(vm.current_operations),
                        is_a_template=vm.is_a_template, VCPUs_max=1,
                        VCPUs_at_startup=1,
                        metrics=db.create('VM_metrics',
                                          VCPUs_number=1 if running else 0,
                                          last_updated=model.now()))
        for position, disk in enumerate(vm.disks):
            vdi = _create_vdi(db, srs, disk)
            db.create('VBD', VM=ref, VDI=vdi, userdevice=str(position),
                      device='xvd' + 'abcdefgh'[position % 8], bootable=position == 0,
                      mode='RW', type='Disk', currently_attached=running)
    for disk in spec.vdis:
        _create_vdi(db, srs, disk)


def _create_vdi(db, srs, disk):
    """A VDI of ``disk`` on its SR (``srs``: name -> ref)."""
    if disk.sr not in srs:
        raise KeyError('VDI %r is on SR %r, which the host does not have'
                       % (disk.name, disk.sr))
    return db.create('VDI', name_label=disk.name, SR=srs[disk.sr],
                     virtual_size=int(disk.virtual_size),
                     physical_utilisation=int(disk.virtual_size) // 4,
                     type='user', sharable=False, read_only=False, managed=True,
                     missing=False, location=model.new_uuid())


def _restrictions(spec):
    """The licence restrictions of ``spec``: ``host.license_params`` and
    ``pool.restrictions`` hold the same map."""
    return {'restrict_pooling': str(not spec.pooling_licensed).lower(),
            'restrict_pool_size': str(spec.restrict_pool_size).lower()}


def _cpu(spec):
    return {'vendor': spec.cpu_vendor, 'cpu_count': '8', 'socket_count': '1',
            'speed': '2400.000', 'family': '6', 'model': '85', 'features': 'sim'}
