"""The configuration the project shows can be used as it is shown.

Every ``ini`` block of the README, and the generated sample with every
commented option uncommented, is loaded the way the command loads its file
(``conf.build`` with ``[store]`` registered) and every option of every group is
read: oslo.config parses values lazily, on access, so a file that loads can
still hold a value that fails (a ``$`` substitution, a bad number). Two
mistakes a reader copies without noticing are checked too: an inline comment
(oslo.config keeps ``# ...`` after a value as part of the value) and a key
that names no option (oslo.config ignores it silently).
"""

import configparser
import os
import re

import pytest

from xenpool_driver import conf
from xenpool_driver.store import conf as store_conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, 'README.md')
SAMPLE = os.path.join(ROOT, 'etc', 'xenpool_driver', 'xenpool_driver.conf.sample')

#: the groups this project registers; others (nova.conf's [DEFAULT]) are not ours
OUR_GROUPS = ('xenserver', 'store')

_INI_BLOCK = re.compile(r'^```ini\n(.*?)^```', re.S | re.M)
_COMMENTED_OPTION = re.compile(r'^#(\w+ = .*)$', re.M)


def _readme_blocks():
    with open(README) as f:
        return _INI_BLOCK.findall(f.read())


def _uncommented_sample():
    with open(SAMPLE) as f:
        return _COMMENTED_OPTION.sub(r'\1', f.read())


def _sources():
    sources = [('README block %d' % i, text) for i, text in enumerate(_readme_blocks(), 1)]
    sources.append(('sample, every option uncommented', _uncommented_sample()))
    return dict(sources)


SOURCES = _sources()
OPTIONS = [(group, name) for group in OUR_GROUPS
           for name in conf.build(registrars=[store_conf.register_opts])[group]]

def _cases():
    for source in SOURCES:
        for group, name in OPTIONS:
            yield pytest.param(source, group, name,
                               id='%s-%s.%s' % (source.split(',')[0], group, name))


@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
    """``load(source)``: its ``ConfigOpts``, loaded from a file of its own, once."""
    base = tmp_path_factory.mktemp('conf')
    built = {}

    def load(source):
        if source not in built:
            path = base / ('%d.conf' % list(SOURCES).index(source))
            path.write_text(SOURCES[source])
            built[source] = conf.build(registrars=[store_conf.register_opts],
                                       config_files=[str(path)])
        return built[source]
    return load


def test_the_readme_shows_a_xenpool_configuration():
    blocks = _readme_blocks()
    assert any('[xenserver]' in b and '[store]' in b for b in blocks), (
        'README.md lost its ini block with [xenserver] and [store]')


@pytest.mark.parametrize('source,group,name', list(_cases()))
def test_every_option_reads(loaded, source, group, name):
    value = loaded(source)[group][name]
    assert '#' not in str(value), (
        '%s: [%s] %s = %r keeps an inline comment (oslo.config does not strip '
        'them): put the comment on a line of its own' % (source, group, name, value))


@pytest.mark.parametrize('source', list(SOURCES))
def test_every_key_names_an_option(source):
    # NOTE: no default section: nova.conf's [DEFAULT] is a group like any other
    raw = configparser.ConfigParser(interpolation=None, default_section='')
    raw.read_string(SOURCES[source])
    known = {(group, name) for group, name in OPTIONS}
    for group in raw.sections():
        if group not in OUR_GROUPS:
            continue
        for key, value in raw.items(group):
            assert (group, key) in known, '%s: [%s] %s is no option' % (source, group, key)
            assert '#' not in value, '%s: [%s] %s = %r' % (source, group, key, value)
