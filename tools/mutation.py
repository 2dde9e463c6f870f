"""Mutation testing of the modules that hold the rules (mutmut), one group at a time, and its report.

Each group mutates one or a few modules and runs only the fast SQLite test files that exercise them, in a
scratch copy of the working tree under .mutation/<group>/ (mutmut reads its settings from the pyproject.toml
of the directory it runs in, so each copy gets its own [tool.mutmut]).

    python -m tools.mutation run [GROUP ...]     # resume from the kept results (--fresh: every mutant again)
    python -m tools.mutation rerun GROUP         # the copy's survivors (but the listed equivalents) and unfinished
                                                 # mutants again, after a fix (no copy: one from the kept results)
    python -m tools.mutation keep [GROUP ...]    # keep the results in .mutation/ (after an interrupted run)
    python -m tools.mutation report [--fail-under 85]   # docs/mutation.md from the results (.mutation/ or kept)

Every run and rerun keeps the group's results in tools/mutation-results/<group>.json (committed): mutmut's exit
code per mutant and hash per function, and each survivor's diff. A later run restores them and runs only what
has no result yet or belongs to a function whose code changed, so the hours a whole run takes can be spread
over several sittings, and the report is made from results anyone can check out.

The score is killed / (killed + survived); mutants listed in tools/mutation_equivalent.toml (name: reason) are
equivalent to the original (no test can tell them apart) and count as neither. `--fail-under` is a gate on every
group, not on the total: it fails when a group scores below it, was never run, or has mutants not checked (a run
that was stopped or did not finish).

Time: docs/mutation.md (written by `report`) gives the measured rates per group; a run prints how many mutants got
a result and in how many seconds. `rerun` costs one mapping run plus the survivors not listed as equivalent and
the unfinished mutants.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.toml"
#: each group's results, committed (tools/mutation-results/<group>.json): the report is made from them, and a run
#: resumes from them, since a whole run takes longer than one sitting on two cores
KEPT = ROOT / "tools" / "mutation-results"
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
    "http": (
        ["api/http.py", "api/keys.py", "api/hot.py"],
        ["tests/test_hot_rules.py", "tests/test_http_rules.py", "tests/test_hot.py"],
    ),
    "filters": (["schemas/args.py"], ["tests/test_arg_rules.py"]),
    "visibility": (
        ["api/store/visibility.py", "api/store/queries.py"],
        [
            "tests/test_rules.py",
            "tests/test_bounds.py",
            "tests/test_query_rules.py",
            "tests/test_search_recent.py",
            "tests/test_change_rules.py",
            "tests/test_feed_rules.py",
            "tests/test_count_index.py",
            "tests/test_search_tiers.py",
        ],
    ),
    "feeds": (["api/resources/feeds.py"], ["tests/test_feed_rules.py"]),
    "merge": (["api/ingest/merge.py"], ["tests/test_merge_rules.py"]),
    "changes": (
        ["api/resources/changes.py"],
        ["tests/test_changes.py", "tests/test_tokens.py", "tests/test_query_rules.py", "tests/test_change_rules.py"],
    ),
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
        "api.hot.*",  # the hot path's replays: its 304s, what it leaves to the app, what it keeps and drops
    ],
    "pagination": ["api.pagination.x_paginate*", "api.pagination.x_decode_cursor*", "api.pagination.xǁOrderǁ*"],
    # format_param, fields_param and include_param build the schema classes' fields, at import
    "filters": [
        "schemas.args.x_ignored_param*",
        "schemas.args.x__check_range*",
        "schemas.args.x__check_article_filters*",
    ],
}

#: the tests a group runs (a pytest -k expression): SQLite's, where not said otherwise
SQLITE = "not postgres"
BACKENDS: dict[str, str] = {
    # on PostgreSQL the bounded search finds its candidates' window by probing recency windows
    # (search.recent_matches before the page): its generated-archive test runs on PostgreSQL too, a few seconds a
    # mutant; so do the tests whose queries SQLite answers right by accident (an ungrouped column it picks from
    # its group, rows in index order without ORDER BY) and PostgreSQL refuses or returns in another order, and
    # those that turn a table's physical order around (tests/test_rules.py reverse_heap: only PostgreSQL's ties of
    # a sort follow it), and the count-index oracles, whose scalar subqueries SQLite answers with their first row
    # where PostgreSQL refuses a second one
    "visibility": f"{SQLITE} or search_recent or sections_of_one_position or images_related_lists or issue_item_embeds"
    " or openapi_examples or whatever_the_row_order or one_instant_and_slug or exact_total_is_the_oracle_count"
    " or a_feeds_archive_weeks",
}

# mutmut's exit-code meaning (mutmut.stats.status_by_exit_code), for the statuses counted here
KILLED, SURVIVED, NO_TESTS = "killed", "survived", "no tests"
#: statuses of a mutant no test killed: it survived the tests that reach its function, or none reaches it (a
#: function the group's tests never call is as untested as one whose tests cannot tell; both count against the
#: score unless listed as equivalent)
NOT_KILLED = (SURVIVED, NO_TESTS)
#: statuses of a mutant whose run did not finish: the group has no score until they are run
UNFINISHED = ("not checked", "check was interrupted by user")
#: the score every group must reach (the issue's bar); `report --fail-under` sets another
THRESHOLD = 85.0


def _copy_tree(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree (what a commit would hold)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in _tree_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def _fresh_copy(group: str) -> Path:
    """The group's scratch copy of the working tree, made afresh, with its own [tool.mutmut] settings."""
    modules, tests = _group_tests(group)
    dest = WORK / group
    _copy_tree(dest)
    (dest / "pyproject.toml").write_text(_pyproject(group, modules, tests))
    return dest


