"""What every ``xenpool`` command shares: its context, exit status, output.

Every command is a cliff ``ShowOne`` (one object) or ``Lister`` (rows), so
that each has ``-f table|json|yaml|value|csv`` and ``-c COLUMN``; the object
is one of :mod:`.views`' schemas. ``-f json`` and ``yaml`` print the whole
object unless ``-c`` picks columns; ``table`` shows the command's default
columns. A command that changes something prints its result line in the
default format (``-f table`` without ``-c``), and the object otherwise.
"""

import argparse

from cliff import lister
from cliff import show

from xenpool_driver.cli import errors
from xenpool_driver.cli import views

#: Formats that print the whole object (all its fields) by default.
MACHINE_FORMATS = ('json', 'yaml')


def strict(parser):
    """Make ``parser``'s errors a :class:`~.errors.UsageError` (one line, no exit).

    NOTE: argparse would print its usage and exit; worse, "unrecognized
    arguments" repeats every value given, and a value may be a password.
    """
    def error(message):
        # NOTE: from None: argparse's own error (with the values) is not kept
        raise errors.UsageError('%s: %s (see "%s --help")' % (
            parser.prog, _sanitized(message), parser.prog)) from None
    parser.error = error
    return parser


def _sanitized(message):
    head, sep, rest = message.partition('unrecognized arguments:')
    if not sep:
        return message
    options = [word.split('=', 1)[0] for word in rest.split() if word.startswith('-')]
    return '%sunrecognized arguments: %s' % (
        head, ' '.join(options) if options else '(values not shown)')


class _Command(object):
    """Mixin of the two bases: the context, the status, the parser."""

    #: the command's exit status once it ran (see :mod:`.errors`).
    status = errors.OK

    @property
    def ctx(self):
        return self.app.ctx

    def get_parser(self, prog_name):
        parser = strict(super().get_parser(prog_name))
        # NOTE: the spelling before cliff (README, scripts): -f json
        parser.add_argument('--json', action='store_const', dest='formatter',
                            const='json', help=argparse.SUPPRESS)
        return parser

    def run(self, parsed_args):
        self.status = errors.OK
        super().run(parsed_args)
        return self.status

    #: the result line of the default format (set by take_action), or None.
    _summary = None

    def summary(self, parsed_args, data):
        """The result line for the default format, or None (a table)."""
        return None

    def produce_output(self, parsed_args, column_names, data):
        # NOTE: the progress display ends (its line ended) before any output,
        # so the result never lands inside the bar's line.
        self.app.close_progress()
        if self._summary is not None and parsed_args.formatter == 'table' and \
                not parsed_args.columns:
            self.app.stdout.write(self._summary + '\n')
            return 0
        return super().produce_output(parsed_args, column_names, data)

    @staticmethod
    def wants_all(parsed_args):
        return parsed_args.formatter in MACHINE_FORMATS and not parsed_args.columns


class Show(_Command, show.ShowOne):
    """One object: :attr:`fields` shown in a table, every field in json/yaml."""

    #: default columns of the table; None: every field of the object.
    fields = None

    def take_action(self, parsed_args):
        record = self.record(parsed_args)
        self._summary = self.summary(parsed_args, record)
        fields = list(record) if self.wants_all(parsed_args) or self.fields is None \
            else self.fields
        return views.cells(record, fields)

    def record(self, parsed_args):
        raise NotImplementedError


class List(_Command, lister.Lister):
    """Rows of one schema: :attr:`fields` in a table, every field in json/yaml."""

    fields = ()

    def take_action(self, parsed_args):
        records = self.records(parsed_args)
        self._summary = self.summary(parsed_args, records)
        fields = self.fields
        if self.wants_all(parsed_args) and records:
            fields = list(dict.fromkeys(k for r in records for k in r))
        return tuple(fields), [views.cells(r, fields)[1] for r in records]

    def records(self, parsed_args):
        raise NotImplementedError
