"""Entry point of the ``xenpool`` command (``xenpool = xenpool_driver.cli.main:main``).

* ``xenpool lab ...`` - the simulated lab (:mod:`xenpool_driver.simulator.serve`),
  run first: it needs nothing beyond the standard library;
* ``xenpool demo ...`` - the one-command demo (:mod:`xenpool_driver.cli.demo`);
* everything else - the cliff application (:mod:`xenpool_driver.cli.app`),
  whose commands are setup.cfg's entry points.

The driver alone installs beside a compute service's old pins; the command's
own libraries come with the ``cli`` extra, and without them the command says
in one line what to install (:func:`missing_cli_requirements`).
"""

import importlib
import sys

#: ``(module, requirement, lowest major version)`` of the ``cli`` extra.
#: NOTE: setup.cfg's [extras] cli is the truth; a unit test keeps the two equal.
CLI_REQUIREMENTS = (
    ('sqlalchemy', 'SQLAlchemy>=2.0', 2),
    ('tqdm', 'tqdm>=4.60', 4),
    ('cryptography', 'cryptography>=3.3.2', 3),
    ('cliff', 'cliff>=3.4.0', 3),
)

INSTALL_HINT = "pip install 'xenpool_driver[cli]'"


def missing_cli_requirements(import_module=importlib.import_module,
                             version_of=None):
    """The ``cli`` extra's requirements that are absent or too old.

    :param import_module: module importer (tests).
    :param version_of: ``module -> version text`` (tests); default: its
        ``__version__``, else its distribution's version.
    :returns: list of texts such as ``'SQLAlchemy>=2.0 (found 1.3.24)'``.
    """
    missing = []
    for module, requirement, major in CLI_REQUIREMENTS:
        try:
            found = import_module(module)
        except ImportError:
            missing.append(requirement)
            continue
        version = (version_of or _version)(found, requirement)
        if _major(version) < major:
            missing.append('%s (found %s)' % (requirement, version))
    return missing


def _version(module, requirement):
    version = getattr(module, '__version__', None)
    if version is None:
        # NOTE: cliff has no __version__: its distribution says
        from importlib import metadata
        try:
            version = metadata.version(requirement.split('>')[0])
        except metadata.PackageNotFoundError:
            version = '0'
    return str(version)


def _major(version):
    head = version.split('.', 1)[0]
    return int(head) if head.isdigit() else 0


def main(argv=None):
    """Run ``xenpool``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['lab']:
        # NOTE: the simulator needs nothing beyond the standard library
        from xenpool_driver.simulator import serve
        return serve.main(argv[1:])
    missing = missing_cli_requirements()
    if missing:
        sys.stderr.write('xenpool: error: this command needs the cli extra (%s): %s\n'
                         % (INSTALL_HINT, ', '.join(missing)))
        return 1
    if argv[:1] == ['demo']:
        from xenpool_driver.cli import demo
        return demo.main(argv[1:])
    from xenpool_driver.cli import app
    return app.main(argv)


if __name__ == '__main__':
    sys.exit(main())
