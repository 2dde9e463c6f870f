"""Accuracy of the capture loader on real pages kept outside the repository.

    python -m bench.real_pages DIR EXPECTED.json [--site pro --site info] [--failures]

DIR holds one sub-directory per site (`DIR/<site>/<n>.txt`, each a capture: `URL:` header, blank line, page text);
EXPECTED.json maps `<site>/<n>.txt` to the fields read off the page by a person:
`{"kind": "article" | "skip", "reason": ..., "week": "YYYY-MM-DD" | null, "bulk_import": bool, "section", "trend",
"title", "lead", "last" (the text of the body's last paragraph or list item), "lang", "truncated", "caption",
"published_known"}`.

Every page goes through the real parser, the real bulk-import detection over its site's directory and the real
publication-time rule; each site directory is then loaded through the real loader into a scratch SQLite store, to
count what was rejected and to check that no page expected to be skipped was published. Nothing of the real pages
lives in the repository: the pages and their labels stay wherever DIR and EXPECTED are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import create_engine, select

FIELDS = ("kind", "week", "section", "trend", "title", "lead", "lang", "truncated", "body_end", "caption", "published")
# Lines that are site furniture on either site, kept here independently of the loader's own tables so that the
# check does not grade the loader against its own data.
FURNITURE = (
    "you have been successfully subscribed", "subscribe to our newsletter", "subscribe", "subscribe to us",
    "situation in belarus", "view all", "read more", "similar articles", "error message", "all trends",
    "header -->", "en", "be/ru", "recent trends", "follow us on twitter", "category status:",
)  # fmt: skip


def _module(*names: str):
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise SystemExit(f"none of {names} can be imported")


def _loader_parts():
    captures = _module("api.ingest.captures", "api.store.captures")
    loader = _module("api.ingest.loader", "api.store.loader")
    records = _module("api.ingest.records", "api.store.records")
    vocabulary = _module("api.ingest.vocabulary", "api.store.vocabulary")
    return captures, loader, records, vocabulary


def _bulk_stamps(captures, loader, stamps: list[dt.datetime]) -> set[str]:
    """Minute marks ('YYYY-MM-DD HH:MM') the loader treats as a bulk import, by whatever rule it has."""
    detect = getattr(captures, "bulk_import_stamps", None) or getattr(loader, "bulk_import_stamps", None)
    if detect is not None:
        return set(detect(stamps))
    minimum = getattr(loader, "BULK_STAMP_MIN", 3)  # the older rule: that many stamps equal to the minute
    marks = Counter(s.strftime("%Y-%m-%d %H:%M") for s in stamps)
    return {m for m, n in marks.items() if n >= minimum}


def _published(captures, loader, rec, bulk: bool):
    rule = getattr(captures, "publication_time", None) or getattr(loader, "publication_time", None)
    if rule is not None:
        return rule(rec, bulk=bulk)
    value = loader._published_at(rec)  # the older rule: always a date, the fetch time or 1970 when none is known
    return value


def _blocks_texts(rec) -> list[str]:
    out = []
    for block in rec.blocks:
        out.extend(block["items"] if block["type"] == "list" else [block["text"]])
    return out


def measure(directory: Path, expected: dict, sites: list[str], show_failures: bool) -> int:
    captures, loader, records, vocabulary = _loader_parts()
    vocab = vocabulary.Vocabulary.load()
    per_site: dict[str, dict] = {}
    failures: list[str] = []
    for site in sites:
        keys = sorted(k for k in expected if k.startswith(f"{site}/"))
        parsed = {}
        for key in keys:
            text = (directory / key).read_text(encoding="utf-8")
            try:
                parsed[key] = captures.parse_capture(key, text, vocab)
            except records.ArchiveError as exc:
                parsed[key] = exc
        stamps = [
            r.timestamp
            for r in parsed.values()
            if isinstance(r, records.ArticleRecord) and r.timestamp and r.week_source == "timestamp"
        ]
        bulk = _bulk_stamps(captures, loader, stamps)
        score: dict[str, Counter] = defaultdict(Counter)
        counts = Counter()
        for key in keys:
            exp, got = expected[key], parsed[key]
            counts["pages"] += 1
            counts["articles" if exp["kind"] == "article" else "non-articles"] += 1
            if isinstance(got, records.ArchiveError):
                counts["rejected"] += 1
            results = _compare(exp, got, records, captures, loader, bulk)
            for field, (ok, detail) in results.items():
                score[field]["ok" if ok else "bad"] += 1
                if not ok:
                    failures.append(f"{key}: {field}: {detail}")
        loaded, load_failures = _load(loader, vocabulary, directory / site, expected, site)
        counts.update(loaded)
        failures.extend(load_failures)
        per_site[site] = {"counts": dict(counts), "score": score, "bulk": sorted(bulk)}
    for site, data in per_site.items():
        c = data["counts"]
        print(
            f"{site}: {c['pages']} pages, {c.get('articles', 0)} articles, {c.get('non-articles', 0)} non-articles; "
            f"parser rejected {c.get('rejected', 0)}; loader: {c.get('loaded', 0)} articles loaded, "
            f"{c.get('load_rejected', 0)} rejected, {c.get('skipped', 0)} skipped, "
            f"{c.get('non_articles_published', 0)} non-articles published, "
            f"{c.get('served_published_wrong', 0)} articles served with a wrong publication time"
        )
        for field in FIELDS:
            s = data["score"][field]
            total = s["ok"] + s["bad"]
            if total:
                print(f"  {field:<10} {s['ok']:>3}/{total:<3} {100 * s['ok'] / total:5.1f}%")
        print(f"  bulk-import stamps: {len(data['bulk'])}")
    if show_failures:
        print("failures:")
        for line in failures:
            print("  " + line)
    return 0


def _compare(exp: dict, got, records, captures, loader, bulk: set[str]) -> dict[str, tuple[bool, str]]:
    if exp["kind"] == "skip":
        if isinstance(got, records.Skip):
            return {"kind": (got.reason == exp["reason"], f"skipped as {got.reason!r}, expected {exp['reason']!r}")}
        what = "rejected" if isinstance(got, records.ArchiveError) else "parsed as an article"
        return {"kind": (False, f"{what}, expected a skip ({exp['reason']})")}
    if not isinstance(got, records.ArticleRecord):
        detail = str(got) if isinstance(got, records.ArchiveError) else f"skipped as {got.reason!r}"
        return {field: (False, detail) for field in FIELDS}
    stamp = got.timestamp.strftime("%Y-%m-%d %H:%M") if got.timestamp else None
    is_bulk = got.week_source == "timestamp" and stamp in bulk
    week = None if is_bulk else got.week_start
    week = week.isoformat() if week else None
    texts = [got.lead, *_blocks_texts(got)]
    chrome = [t for t in texts if t.casefold() in FURNITURE or t.casefold().startswith("once a week, in coordin")]
    chrome += [t for t in texts[1:] if " ".join(t.split()) == " ".join(got.title.split())]  # the title printed again
    published = _published(captures, loader, got, is_bulk)
    epoch = published is not None and published.year == 1970
    known = published is not None and not epoch and published != got.fetched_at
    return {
        "kind": (True, ""),
        "week": (week == exp["week"], f"{week} != {exp['week']}"),
        "section": (got.section == exp["section"], f"{got.section} != {exp['section']}"),
        "trend": (got.trend == exp["trend"], f"{got.trend} != {exp['trend']}"),
        "title": (got.title == exp["title"], f"{got.title[:60]!r} != {exp['title'][:60]!r}"),
        "lead": (got.lead == exp["lead"], f"{got.lead[:60]!r} != {exp['lead'][:60]!r}"),
        "lang": (got.lang == exp["lang"], f"{got.lang} != {exp['lang']}"),
        "truncated": (got.truncated == exp["truncated"], f"{got.truncated} != {exp['truncated']}"),
        "body_end": (
            texts[-1] == exp["last"] and not chrome,
            f"ends {texts[-1][-50:]!r}, expected {exp['last'][-50:]!r}; chrome {chrome}",
        ),
        "caption": (got.image_caption == exp["caption"], f"{got.image_caption!r} != {exp['caption']!r}"),
        "published": (
            known == exp["published_known"] and (known or published is None),
            f"served {published} (known {known}), expected {'a date' if exp['published_known'] else 'none'}",
        ),
    }


def _load(loader, vocabulary, site_dir: Path, expected: dict, site: str) -> tuple[Counter, list[str]]:
    """Load the site's directory through the real loader; count rejects and non-articles that were published, and
    check the publication time each article is served with (a date when one is known, none otherwise)."""
    counts, failures = Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.sqlite3"
        try:
            report = loader.load_archive(site_dir, url, vocabulary=vocabulary.Vocabulary.load(), skip_invalid=True)
        except loader.LoadFailed as exc:
            counts["load_failed"] += 1
            print(f"{site}: the load failed: {exc}", file=sys.stderr)
            return counts, failures
        counts["loaded"] = report.articles_loaded
        counts["load_rejected"] = len(report.rejected)
        counts["skipped"] = sum(len(v) for v in report.skipped.values())
        models = _module("api.store.models")
        engine = create_engine(url)
        with engine.connect() as conn:
            urls = {u for (u,) in conn.execute(select(models.ArticleUrl.url))}
            served = dict(
                conn.execute(
                    select(models.ArticleUrl.url, models.Article.published_at).join(
                        models.Article, models.Article.id == models.ArticleUrl.article_id
                    )
                ).all()
            )
        engine.dispose()
        unknown = getattr(models, "UNKNOWN_TIME", None)
        for key, exp in expected.items():
            if not key.startswith(f"{site}/") or exp["kind"] != "article" or exp["url"] not in served:
                continue
            value = served[exp["url"]]
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
            known = value != unknown and value.year != 1970
            # A duplicate with a printed week lends its date to the whole article: a date is then right.
            if known != exp["published_known"] and not (known and exp.get("bulk_import")):
                counts["served_published_wrong"] += 1
                failures.append(
                    f"{key}: served published_at {value} (expected {'a date' if exp['published_known'] else 'none'})"
                )
    skip_urls = {e["url"] for k, e in expected.items() if k.startswith(f"{site}/") and e["kind"] == "skip"}
    counts["non_articles_published"] = len(skip_urls & urls)
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("expected", type=Path)
    parser.add_argument("--site", action="append", dest="sites", help="site sub-directory (default: all)")
    parser.add_argument("--failures", action="store_true", help="list every failing field")
    args = parser.parse_args(argv)
    expected = json.loads(args.expected.read_text(encoding="utf-8"))
    sites = args.sites or sorted({k.split("/", 1)[0] for k in expected})
    return measure(args.directory, expected, sites, args.failures)


if __name__ == "__main__":
    raise SystemExit(main())
