"""What a command works with: the store and its busy timeout."""

from xenpool_driver.cli import commands
from xenpool_driver.cli import context as context_mod


def _busy_timeout_ms(store):
    raw = store._engine.raw_connection()
    try:
        return raw.cursor().execute('PRAGMA busy_timeout').fetchone()[0]
    finally:
        raw.close()


def test_context_honours_the_store_busy_timeout(tmp_path):
    (tmp_path / 'xenpool.conf').write_text('[store]\nbusy_timeout = 2.5\n')
    conf = commands.build_conf(['--config-file', str(tmp_path / 'xenpool.conf'),
                                'aggregate', 'list'])
    ctx = context_mod.Context(conf, store_url='sqlite:///%s' % (tmp_path / 's.sqlite'))
    try:
        assert _busy_timeout_ms(ctx.store) == 2500
    finally:
        ctx.close()


