"""``xenpool lab ...`` and ``xenpool demo``, as commands of the application.

NOTE: :func:`xenpool_driver.cli.main.main` runs both before the application
is built (``lab`` needs nothing beyond the standard library); these commands
list them in ``xenpool --help`` and run them after global options
(``xenpool --debug demo``).
"""

import argparse

from cliff import command

from xenpool_driver.cli import base


class _PassThrough(command.Command):

    def get_parser(self, prog_name):
        parser = base.strict(super().get_parser(prog_name))
        parser.add_argument('args', nargs=argparse.REMAINDER,
                            help='see "%s --help"' % prog_name)
        return parser


class Lab(_PassThrough):
    """Simulated XCP-ng lab: xenpool lab serve --help (real xapi timing unless
    --time-scale is given)."""

    def take_action(self, args):
        from xenpool_driver.simulator import serve
        return serve.main(list(args.args))


class Demo(_PassThrough):
    """The whole thing on an embedded simulated lab: xenpool demo --help."""

    def take_action(self, args):
        from xenpool_driver.cli import demo
        return demo.main(list(args.args))
