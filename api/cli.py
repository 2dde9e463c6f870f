"""`flask archive load [PATH]`: a thin click command over api.ingest.load_archive."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import orjson
from flask import current_app
from flask.cli import AppGroup

from api import logs, metrics
from api.ingest import LoadFailed, archive_files, load_archive, report_lines
from api.ingest.vocabulary import Vocabulary

archive_cli = AppGroup("archive", help="Build the store from the editorial archive.")


@archive_cli.command("load")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Load the valid files, list the rejected ones, exit 2.")
@click.option("--report", "report_format", type=click.Choice(["text", "json"]), default="text", help="Report format.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="json: the report as one JSON log line on stderr (default: LOG_FORMAT).")  # fmt: skip
def load_command(path: str | None, skip_invalid: bool, report_format: str, log_format: str | None) -> None:
    """Load PATH (default: ARCHIVE_PATH) into a new store generation and swap it in atomically."""
    cfg = current_app.config
    log_format = log_format or cfg["LOG_FORMAT"]
    started = time.monotonic()
    path = path or cfg["ARCHIVE_PATH"]
    vocab = Vocabulary.load(cfg["VOCABULARY_PATH"])
    show_bar = sys.stderr.isatty() and report_format == "text"
    total = sum(1 for _ in archive_files(Path(path))) if show_bar else 0
    try:
        if show_bar:
            with click.progressbar(length=total, label="parsing", file=sys.stderr) as bar:
                last = [0]

                def progress(n: int) -> None:
                    bar.update(n - last[0])
                    last[0] = n

                report = load_archive(path, cfg["DATABASE_URL"], schema=cfg["DATABASE_SCHEMA"], vocabulary=vocab,
                                      skip_invalid=skip_invalid, progress=progress)  # fmt: skip
        else:
            report = load_archive(
                path, cfg["DATABASE_URL"], schema=cfg["DATABASE_SCHEMA"], vocabulary=vocab, skip_invalid=skip_invalid
            )
    except LoadFailed as exc:
        _leave_report(cfg, log_format, exc.report, str(exc), time.monotonic() - started)
        if exc.report is not None:
            for line in exc.report.rejected:
                click.echo(line, err=True)
            if report_format == "json":
                click.echo(orjson.dumps(exc.report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        click.echo(f"load failed: {exc}", err=True)
        sys.exit(1)
    _leave_report(cfg, log_format, report, None, time.monotonic() - started)
    if report_format == "json":
        click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in report_lines(report):
            click.echo(line)
    if report.rejected:
        sys.exit(2)


def _leave_report(cfg, log_format: str, report, error: str | None, duration_s: float) -> None:
    """The outcome for /metrics (LOAD_REPORT_PATH) and, with JSON logs, as one line on stderr."""
    path = cfg["LOAD_REPORT_PATH"]
    summary = metrics.load_summary(report, error is None, error, duration_s, metrics.read_load_report(path))
    if path:
        metrics.write_load_report(path, summary)
    if log_format == "json":
        logs.configure("json", cfg["LOG_LEVEL"])
        logs.load_report({**summary, "rejected_files": list(getattr(report, "rejected", []) or [])})