def _tree_files() -> list[str]:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    return [name.decode() for name in files if name and (ROOT / name.decode()).is_file()]


def _pyproject(group: str, modules: list[str], tests: list[str]) -> str:
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
        + 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", '
        + f'"-k", "{BACKENDS.get(group, SQLITE)}", "-x", "-q"]\n'
        + "timeout_multiplier = 5.0\n"
    )


def _group_tests(group: str) -> tuple[list[str], list[str]]:
    modules, tests = GROUPS[group]
    return modules, [t for t in tests if (ROOT / t).exists()]


def _mutmut(group: str, dest: Path, names: list[str], children: int) -> None:
    modules, tests = _group_tests(group)
    env = {**os.environ, "MUTATION_TESTING": "1", "MUTATION_TEST_ORDER": ",".join(tests)}
    print(f"== {group}: {', '.join(modules)} against {', '.join(tests)}", flush=True)
    started, before = time.monotonic(), _results(group)
    subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *names],
        cwd=dest,
        env=env,
        check=False,
    )
    seconds, after = time.monotonic() - started, _results(group)
    done = sum(1 for n, s in after.items() if s not in UNFINISHED and before.get(n, UNFINISHED[0]) in UNFINISHED)
    print(f"\n{group}: {done} mutant(s) got a result in {seconds:.0f} s with {children} children", flush=True)


def run(groups: list[str], children: int, fresh: bool = False) -> None:
    """Each group in a fresh copy of the working tree. Unless `fresh`, the group's kept results are restored
    first: mutmut keeps the result of every mutant whose function is unchanged (its own per-function hash) and
    runs the rest: the mutants not checked yet, and every mutant of a changed or new function."""
    for group in groups:
        dest = _fresh_copy(group)
        names = ONLY.get(group, [])
        if not fresh and _restore(group, dest):
            names = _pending(group, dest)
            if names == []:
                print(f"{group}: every mutant has a kept result; nothing to run")
                continue
        try:
            _mutmut(group, dest, names or [], children)
        finally:
            keep(group)


def _restore(group: str, dest: Path) -> bool:
    """Write the group's kept results into its copy as mutmut's own .meta files; False when none are kept."""
    path = KEPT / f"{group}.json"
    if not path.exists():
        return False
    kept = json.loads(path.read_text())
    for module, meta in kept["modules"].items():
        target = dest / "mutants" / (module + ".meta")
        target.parent.mkdir(parents=True, exist_ok=True)
        full = {"type_check_error_by_key": {}, "durations_by_key": {}, "estimated_durations_by_key": {}, **meta}
        target.write_text(json.dumps(full))
    return True


