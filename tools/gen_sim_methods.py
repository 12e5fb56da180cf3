#!/usr/bin/env python3
"""Regenerate ``xenpool_driver/simulator/xapi_messages.py`` from xapi's datamodel.

Usage: ``python tools/gen_sim_methods.py <xen-api checkout or git dir> [commit]``

xapi answers ``system.listMethods`` with the sync wire name of every
client-side message of every class (``ocaml/idl/ocaml_backend/gen_server.ml``:
``DU.wire_name ~sync:true`` over ``Gen_client.client_api ~sync:true``).
This script rebuilds that list for the classes the simulator models from
two sources in the xen-api repository:

* ``doc/data/xenapi.json``: xapi's own dump of the datamodel (every class,
  field and message, implicit getters/setters included; written by
  ``ocaml/idl/json_backend/gen_json.ml``), which leaves out messages hidden
  from the docs and is regenerated only now and then;
* the ``~messages:[...]`` list of each class in ``ocaml/idl/datamodel*.ml``
  at ``commit``, for the explicit messages the dump misses (hidden or newer).

Fields added after the dump was written are listed in :data:`NEW_FIELDS`
(read by hand from ``datamodel_host.ml`` / ``datamodel_pool.ml``); their
implicit messages follow ``Datamodel_utils.new_messages_of_field``.
"""

import json
import os
import re
import subprocess
import sys

#: Classes the simulator models: datamodel identifier -> wire class name.
CLASSES = {'_session': 'session', '_task': 'task', '_event': 'event', '_pool': 'pool',
           '_host': 'host', '_host_metrics': 'host_metrics', '_vm': 'VM', '_sr': 'SR',
           '_pbd': 'PBD', '_pif': 'PIF', '_network': 'network', '_vif': 'VIF',
           '_vbd': 'VBD', '_vdi': 'VDI', '_vm_metrics': 'VM_metrics',
           '_vm_guest_metrics': 'VM_guest_metrics'}

#: Public fields in the datamodel at the pinned commit and not in xenapi.json:
#: class -> [(field, qualifier, kind)]; kind is 'map', 'set' or 'value'.
NEW_FIELDS = {
    'host': [(f, 'DynamicRO', 'value') for f in (
        'ssh_enabled', 'ssh_enabled_timeout', 'ssh_expiry', 'console_idle_timeout',
        'ssh_auto_mode', 'max_cstate', 'secure_boot', 'ntp_mode', 'timezone')]
    + [('ntp_custom_servers', 'DynamicRO', 'set')],
    'pool': [('ext_auth_cache_enabled', 'DynamicRO', 'value'),
             ('ext_auth_cache_size', 'DynamicRO', 'value'),
             ('ext_auth_cache_expiry', 'DynamicRO', 'value'),
             ('recommendations', 'DynamicRO', 'map'),
             ('license_server', 'RW', 'map'),
             ('ha_reboot_vm_on_internal_shutdown', 'RW', 'value'),
             ('limit_console_sessions', 'RW', 'value'),
             ('vm_console_idle_timeout', 'RW', 'value'),
             ('auto_update_vm_secureboot_certificates', 'RW', 'value')],
    'VM': [('groups', 'DynamicRO', 'set'),
           ('secureboot_certificates_state', 'DynamicRO', 'value')],
    'VIF': [('trunks', 'DynamicRO', 'set')],
    'VM_metrics': [('numa_optimised', 'DynamicRO', 'value'),
                   ('numa_nodes', 'DynamicRO', 'value'),
                   ('numa_node_memory', 'DynamicRO', 'map')],
    'VM_guest_metrics': [('netbios_name', 'DynamicRO', 'map'),
                         ('services', 'DynamicRO', 'map')],
}

OUT = os.path.join(os.path.dirname(__file__), '..', 'xenpool_driver', 'simulator',
                   'xapi_messages.py')


def _git(repo, commit, path):
    return subprocess.run(['git', '--git-dir', repo, 'show', '%s:%s' % (commit, path)],
                          check=True, capture_output=True, text=True).stdout


