"""The command reference from the command's parsers: cliff's own directive, three fixes.

``.. autoprogram-cliff::`` (``cliff.sphinxext``) documents the application's
global options and every command of an entry-point namespace. Here:

* a command reachable under two names (``aggregate add-host`` and the
  OpenStack client's spelling ``aggregate add host``: one class, two entry
  points) is documented once, under the name with the fewest words, and its
  other names are listed after the commands (two sections of one title would
  be duplicate ids, a warning);
* the application's help names the store's default file expanded from the
  builder's ``$HOME``; the reference is read by everyone, so it is built with
  ``HOME=~`` (and no ``XDG_STATE_HOME``): ``~/.local/state/...``;
* an epilog written for ``argparse.RawDescriptionHelpFormatter`` (the text is
  shown as it is laid out, columns and all) is a literal block, as ``--help``
  shows it; cliff would parse it as reStructuredText.
"""

import argparse
import contextlib
import os

from cliff import sphinxext
from docutils import nodes
from docutils import statemachine

_format_epilog = sphinxext._format_epilog


def _epilog(parser):
    """The epilog's lines: a literal block when the parser keeps its layout."""
    if parser.epilog and issubclass(parser.formatter_class,
                                    argparse.RawDescriptionHelpFormatter):
        yield '::'
        yield ''
        for line in parser.epilog.splitlines():
            yield '    ' + line if line.strip() else ''
        return
    yield from _format_epilog(parser)


@contextlib.contextmanager
def _generic_home():
    """``HOME=~`` and no ``XDG_STATE_HOME`` while the application is built."""
    saved = {k: os.environ.get(k) for k in ('HOME', 'XDG_STATE_HOME')}
    os.environ['HOME'] = '~'
    os.environ.pop('XDG_STATE_HOME', None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class AutoprogramCliff(sphinxext.AutoprogramCliffDirective):
    """``autoprogram-cliff``, each command once (see the module's docstring)."""

    def _load_app(self):
        # NOTE: only the application is built here (its parser and epilog);
        # the commands' entry points are read elsewhere, with the real HOME
        with _generic_home():
            return super()._load_app()

    def _load_commands(self):
        commands = super()._load_commands()
        first = {}
        for name in sorted(commands, key=lambda n: (len(n.split()), n)):
            first.setdefault(commands[name], name)
        self._aliases = sorted((name, first[cls]) for name, cls in commands.items()
                               if first[cls] != name)
        return {name: cls for cls, name in first.items()}

    def run(self):
        self._aliases = []
        result = super().run()
        if self._aliases:
            app = (self.options.get('application')
                   or self.state.document.settings.env.config.autoprogram_cliff_application)
            prefix = app + ' ' if app else ''
            text = 'Other names of the same commands: %s.' % '; '.join(
                '``%s%s`` is ``%s%s``' % (prefix, alias, prefix, name)
                for alias, name in self._aliases)
            para = nodes.paragraph()
            self.state.nested_parse(statemachine.StringList([text], '<aliases>'), 0, para)
            result.extend(para.children)
        return result


def setup(app):
    sphinxext._format_epilog = _epilog
    app.setup_extension('cliff.sphinxext')
    app.add_directive('autoprogram-cliff', AutoprogramCliff, override=True)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
