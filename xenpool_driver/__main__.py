"""``python -m xenpool_driver``: the ``xenpool`` command, without its script.

The same entry point as the ``xenpool`` console script
(:func:`xenpool_driver.cli.main.main`), for an environment whose ``bin/`` is
not on ``PATH``.
"""

import sys

from xenpool_driver.cli import main as cli_main


def run():
    """Run the command under its own name; returns its exit status."""
    # NOTE: argparse names the program after sys.argv[0] where no prog is
    # given; here that would be '__main__.py', not the command's name.
    sys.argv[0] = 'xenpool'
    return cli_main.main()


if __name__ == '__main__':
    sys.exit(run())