def _git_dir(path):
    return path if os.path.exists(os.path.join(path, 'HEAD')) else os.path.join(path, '.git')


def _field_messages(name, qualifier, kind):
    msgs = ['get_' + name]
    if qualifier == 'RW':
        msgs.append('set_' + name)
        if kind == 'map':
            msgs += ['add_to_' + name, 'remove_from_' + name]
        elif kind == 'set':
            msgs += ['add_' + name, 'remove_' + name]
    return msgs


def _explicit(sources):
    """class -> explicit message names from each create_obj's ~messages list."""
    allsrc = '\n'.join(sources.values())
    decl = {}
    for m in re.finditer(r'\blet\s+(\w+)\s*=\s*call\b(.{0,600}?)~name:"(\w+)"', allsrc, re.S):
        decl.setdefault(m.group(1), set()).add(m.group(3))
    found = {}
    for src in sources.values():
        for m in re.finditer(r'create_obj\b', src):
            head = src[m.start(): m.start() + 1500]
            ident = re.search(r'~name:\s*(_\w+)\b', head)
            if ident is None or ident.group(1) not in CLASSES or '~messages:' not in head:
                continue
            lb = src.index('[', src.index('~messages:', m.start()))
            depth = 0
            for end in range(lb, len(src)):
                depth += {'[': 1, ']': -1}.get(src[end], 0)
                if depth == 0:
                    break
            body = re.sub(r'\(\*.*?\*\)', '', src[lb + 1:end], flags=re.S)
            names = []
            for item in (x.strip() for x in body.split(';')):
                base = item.split('.')[-1]
                if len(decl.get(base, ())) == 1:
                    names.append(next(iter(decl[base])))
            found[CLASSES[ident.group(1)]] = names
    return found


def generate(repo, commit='HEAD'):
    repo = _git_dir(repo)
    commit = subprocess.run(['git', '--git-dir', repo, 'rev-parse', commit], check=True,
                            capture_output=True, text=True).stdout.strip()
    dump = {o['name']: o for o in json.loads(_git(repo, commit, 'doc/data/xenapi.json'))}
    files = subprocess.run(['git', '--git-dir', repo, 'ls-tree', '--name-only', commit,
                            'ocaml/idl/'], check=True, capture_output=True,
                           text=True).stdout.split()
    sources = {f: _git(repo, commit, f) for f in files
               if os.path.basename(f).startswith('datamodel') and f.endswith('.ml')}
    explicit = _explicit(sources)
    table = {}
    for wire in CLASSES.values():
        names = [m['name'] for m in dump[wire]['messages']]
        names += explicit.get(wire, [])
        for field in NEW_FIELDS.get(wire, ()):
            names += _field_messages(*field)
        table[wire] = tuple(sorted(set(names)))
    return commit, table


def render(commit, table):
    out = ['"""xapi\'s messages for the classes the simulator models: static data.',
           '',
           'GENERATED by ``tools/gen_sim_methods.py`` from xapi-project/xen-api at',
           'commit %s (``doc/data/xenapi.json`` plus the' % commit[:12],
           '``~messages`` lists of ``ocaml/idl/datamodel*.ml``); do not edit by hand.',
           '``system.listMethods`` answers these names (sync names only, as',
           '``ocaml/idl/ocaml_backend/gen_server.ml`` does).',
           '"""',
           '',
           'XAPI_COMMIT = %r' % commit,
           '',
           '#: wire class name -> names of its messages (without the class prefix).',
           'MESSAGES = {']
    for cls, names in table.items():
        out.append('    %r: (' % cls)
        line = '       '
        for n in names:
            item = ' %r,' % n
            if len(line) + len(item) > 95:
                out.append(line)
                line = '       '
            line += item
        out.append(line)
        out.append('    ),')
    out.append('}')
    return '\n'.join(out) + '\n'


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    commit, table = generate(argv[1], argv[2] if len(argv) > 2 else 'HEAD')
    with open(OUT, 'w') as f:
        f.write(render(commit, table))
    print('%s: %d messages' % (os.path.normpath(OUT), sum(map(len, table.values()))))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
