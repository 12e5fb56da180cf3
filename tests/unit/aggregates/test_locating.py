"""XapiLocator: our own xapi and a pool master's, from [xenserver] connection_url."""

from unittest import mock

from xenpool_driver import conf as xenpool_conf
from xenpool_driver.aggregates import bookkeeping as bk
from xenpool_driver.aggregates import locating

#: Not the option's default (unset), with a port: what comes from it shows.
OWN_URL = 'https://192.0.2.1:8443'
OTHER_URL = 'https://192.0.2.7'


def locator(host_locator=None):
    return locating.XapiLocator(
        mock.Mock(), conf=xenpool_conf.build(xenserver={'connection_url': OWN_URL}),
        own_host='c1', host_locator=host_locator)


def test_a_recorded_master_is_reached_with_the_scheme_and_port_of_connection_url():
    metadata = {bk.KEY: bk.encode(bk.Bookkeeping(master_address='192.0.2.9'))}
    assert locator().master_url(metadata) == 'https://192.0.2.9:8443'


def test_without_a_recorded_master_our_own_xapi_is_asked():
    assert locator().master_url({}) == OWN_URL


def test_the_own_host_is_at_connection_url_and_the_others_at_the_locator():
    found = locator(host_locator=lambda host: OTHER_URL)
    assert found.locate('c1') == OWN_URL
    assert found.locate('c2') == OTHER_URL


def test_the_own_host_url_beats_slave_info():
    aggregate = mock.Mock(id=1)
    assert locator().host_url(aggregate, 'add_host', 'c1',
                              slave_info={'url': OTHER_URL}) == OWN_URL
    assert locator().host_url(aggregate, 'add_host', 'c2',
                              slave_info={'url': OTHER_URL}) == OTHER_URL
