"""Reaching another host of a pool from a URL already in use."""

import pytest

from xenpool_driver.xapi.urls import url_for_address


@pytest.mark.parametrize('template, address, expected', [
    ('https://10.0.0.1', '10.0.0.2', 'https://10.0.0.2'),
    ('https://10.0.0.1:8443', '10.0.0.2', 'https://10.0.0.2:8443'),
    ('http://127.0.0.1:9001/', '127.0.0.2', 'http://127.0.0.2:9001/'),
    ('https://10.0.0.1/RPC2', '10.0.0.2', 'https://10.0.0.2/RPC2'),
    ('https://10.0.0.1:443', 'fd00::2', 'https://[fd00::2]:443'),
    ('https://[fd00::1]:443/', '[fd00::2]', 'https://[fd00::2]:443/'),
    ('https://[fd00::1]', '10.0.0.2', 'https://10.0.0.2'),
    ('https://host-a.example', 'host-b.example', 'https://host-b.example'),
])
def test_url_for_address(template, address, expected):
    assert url_for_address(template, address) == expected
