"""Certificates for a TLS lab, made in-process with ``cryptography``.

One CA per lab; one certificate per host whose subjectAltName is the host's
IP, so clients can verify TLS by IP exactly as with real xapi's certificates.
Keys are ECDSA P-256, certificates SHA-256, valid for 30 days.

NOTE: the API used exists in cryptography 3.3.2 (the Nova Victoria pin) as in
current releases: every call that took a backend in 3.3 is given one.
"""

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)


def _key():
    return ec.generate_private_key(ec.SECP256R1(), default_backend())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_usage(ca):
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                         key_encipherment=False, data_encipherment=False,
                         key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Certificates(object):
    """A CA and per-host certificates in a private temporary directory."""

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix='xapi-sim-tls-')
        self._own_dir = directory is None
        self.ca_file = os.path.join(self.dir, 'ca.pem')
        self._ca_key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        public = self._ca_key.public_key()
        self._ca_name = _name('xapi-simulator lab CA')
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(self._ca_name).issuer_name(self._ca_name)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._ca_key, hashes.SHA256(), default_backend()))
        _write(self.ca_file, self._ca_cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name, ip):
        """(cert file, key file) for a host reachable at ``ip``."""
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_public = self._ca_key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(ip)).issuer_name(self._ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public),
                           critical=False)
            .sign(self._ca_key, hashes.SHA256(), default_backend()))
        cert_file = os.path.join(self.dir, name + '.pem')
        key_file = os.path.join(self.dir, name + '.key')
        _write(key_file, _pem_key(key))
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return cert_file, key_file

    def server_context(self, name, ip):
        cert, key = self.issue(name, ip)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def cleanup(self):
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
