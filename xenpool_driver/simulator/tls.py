"""Certificates for a TLS lab, made with the ``openssl`` command line.

One CA per lab; one certificate per host whose subjectAltName is the host's
IP, so clients can verify TLS by IP exactly as with real xapi's certificates.
"""

import os
import shutil
import ssl
import subprocess
import tempfile


def _openssl(*args, cwd):
    exe = shutil.which('openssl')
    if exe is None:
        raise RuntimeError('TLS labs need the openssl command line')
    subprocess.run([exe] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class Certificates(object):
    """A CA and per-host certificates in a private temporary directory."""

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix='xapi-sim-tls-')
        self._own_dir = directory is None
        self.ca_file = os.path.join(self.dir, 'ca.pem')
        self._ca_key = os.path.join(self.dir, 'ca.key')
        _openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                 '-nodes', '-keyout', self._ca_key, '-out', self.ca_file, '-days', '30',
                 '-subj', '/CN=xapi-simulator lab CA',
                 '-addext', 'basicConstraints=critical,CA:TRUE',
                 '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=self.dir)

    def issue(self, name, ip):
        """(cert file, key file) for a host reachable at ``ip``."""
        key = os.path.join(self.dir, name + '.key')
        csr = os.path.join(self.dir, name + '.csr')
        cert = os.path.join(self.dir, name + '.pem')
        ext = os.path.join(self.dir, name + '.ext')
        with open(ext, 'w') as f:
            f.write('subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\n'
                    'extendedKeyUsage=serverAuth\n' % ip)
        _openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                 '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=' + ip, cwd=self.dir)
        _openssl('x509', '-req', '-in', csr, '-CA', self.ca_file, '-CAkey', self._ca_key,
                 '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext,
                 cwd=self.dir)
        return cert, key

    def server_context(self, name, ip):
        cert, key = self.issue(name, ip)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def cleanup(self):
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
