"""cli.main: the command says in one line what to install without its extra."""

import configparser
import pathlib
import subprocess
import sys
import types

import pytest

from xenpool_driver.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _importer(**versions):
    def import_module(name):
        if versions.get(name) is None:
            raise ImportError(name)
        return types.SimpleNamespace(__version__=versions[name])
    return import_module


def test_cli_requirements_are_the_cli_extra():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    extra = [line.strip() for line in cfg['extras']['cli'].splitlines() if line.strip()]
    assert sorted(req for _m, req, _v in main.CLI_REQUIREMENTS) == sorted(extra)


@pytest.mark.parametrize('versions, missing', [
    ({'sqlalchemy': '2.0.30', 'tqdm': '4.66.1', 'cryptography': '3.3.2',
      'cliff': '4.7.0'}, []),
    ({'sqlalchemy': '1.3.24', 'tqdm': '4.66.1', 'cryptography': '46.0.1',
      'cliff': '4.7.0'}, ['SQLAlchemy>=2.0 (found 1.3.24)']),
    ({'sqlalchemy': '2.0.30', 'tqdm': '4.66.1', 'cryptography': '46.0.1',
      'cliff': '2.18.0'}, ['cliff>=3.4.0 (found 2.18.0)']),
    ({'sqlalchemy': None, 'tqdm': None, 'cryptography': None, 'cliff': None},
     ['SQLAlchemy>=2.0', 'tqdm>=4.60', 'cryptography>=3.3.2', 'cliff>=3.4.0']),
])
def test_missing_cli_requirements(versions, missing):
    assert main.missing_cli_requirements(_importer(**versions)) == missing


def test_a_module_without_version_is_read_from_its_distribution():
    """cliff has no ``__version__``: its distribution's version is read."""
    def import_module(name):
        return types.SimpleNamespace() if name == 'cliff' else \
            types.SimpleNamespace(__version__='99.0')
    assert main.missing_cli_requirements(import_module) == []


def test_without_the_extra_one_line_and_nothing_run(monkeypatch, capsys):
    monkeypatch.setattr(main, 'missing_cli_requirements',
                        lambda: ['SQLAlchemy>=2.0 (found 1.3.24)'])
    assert main.main(['aggregate', 'list']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    assert "pip install 'xenpool_driver[cli]'" in err and '1.3.24' in err


def test_without_the_extra_as_a_process(tmp_path):
    """A real interpreter where sqlalchemy is too old: one line, exit 1."""
    fake = tmp_path / 'sqlalchemy'
    fake.mkdir()
    (fake / '__init__.py').write_text("__version__ = '1.3.24'\n")
    code = ('import sys; sys.path.insert(0, %r); from xenpool_driver.cli import main; '
            'sys.exit(main.main(["aggregate", "list"]))' % str(tmp_path))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().count('\n') == 0, proc.stderr
    assert 'SQLAlchemy>=2.0 (found 1.3.24)' in proc.stderr
