"""Benchmark harness (`make bench`): gunicorn + wrk against the loaded sample archive."""
