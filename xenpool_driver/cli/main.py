"""Entry point of the ``xenpool`` command: dispatches to its sub-commands."""

import sys


def main(argv=None):
    """Run ``xenpool``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['lab']:
        from xenpool_driver.simulator import serve
        return serve.main(argv[1:])
    sys.stderr.write('usage: xenpool lab serve [...]\n')
    return 2


if __name__ == '__main__':
    sys.exit(main())
