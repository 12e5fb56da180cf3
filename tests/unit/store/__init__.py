"""Tests of the embedded aggregate store."""


def busy_timeout_ms(store):
    """The busy timeout SQLite applies to ``store``'s connections, in ms."""
    raw = store._engine.raw_connection()
    try:
        return raw.cursor().execute('PRAGMA busy_timeout').fetchone()[0]
    finally:
        raw.close()