def _pending(group: str, dest: Path) -> list[str] | None:
    """The mutant names to run after a restore: those not checked and those of functions whose code changed
    since (mutmut numbers those afresh). None means every mutant of the group without a result (no selection:
    mutmut itself then skips the ones with a result)."""
    kept = json.loads((KEPT / f"{group}.json").read_text())
    names: list[str] = []
    # a module new to the group has no kept results: every function of it is new
    modules = {**{m: {"exit_code_by_key": {}} for m in GROUPS[group][0]}, **kept["modules"]}
    for module, meta in modules.items():
        current = _function_hashes((dest / module).read_text())
        old = meta.get("hash_by_function_name", {})
        prefix = _module(module)
        changed = [f for f in current if old.get(f) != current[f]]
        names += [f"{prefix}.{f}__mutmut_*" for f in changed]
        names += [
            n for n, code in meta["exit_code_by_key"].items()
            if code is None and n.rsplit("__mutmut_", 1)[0].rpartition(".")[2] not in changed
        ]  # fmt: skip
    if group not in ONLY:
        return None if names else []
    return [n for n in names if any(fnmatch.fnmatch(n.replace("*", "1"), p) for p in ONLY[group])]


def keep(group: str) -> None:
    """Save the group's results from its copy (mutmut's .meta files: exit codes and function hashes) with the
    diff of every survivor, so the report needs no copy."""
    dest = WORK / group
    modules = {}
    for meta in sorted((dest / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        module = str(meta.relative_to(dest / "mutants")).removesuffix(".meta")
        modules[module] = {
            "exit_code_by_key": data.get("exit_code_by_key", {}),
            "hash_by_function_name": data.get("hash_by_function_name", {}),
        }
    if not modules:
        return
    survived = sorted(n for n, s in _results(group).items() if s in NOT_KILLED)
    KEPT.mkdir(parents=True, exist_ok=True)
    doc = {"modules": modules, "diffs": {n: _diff(group, n) for n in survived}}
    (KEPT / f"{group}.json").write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _module(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _function_hashes(source: str) -> dict[str, str]:
    """mutmut's hash of each function of a module (the one that decides whether a function's mutants are
    regenerated, renumbered and their results dropped)."""
    from mutmut.mutation.file_mutation import compute_function_hashes

    return compute_function_hashes(source)


def refresh(group: str, dest: Path) -> tuple[list[str], list[str]]:
    """Bring the group's copy up to the working tree, keeping its mutants/ results.

    mutmut regenerates a mutated module only when the copy's source is newer than its mutated file, so a changed
    module is written with a fresh mtime; files it copied into mutants/ once (non-Python files of the source
    paths) are brought up to date there too. Returns the changed files and the functions of the mutated modules
    whose code changed: mutmut regenerates their mutants, numbers them afresh and forgets their results.
    """
    modules, tests = _group_tests(group)
    changed, functions = [], []
    for name in _tree_files():
        src, target = ROOT / name, dest / name
        if name == "pyproject.toml":  # the copy's own, with its [tool.mutmut]: written below
            continue
        if target.is_file() and target.read_bytes() == src.read_bytes():
            continue
        if name in modules:
            old = _function_hashes(target.read_text()) if target.is_file() else {}
            new = _function_hashes(src.read_text())
            # changed or new functions (a removed one has no mutants left to run)
            functions += [f"{_module(name)}.{f}" for f in sorted(new) if old.get(f) != new[f]]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)  # a fresh mtime: newer than the mutated file, so mutmut regenerates it
        copied = dest / "mutants" / name
        if name not in modules and not name.endswith(".py") and copied.is_file():
            shutil.copyfile(src, copied)
        changed.append(name)
    pyproject = _pyproject(group, modules, tests)
    if (dest / "pyproject.toml").read_text() != pyproject:
        (dest / "pyproject.toml").write_text(pyproject)
        changed.append("pyproject.toml")
    # Tests map to functions once per stats run, and only new test names are mapped again: a changed test could
    # reach a function it did not before, so the mapping is made afresh (one run of the group's test files).
    (dest / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    return changed, functions


def rerun(group: str, children: int) -> int:
    """The group's survivors and unfinished mutants again, against the working tree's code and tests."""
    dest = WORK / group
    if not (dest / "mutants").is_dir():
        # no copy here (a new checkout): one is made from the kept results, which mutmut honours for every
        # function whose code is unchanged
        _fresh_copy(group)
        if not _restore(group, dest):
            print(f"{group}: no kept results to rerun; run the group first", file=sys.stderr)
            return 2
    before = _results(group)
    changed, functions = refresh(group, dest)
    # functions with mutants to run: mutated before (or new), and among the group's selection where it has one
    functions = [
        f
        for f in functions
        if any(n.startswith(f"{f}__mutmut_") for n in before) or not any(n.startswith(f"{f}__") for n in before)
        if group not in ONLY or any(fnmatch.fnmatch(f"{f}__mutmut_1", p) for p in ONLY[group])
    ]
    print(f"{group}: {len(changed)} file(s) refreshed from the working tree: {', '.join(changed) or 'none'}")
    for function in functions:
        print(
            f"{group}: {function} changed: mutmut regenerates its mutants and numbers them afresh (a number no "
            "longer names the same mutation, and equivalents listed by number must be checked again); all of them "
            "are run"
        )
    changed_function = tuple(f"{f}__mutmut_" for f in functions)
    # a survivor listed as equivalent cannot be killed: running it again would only spend a whole run of its tests
    equivalent = _equivalent()
    names = sorted(
        n
        for n, s in before.items()
        if ((s in NOT_KILLED and n not in equivalent) or s in UNFINISHED) and not n.startswith(changed_function)
    )
    names += [f"{f}__mutmut_*" for f in functions]
    if not names:
        print(f"{group}: nothing to rerun (no survivors, nothing unfinished)")
        return 0
    try:
        _mutmut(group, dest, names, children)
    finally:
        keep(group)
    after = _results(group)
    for name in sorted(n for n in names if n in before):
        if before[name] != after.get(name):
            print(f"{group}: {name}: {before[name]} -> {after.get(name, 'gone')}")
    survived = sorted(n for n, s in after.items() if s in NOT_KILLED)
    print(f"{group}: {len(survived)} survived after the rerun (equivalents included): {', '.join(survived)}")
    unfinished = sorted(n for n, s in after.items() if s in UNFINISHED)
    if unfinished:
        print(f"{group}: {len(unfinished)} mutant(s) still not checked: {', '.join(unfinished[:10])}", file=sys.stderr)
    return 0


def _results(group: str) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    out = {}
    if (WORK / group / "mutants").is_dir():
        metas = [json.loads(m.read_text()) for m in (WORK / group / "mutants").rglob("*.py.meta")]
    elif (KEPT / f"{group}.json").exists():
        metas = list(json.loads((KEPT / f"{group}.json").read_text())["modules"].values())
    else:
        metas = []
    for data in metas:
        for name, code in data.get("exit_code_by_key", {}).items():
            if group in ONLY and not any(fnmatch.fnmatch(name, p) for p in ONLY[group]):
                continue
            # an exit code mutmut does not know (-15: the run was stopped mid-mutant) is no result
            out[name] = status_by_exit_code[code] if code in status_by_exit_code else UNFINISHED[0]
    return out


def _diff(group: str, name: str) -> str:
    if not (WORK / group / "mutants").is_dir():
        return json.loads((KEPT / f"{group}.json").read_text())["diffs"].get(name, "(diff kept nowhere)")
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name], cwd=WORK / group, capture_output=True, text=True, check=False
    )
    lines = [
        line for line in done.stdout.splitlines() if line.startswith(("+", "-")) and line[:3] not in ("+++", "---")
    ]
    # A code span, so that mutated code such as `f[k](v)` is never read as a Markdown link.
    return "`` " + " / ".join(line.strip() for line in lines)[:160].replace("`", "'") + " ``"


def _equivalent() -> dict[str, str]:
    """Mutant name -> why it is listed (tools/mutation_equivalent.toml: equivalent, or run at import)."""
    listed = tomllib.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    return {**listed.get("equivalent", {}), **listed.get("import_time", {})}


def _verdict(score: float | None, unfinished: int, bar: float) -> str:
    if score is None:
        return "FAIL: not run"
    if unfinished:
        return f"FAIL: {unfinished} not checked"
    return "pass" if score >= bar else f"FAIL: below {bar:g} %"


def report(fail_under: float | None = None) -> int:
    """docs/mutation.md from the results; with `fail_under`, 1 unless every group passes (see the docstring)."""
    bar = THRESHOLD if fail_under is None else fail_under
    equivalent = _equivalent()
    rows, survivors, equivalents, verdicts = [], [], [], {}
    total_killed = total_survived = 0
    for group, (modules, _tests) in GROUPS.items():
        results = _results(group)
        killed = sum(1 for s in results.values() if s == KILLED)
        surv = [n for n, s in results.items() if s in NOT_KILLED]
        eq = [n for n in surv if n in equivalent]
        live = [n for n in surv if n not in equivalent]
        unfinished = sum(1 for s in results.values() if s in UNFINISHED)
        other = len(results) - killed - len(surv) - unfinished
        score = 100.0 * killed / (killed + len(live)) if killed + len(live) else None
        verdicts[group] = _verdict(score, unfinished, bar)
        if not results:
            rows.append(f"| {group} | {', '.join(modules)} | not run | | | | | {verdicts[group]} |")
            continue
        shown = "not run" if score is None else f"{score:.1f} %"
        counts = f"{killed} | {len(live)} | {len(eq)} / {other} | {unfinished}"
        rows.append(f"| {group} | {', '.join(modules)} | {shown} | {counts} | {verdicts[group]} |")
        if score is None:
            continue
        total_killed += killed
        total_survived += len(live)
        survivors += [
            f"- `{n}`{' (no test of the group reaches it)' if results[n] == NO_TESTS else ''}: {_diff(group, n)}"
            for n in sorted(live)
        ]
        equivalents += [f"- `{n}`: {equivalent[n]}" for n in sorted(eq)]
    overall = 100.0 * total_killed / (total_killed + total_survived) if total_killed + total_survived else 0.0
    failing = [g for g, v in verdicts.items() if v != "pass"]
    gate = (
        f"every group reaches {bar:g} %"
        if not failing
        else f"{len(failing)} of {len(GROUPS)} groups fail the {bar:g} % bar ({', '.join(failing)})"
    )
    text = "\n".join(
        [
            "# Mutation testing",
            "",
            f"Generated by `{COMMAND}` (mutmut over the rule modules, each group against its fast SQLite test files; "
            "`python -m tools.mutation report` rewrites this page from the results kept in `tools/mutation-results/`, "
            "which a run resumes from).",
            "Score = killed / (killed + survived), equivalent mutants excluded; a mutant of a function no test of "
            "its group reaches counts as survived. The bar holds for every group: a group "
            f"passes when its score is at least {bar:g} % and no mutant is left not checked (a run that did not "
            "finish); a group never run fails.",
            "",
            f"Overall: **{overall:.1f} %** ({total_killed} killed, {total_survived} survived); {gate}.",
            "",
            "| group | modules | score | killed | survived | equivalent / other (timeout, skipped, segfault) "
            "| not checked | verdict |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "## Time",
            "",
            "A group costs one run of its test files (to map tests to functions), then one partial run per mutant: a "
            "killed mutant stops at its first failing test, a survivor runs every test that reaches its function. "
            "On two idle cores with two mutmut children, merge ran its 469 mutants at 4.5 a second, the sanitiser "
            "1 184 at 3.6 and feeds 772 at 1.8 (2 to 7 min each); visibility, whose tests load generated archives "
            "(PostgreSQL's among them), ran 634 mutants in 35 min beside a test suite (about 0.3 a second); the hot "
            "path's 312 new mutants (http) took 286 s and the change feed's 278 took 811 s on idle cores; with the "
            "count-index and search-tier tests in the group, visibility's 221 mutants of changed functions and its "
            "49 survivors took about 25 min (about 0.2 a second; a tier test loads a 500-article archive). Earlier "
            "runs on cores busy with a bench took several times longer (languages 5 min, http 3 min, pagination "
            "20 min). `python -m tools.mutation rerun GROUP` runs a group's survivors (but those listed as "
            "equivalent) and unfinished mutants again after a fix, keeping its other results (in a new checkout it "
            "starts from the kept results); a run resumes from the kept results, so only the mutants of changed "
            "functions run again.",
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
    for group, verdict in verdicts.items():
        print(f"{group}: {verdict}", file=sys.stderr)
    if fail_under is not None and failing:
        print(f"mutation gate: {gate}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("groups", nargs="*", default=list(GROUPS))
    r.add_argument("--children", type=int, default=2)
    r.add_argument("--fresh", action="store_true", help="ignore the kept results: every mutant again")
    again = sub.add_parser("rerun")
    again.add_argument("group", choices=list(GROUPS))
    again.add_argument("--children", type=int, default=2)
    kept = sub.add_parser("keep", help="save the results in .mutation/ as the kept ones (after an interrupted run)")
    kept.add_argument("groups", nargs="*", default=list(GROUPS))
    rep = sub.add_parser("report")
    rep.add_argument("--fail-under", type=float)
    args = parser.parse_args()
    if args.command == "run":
        run(args.groups, args.children, args.fresh)
        return 0
    if args.command == "keep":
        for group in args.groups:
            if (WORK / group / "mutants").is_dir():
                keep(group)
        return 0
    if args.command == "rerun":
        return rerun(args.group, args.children)
    return report(args.fail_under)


if __name__ == "__main__":
    sys.exit(main())
