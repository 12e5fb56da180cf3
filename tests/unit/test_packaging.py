"""Packaging: what the wheel carries, and ``python -m xenpool_driver``.

The wheel is built once for the module (a few seconds: pip's isolated build
of pbr and setuptools, no dependency resolved or installed) from a copy of the
work tree, so that the build neither writes into the checkout (pbr's AUTHORS,
ChangeLog, egg-info; setuptools' build/) nor picks up a stale build/lib.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _source_files():
    """The checkout's files as a clone would have them (plus new, unignored ones)."""
    listed = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
        cwd=ROOT, check=True, capture_output=True).stdout.decode()
    return [p for p in listed.split('\0') if p and os.path.isfile(os.path.join(ROOT, p))]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    if shutil.which('git') is None or not os.path.isdir(os.path.join(ROOT, '.git')):
        pytest.skip('needs a git checkout to list the sources')
    base = tmp_path_factory.mktemp('wheel')
    src, out = base / 'src', base / 'dist'
    for rel in _source_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dest)
    # NOTE: the copy has no .git: pbr takes the version from PBR_VERSION
    env = dict(os.environ, PBR_VERSION='0.0.0')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--disable-pip-version-check', '-w', str(out), str(src)],
                   check=True, env=env, capture_output=True)
    (path,) = out.glob('xenpool_driver-*.whl')
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        (meta,) = [n for n in names if n.endswith('.dist-info/METADATA')]
        return Wheel(names, zf.read(meta).decode())


class Wheel(list):
    """The wheel's file names, and its METADATA's text as ``metadata``."""

    def __init__(self, names, metadata):
        super().__init__(names)
        self.metadata = metadata


def test_wheel_carries_the_license(wheel):
    assert any(n.endswith('.dist-info/licenses/LICENSE') for n in wheel), wheel


def test_wheel_metadata_says_apache_2(wheel):
    # NOTE: setuptools writes License-Expression from an SPDX license where it can
    lines = wheel.metadata.splitlines()
    assert ('License: Apache-2.0' in lines or 'License-Expression: Apache-2.0' in lines), lines
    assert 'License-File: LICENSE' in lines


def test_wheel_carries_the_sample_configuration(wheel):
    # NOTE: pbr's [files] data_files: installed as <prefix>/etc/xenpool_driver/
    data = [n.split('.data/data/', 1)[1] for n in wheel if '.data/data/' in n]
    assert 'etc/xenpool_driver/xenpool_driver.conf.sample' in data, data
    assert 'etc/xenpool_driver/xenpool-driver-config-generator.conf' in data, data


def test_wheel_carries_main_and_the_nova_module(wheel):
    assert 'xenpool_driver/__main__.py' in wheel
    assert 'nova/virt/xenpool.py' in wheel


def test_license_is_the_apache_license_in_full():
    with open(os.path.join(ROOT, 'LICENSE')) as f:
        text = f.read()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'END OF TERMS AND CONDITIONS' in text   # the full text, not a notice


def _cli_missing():
    """What the command lacks here (tox -e nova installs the driver alone)."""
    try:
        from xenpool_driver.cli import main as cli_main
        return cli_main.missing_cli_requirements()
    except ImportError as exc:
        return [str(exc)]


@pytest.mark.skipif(bool(_cli_missing()), reason='the command needs the cli extra')
def test_python_m_xenpool_driver_help():
    done = subprocess.run([sys.executable, '-m', 'xenpool_driver', '--help'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('usage: xenpool'), done.stdout
