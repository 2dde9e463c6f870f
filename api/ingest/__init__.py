"""Ingest: the batch program that reads the editorial archive and writes a new generation of the store.

One job per module: walk (which files), captures and documents (reading each kind), records (the parsed record),
vocabulary (trend and section tables), merge (deduplication and the winner rule), writer (the store generation
and its atomic swap), report (what a load did), loader (the whole load). Ingest depends on the store's models and
never on the web layer (no Flask, no response cache).
"""

from api.ingest.loader import load_archive
from api.ingest.report import LoadFailed, LoadReport, report_lines
from api.ingest.walk import archive_files

__all__ = ["LoadFailed", "LoadReport", "archive_files", "load_archive", "report_lines"]
