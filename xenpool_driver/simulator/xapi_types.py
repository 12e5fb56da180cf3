"""xapi's value types as the simulator holds them: the null reference, the
epoch, the values of every enum a served field uses, and :func:`zero`, the
value of a type when the datamodel gives none.

Types are written as xapi's datamodel dump ``doc/data/xenapi.json`` writes
them (``string``, ``int``, ``VM ref``, ``string set``,
``(string -> string) map``, ``enum vm_power_state`` ...).
"""

import datetime

#: ``VDateTime Date.epoch``: the datamodel's default of many datetimes.
EPOCH = datetime.datetime(1970, 1, 1)
#: ``VRef ""``, as xapi's create functions pass it (``Ref.null``).
NULL = 'OpaqueRef:NULL'

#: Values of the enums the served fields use (``Enum`` declarations).
ENUMS = {
    'domain_type': ('hvm', 'pv', 'pv_in_pvh', 'pvh', 'unspecified',),
    'host_allowed_operations': ('provision', 'evacuate', 'shutdown', 'reboot', 'power_on',
        'vm_start', 'vm_resume', 'vm_migrate', 'apply_updates', 'enable',),
    'host_display': ('enabled', 'disable_on_reboot', 'disabled', 'enable_on_reboot',),
    'host_ntp_mode': ('DHCP', 'Custom', 'Factory', 'Disabled',),
    'host_numa_affinity_policy': ('any', 'best_effort', 'default_policy',),
    'ip_configuration_mode': ('None', 'DHCP', 'Static',),
    'ipv6_configuration_mode': ('None', 'DHCP', 'Static', 'Autoconf',),
    'latest_synced_updates_applied_state': ('yes', 'no', 'unknown',),
    'network_default_locking_mode': ('unlocked', 'disabled',),
    'network_operations': ('attaching',),
    'network_purpose': ('nbd', 'insecure_nbd',),
    'on_boot': ('reset', 'persist',),
    'on_crash_behaviour': ('destroy', 'coredump_and_destroy', 'restart',
        'coredump_and_restart', 'preserve', 'rename_restart',),
    'on_normal_exit': ('destroy', 'restart',),
    'on_softreboot_behavior': ('soft_reboot', 'destroy', 'restart', 'preserve',),
    'pif_igmp_status': ('enabled', 'disabled', 'unknown',),
    'pool_allowed_operations': ('ha_enable', 'ha_disable', 'cluster_create',
        'designate_new_master', 'configure_repositories', 'sync_updates', 'sync_bundle',
        'get_updates', 'apply_updates', 'tls_verification_enable', 'cert_refresh',
        'exchange_certificates_on_join', 'exchange_ca_certificates_on_join',
        'copy_primary_host_certs', 'eject', 'exchange_crls_on_join',),
    'primary_address_type': ('IPv4', 'IPv6',),
    'storage_operations': ('scan', 'destroy', 'forget', 'plug', 'unplug', 'update',
        'vdi_create', 'vdi_introduce', 'vdi_destroy', 'vdi_resize', 'vdi_clone',
        'vdi_snapshot', 'vdi_mirror', 'vdi_enable_cbt', 'vdi_disable_cbt', 'vdi_data_destroy',
        'vdi_list_changed_blocks', 'vdi_set_on_boot', 'vdi_blocked', 'vdi_copy',
        'vdi_force_unlock', 'vdi_forget', 'vdi_generate_config', 'vdi_resize_online',
        'vdi_update', 'vdi_revert', 'pbd_create', 'pbd_destroy',),
    'task_allowed_operations': ('cancel', 'destroy',),
    'task_status_type': ('pending', 'success', 'failure', 'cancelling', 'cancelled',),
    'telemetry_frequency': ('daily', 'weekly', 'monthly',),
    'tristate_type': ('yes', 'no', 'unspecified',),
    'update_guidances': ('reboot_host', 'reboot_host_on_livepatch_failure',
        'reboot_host_on_kernel_livepatch_failure', 'reboot_host_on_xen_livepatch_failure',
        'restart_toolstack', 'restart_device_model', 'restart_vm',),
    'update_sync_frequency': ('daily', 'weekly',),
    'vbd_mode': ('RO', 'RW',),
    'vbd_operations': ('attach', 'eject', 'insert', 'plug', 'unplug', 'unplug_force', 'pause',
        'unpause',),
    'vbd_type': ('CD', 'Disk', 'Floppy',),
    'vdi_operations': ('clone', 'copy', 'resize', 'resize_online', 'snapshot', 'mirror',
        'destroy', 'forget', 'update', 'force_unlock', 'generate_config', 'enable_cbt',
        'disable_cbt', 'data_destroy', 'list_changed_blocks', 'set_on_boot', 'blocked',
        'revert_to', 'revert_from',),
    'vdi_type': ('system', 'user', 'ephemeral', 'suspend', 'crashdump', 'ha_statefile',
        'metadata', 'redo_log', 'rrd', 'pvs_cache', 'cbt_metadata',),
    'vif_ipv4_configuration_mode': ('None', 'Static', 'DHCP',),
    'vif_ipv6_configuration_mode': ('None', 'Static', 'Autoconf',),
    'vif_locking_mode': ('network_default', 'locked', 'unlocked', 'disabled',),
    'vif_operations': ('attach', 'plug', 'unplug',),
    'vm_operations': ('snapshot', 'clone', 'copy', 'create_template', 'revert', 'checkpoint',
        'snapshot_with_quiesce', 'provision', 'start', 'start_on', 'pause', 'unpause',
        'clean_shutdown', 'clean_reboot', 'hard_shutdown', 'power_state_reset', 'hard_reboot',
        'suspend', 'csvm', 'resume', 'resume_on', 'pool_migrate', 'migrate_send',
        'get_boot_record', 'send_sysrq', 'send_trigger', 'query_services', 'shutdown',
        'call_plugin', 'changing_memory_live', 'awaiting_memory_live',
        'changing_dynamic_range', 'changing_static_range', 'changing_memory_limits',
        'changing_shadow_memory', 'changing_shadow_memory_live', 'changing_VCPUs',
        'changing_VCPUs_live', 'changing_NVRAM', 'assert_operation_valid', 'data_source_op',
        'update_allowed_operations', 'make_into_template', 'import', 'export',
        'metadata_export', 'reverting', 'destroy', 'create_vtpm', 'sysprep',),
    'vm_power_state': ('Halted', 'Paused', 'Running', 'Suspended',),
    'vm_secureboot_certificates_state': ('ok', 'update_available', 'update_on_boot',),
}


def zero(ty):
    """The value the simulator gives a field of type ``ty`` without a default."""
    if ty.endswith(' set'):
        return []
    if ty.endswith(' map'):
        return {}
    if ty.endswith(' ref'):
        return NULL
    if ty.startswith('enum '):
        return ENUMS[ty[5:]][0]
    return {'string': '', 'int': 0, 'float': 0.0, 'bool': False, 'datetime': EPOCH}[ty]
