"""Fixtures of the crash and fault-matrix tests (independent of the
functional suite's own conftest)."""

import pytest

from tests import passwords
from tests.functional.faults import harness
from xenpool_driver import store as store_mod
from xenpool_driver.simulator import lab as lab_mod


@pytest.fixture
def make_lab():
    """``make_lab(hosts=2)``: a started lab, closed after the test."""
    labs = []

    def make(hosts=2):
        lab = lab_mod.Lab(hosts=hosts, time_scale=harness.TIME_SCALE)
        passwords.remember(lab.password)
        labs.append(lab.start())
        return lab

    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def store(tmp_path):
    """A SQLite store in a file (shared with child processes)."""
    url = 'sqlite:///%s' % (tmp_path / 'aggregates.sqlite')
    with store_mod.Store(url) as st:
        st.url = url
        yield st
