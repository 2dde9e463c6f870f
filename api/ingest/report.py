"""What one load did, file by file, summed up for the editor (and as JSON with --report json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class LoadFailed(Exception):
    """The load was refused; the live store is untouched. `report` says why."""

    def __init__(self, message: str, report: LoadReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass
class LoadReport:
    """What one load did, file by file, summed up for the editor (and as JSON with --report json)."""

    archive: str = ""
    files_read: int = 0
    articles_loaded: int = 0
    public_articles: int = 0
    merged_duplicates: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason → paths
    rejected: list[str] = field(default_factory=list)  # `path:line: reason`
    truncated: list[str] = field(default_factory=list)
    without_issue: list[str] = field(default_factory=list)
    bulk_import_stamps: list[str] = field(default_factory=list)  # minute marks ('YYYY-MM-DD HH:MM') of the import
    bulk_imported: list[str] = field(default_factory=list)  # slugs whose only stamp is the import's: no issue, no date
    new_sections: dict[str, list[str]] = field(default_factory=dict)  # provisional section -> slugs: new vocabulary
    cleaned: list[str] = field(default_factory=list)  # `path: N control character(s) removed`
    hidden_copies: list[str] = field(default_factory=list)  # `slug: path (status) lends nothing to path`
    renamed_slugs: list[str] = field(default_factory=list)  # `slug (lang) -> slug-lang`: one slug, two languages
    issues_per_year: dict[str, int] = field(default_factory=dict)
    changes_recorded: int = 0
    related_rows: int = 0  # rows of the related-articles table (each article's kept neighbours)
    generation: str = ""
    swapped: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def report_lines(report: LoadReport) -> list[str]:
    """The human summary printed at the end of a load."""
    lines = [
        f"archive: {report.archive}",
        f"files read: {report.files_read}",
        f"articles loaded: {report.articles_loaded} ({report.public_articles} public now)",
        f"merged duplicates: {report.merged_duplicates}",
        f"skipped: {sum(len(v) for v in report.skipped.values())}"
        + "".join(f"\n  {reason}: {len(paths)}" for reason, paths in sorted(report.skipped.items())),
        f"rejected: {len(report.rejected)}" + "".join(f"\n  {line}" for line in report.rejected),
        f"truncated: {len(report.truncated)}",
        f"control characters removed: {len(report.cleaned)} file(s)"
        + "".join(f"\n  {line}" for line in report.cleaned[:50]),
        f"hidden copies beside a public one: {len(report.hidden_copies)}"
        + "".join(f"\n  {line}" for line in report.hidden_copies[:50]),
        f"slugs shared across languages: {len(report.renamed_slugs)}"
        + "".join(f"\n  {line}" for line in report.renamed_slugs),
        f"without issue: {len(report.without_issue)}" + "".join(f"\n  {s}" for s in report.without_issue[:50]),
        f"bulk-imported (stamped by an import, no issue, no date): {len(report.bulk_imported)}"
        + (f" ({report.bulk_import_stamps[0]} – {report.bulk_import_stamps[-1]})" if report.bulk_import_stamps else "")
        + "".join(f"\n  {s}" for s in report.bulk_imported[:50]),
        f"new sections (provisional, add them to the vocabulary): {len(report.new_sections)}"
        + "".join(f"\n  {s}: {len(slugs)} article(s)" for s, slugs in sorted(report.new_sections.items())),
        "issues per year: " + (", ".join(f"{y}: {n}" for y, n in report.issues_per_year.items()) or "none"),
        f"changes recorded: {report.changes_recorded}",
        f"generation: {report.generation[:20]}" + (" (swapped in)" if report.swapped else " (not swapped)"),
    ]
    return lines
