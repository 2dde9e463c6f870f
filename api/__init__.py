"""The Bulletin Content API: a read-only Flask service over a SQL store built from the archive."""
