"""Mutation testing of the modules that hold the rules (mutmut), one group at a time, and its report.

Each group mutates one or a few modules and runs only the fast SQLite test files that exercise them, in a
scratch copy of the working tree under .mutation/<group>/ (mutmut reads its settings from the pyproject.toml
of the directory it runs in, so each copy gets its own [tool.mutmut]).

    python -m tools.mutation run [GROUP ...]     # mutate and test (long: minutes per group on two cores)
    python -m tools.mutation report              # docs/mutation.md from the results in .mutation/

The score is killed / (killed + survived); mutants listed in tools/mutation_equivalent.toml (name: reason) are
equivalent to the original (no test can tell them apart) and count as neither.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.toml"
DOC = ROOT / "docs" / "mutation.md"
COMMAND = "make mutation"

#: group -> (modules mutated, test files run against them, fastest killers first: tests/conftest.py runs them in
#: this order, plain tests before Hypothesis properties, and a mutant stops at its first failing test)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "languages": (["api/languages.py"], ["tests/test_languages.py", "tests/test_rules.py"]),
    "sanitiser": (
        ["api/ingest/text.py"],
        ["tests/test_text_rules.py", "tests/test_properties.py"],
    ),
    "pagination": (["api/pagination.py"], ["tests/test_pagination_rules.py"]),
    "http": (["api/http.py", "api/keys.py"], ["tests/test_http_rules.py"]),
    "filters": (["schemas/args.py"], ["tests/test_arg_rules.py"]),
    "visibility": (
        ["api/store/visibility.py", "api/store/queries.py"],
        ["tests/test_rules.py", "tests/test_query_rules.py"],
    ),
    "feeds": (["api/resources/feeds.py"], ["tests/test_feed_rules.py"]),
    "merge": (["api/ingest/merge.py"], ["tests/test_merge_rules.py"]),
}

#: group -> the functions mutated (mutmut name patterns), where not all: mutmut switches a mutant on per call, so
#: code that runs at import (the cached_endpoint decorator and its wrapper, module-level objects) cannot be tested
ONLY: dict[str, list[str]] = {
    # the conditional-request rules and the cache keys (keys._code_version runs at import, as the wrapper's body
    # inside cached_endpoint's decorator does: its rules live in the plain functions named here)
    "http": [
        "api.http.x_etag_matches*",
        "api.http.x__not_modified*",
        "api.http.x__tag_proves_current*",
        "api.http.x__fresh_for*",
        "api.http.x_cache_control*",
        "api.keys.x_canonical*",
        "api.keys.x_encode*",
        "api.keys.x_cache_key*",
    ],
    "pagination": ["api.pagination.x_paginate*", "api.pagination.x_decode_cursor*", "api.pagination.xǁOrderǁ*"],
    # format_param, fields_param and include_param build the schema classes' fields, at import
    "filters": [
        "schemas.args.x_ignored_param*",
        "schemas.args.x__check_range*",
        "schemas.args.x__check_article_filters*",
    ],
}

# mutmut's exit-code meaning (mutmut.stats.status_by_exit_code), for the statuses counted here
KILLED, SURVIVED = "killed", "survived"


def _copy_tree(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree (what a commit would hold)."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _pyproject(modules: list[str], tests: list[str]) -> str:
    text = (ROOT / "pyproject.toml").read_text()
    text = text.split("\n[tool.mutmut]")[0]
    quoted = ", ".join(f'"{m}"' for m in modules)
    selection = ", ".join(f'"{t}"' for t in tests)
    return (
        text.rstrip()
        + "\n\n[tool.mutmut]\n"
        + 'source_paths = ["api", "schemas"]\n'
        + 'also_copy = ["data", "wsgi.py", "bench"]\n'
        + f"only_mutate = [{quoted}]\n"
        + f"pytest_add_cli_args_test_selection = [{selection}]\n"
        + 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-k", "not postgres", "-x", "-q"]\n'
        + "timeout_multiplier = 5.0\n"
    )


def run(groups: list[str], children: int) -> None:
    for group in groups:
        modules, tests = GROUPS[group]
        tests = [t for t in tests if (ROOT / t).exists()]
        dest = WORK / group
        _copy_tree(dest)
        (dest / "pyproject.toml").write_text(_pyproject(modules, tests))
        env = {**os.environ, "MUTATION_TESTING": "1", "MUTATION_TEST_ORDER": ",".join(tests)}
        print(f"== {group}: {', '.join(modules)} against {', '.join(tests)}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *ONLY.get(group, [])],
            cwd=dest,
            env=env,
            check=False,
        )


def _results(group: str) -> dict[str, str]:
    import fnmatch

    from mutmut.stats import status_by_exit_code

    out = {}
    for meta in (WORK / group / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            if group in ONLY and not any(fnmatch.fnmatch(name, p) for p in ONLY[group]):
                continue
            out[name] = status_by_exit_code.get(code, str(code)) if code is not None else "not checked"
    return out


def _diff(group: str, name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name], cwd=WORK / group, capture_output=True, text=True, check=False
    )
    lines = [
        line for line in done.stdout.splitlines() if line.startswith(("+", "-")) and line[:3] not in ("+++", "---")
    ]
    # A code span, so that mutated code such as `f[k](v)` is never read as a Markdown link.
    return "`` " + " / ".join(line.strip() for line in lines)[:160].replace("`", "'") + " ``"


def report(fail_under: float | None = None) -> int:
    listed = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    equivalent = {**listed.get("equivalent", {}), **listed.get("import_time", {})}
    rows, survivors, equivalents = [], [], []
    total_killed = total_survived = 0
    for group, (modules, _tests) in GROUPS.items():
        results = _results(group)
        if not results:
            rows.append(f"| {group} | {', '.join(modules)} | not run | | | |")
            continue
        killed = sum(1 for s in results.values() if s == KILLED)
        surv = [n for n, s in results.items() if s == SURVIVED]
        eq = [n for n in surv if n in equivalent]
        live = [n for n in surv if n not in equivalent]
        other = len(results) - killed - len(surv)
        if killed + len(live) == 0:
            rows.append(f"| {group} | {', '.join(modules)} | not run | | | {len(eq)} / {other} |")
            continue
        score = 100.0 * killed / (killed + len(live))
        total_killed += killed
        total_survived += len(live)
        rows.append(
            f"| {group} | {', '.join(modules)} | {score:.1f} % | {killed} | {len(live)} | {len(eq)} / {other} |"
        )
        survivors += [f"- `{n}`: {_diff(group, n)}" for n in sorted(live)]
        equivalents += [f"- `{n}`: {equivalent[n]}" for n in sorted(eq)]
    overall = 100.0 * total_killed / (total_killed + total_survived) if total_killed + total_survived else 0.0
    text = "\n".join(
        [
            "# Mutation testing",
            "",
            f"Generated by `{COMMAND}` (mutmut over the rule modules, each group against its fast SQLite test files; "
            "`python -m tools.mutation report` rewrites this page from the results in `.mutation/`).",
            "Score = killed / (killed + survived), equivalent mutants excluded.",
            "",
            f"Overall: **{overall:.1f} %** ({total_killed} killed, {total_survived} survived).",
            "",
            "| group | modules | score | killed | survived | equivalent / other (no tests, timeout, skipped) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "## Surviving mutants",
            "",
            *(survivors or ["None."]),
            "",
            "## Equivalent mutants",
            "",
            "Listed in `tools/mutation_equivalent.toml` with the reason no test can tell them from the original "
            "(`[equivalent]`), or why mutmut cannot run them (`[import_time]`: code run once when the module is "
            "imported, before mutmut switches a mutant on, so every test sees the original).",
            "",
            *(equivalents or ["None."]),
            "",
        ]
    )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    print(text)
    if fail_under is not None and overall < fail_under:
        print(f"mutation score {overall:.1f} % is below {fail_under:g} %", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("groups", nargs="*", default=list(GROUPS))
    r.add_argument("--children", type=int, default=2)
    rep = sub.add_parser("report")
    rep.add_argument("--fail-under", type=float)
    args = parser.parse_args()
    if args.command == "run":
        run(args.groups, args.children)
        return 0
    return report(args.fail_under)


if __name__ == "__main__":
    sys.exit(main())
