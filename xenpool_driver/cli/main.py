"""Entry point of the ``xenpool`` command: dispatches to its sub-commands.

* ``xenpool lab serve ...`` - the simulated lab (:mod:`xenpool_driver.simulator.serve`);
* ``xenpool demo ...`` - the one-command demo (:mod:`xenpool_driver.cli.demo`);
* everything else - operator commands (:mod:`xenpool_driver.cli.commands`).
"""

import sys


def main(argv=None):
    """Run ``xenpool``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['lab']:
        from xenpool_driver.simulator import serve
        return serve.main(argv[1:])
    if argv[:1] == ['demo']:
        from xenpool_driver.cli import demo
        return demo.main(argv[1:])
    from xenpool_driver.cli import commands
    return commands.main(argv)


if __name__ == '__main__':
    sys.exit(main())
