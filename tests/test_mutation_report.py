"""The mutation report's gate (tools/mutation.py), on result files made up in tmp_path: `--fail-under` holds for
every group, not for the total, and a group never run or not finished fails it."""

from __future__ import annotations

import json

import pytest

from tools import mutation

# mutmut's exit codes (mutmut.stats.status_by_exit_code); -15 is none of them (a run stopped by SIGTERM mid-mutant)
KILLED, SURVIVED, NOT_CHECKED, NO_TESTS, TIMEOUT, STOPPED = 1, 0, None, 33, 36, -15


@pytest.fixture
def results(tmp_path, monkeypatch):
    """write(group, {mutant name: exit code}) makes up the meta file mutmut leaves in .mutation/<group>/mutants/."""
    monkeypatch.setattr(mutation, "WORK", tmp_path / "work")
    monkeypatch.setattr(mutation, "KEPT", tmp_path / "kept")
    monkeypatch.setattr(mutation, "DOC", tmp_path / "mutation.md")
    monkeypatch.setattr(mutation, "EQUIVALENT", tmp_path / "equivalent.toml")
    monkeypatch.setattr(mutation, "GROUPS", {"one": (["a/one.py"], []), "two": (["a/two.py"], [])})
    monkeypatch.setattr(mutation, "ONLY", {})
    monkeypatch.setattr(mutation, "_diff", lambda group, name: "`` diff ``")  # no mutmut show on made-up files
    (tmp_path / "equivalent.toml").write_text('[equivalent]\n"a.two.x_f__mutmut_9" = "a reason"\n')

    def write(group: str, codes: dict[str, int | None]) -> None:
        meta = tmp_path / "work" / group / "mutants" / "a" / f"{group}.py.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes}))

    return write


def mutants(group: str, killed: int, survived: int = 0, not_checked: int = 0) -> dict[str, int | None]:
    codes = [KILLED] * killed + [SURVIVED] * survived + [NOT_CHECKED] * not_checked
    return {f"a.{group}.x_f__mutmut_{i + 1}": code for i, code in enumerate(codes)}


def verdicts(capsys) -> dict[str, str]:
    err = capsys.readouterr().err
    return dict(line.split(": ", 1) for line in err.splitlines() if line.startswith(("one:", "two:")))


def test_every_group_at_the_bar_passes(results, capsys):
    results("one", mutants("one", killed=17, survived=3))  # 85.0 %
    results("two", mutants("two", killed=10))
    assert mutation.report(fail_under=85) == 0
    assert verdicts(capsys) == {"one": "pass", "two": "pass"}
    assert "| one | a/one.py | 85.0 % | 17 | 3 | 0 / 0 | 0 | pass |" in mutation.DOC.read_text()


def test_one_group_below_the_bar_fails_though_the_total_is_above_it(results, capsys):
    results("one", mutants("one", killed=8, survived=2))  # 80 %
    results("two", mutants("two", killed=90))  # overall 98 of 100
    assert mutation.report(fail_under=85) == 1
    assert verdicts(capsys) == {"one": "FAIL: below 85 %", "two": "pass"}
    assert "Overall: **98.0 %**" in mutation.DOC.read_text()


def test_a_group_never_run_fails(results, capsys):
    results("one", mutants("one", killed=10))
    assert mutation.report(fail_under=85) == 1
    assert verdicts(capsys) == {"one": "pass", "two": "FAIL: not run"}
    assert "| two | a/two.py | not run | | | | | FAIL: not run |" in mutation.DOC.read_text()


def test_a_run_that_did_not_finish_fails_whatever_its_score(results, capsys):
    results("one", mutants("one", killed=10, not_checked=1))
    results("two", mutants("two", killed=0, not_checked=5))  # nothing checked yet: no score at all
    assert mutation.report(fail_under=85) == 1
    assert verdicts(capsys) == {"one": "FAIL: 1 not checked", "two": "FAIL: not run"}
    assert "| one | a/one.py | 100.0 % | 10 | 0 | 0 / 0 | 1 | FAIL: 1 not checked |" in mutation.DOC.read_text()


def test_equivalent_survivors_count_for_neither_side(results, capsys):
    results("one", mutants("one", killed=10))
    results("two", mutants("two", killed=8, survived=1))  # a.two.x_f__mutmut_9 is the survivor, and listed
    assert mutation.report(fail_under=85) == 0
    assert verdicts(capsys)["two"] == "pass"
    doc = mutation.DOC.read_text()
    assert "| two | a/two.py | 100.0 % | 8 | 0 | 1 / 0 | 0 | pass |" in doc
    assert "- `a.two.x_f__mutmut_9`: a reason" in doc


def test_a_mutant_no_test_reaches_counts_as_survived(results, capsys):
    results("one", {**mutants("one", killed=17), "a.one.x_g__mutmut_1": NO_TESTS, "a.one.x_g__mutmut_2": NO_TESTS,
                    "a.one.x_g__mutmut_3": NO_TESTS})  # fmt: skip
    results("two", {**mutants("two", killed=17), **{f"a.two.x_g__mutmut_{i}": NO_TESTS for i in range(4)}})
    assert mutation.report(fail_under=85) == 1
    assert verdicts(capsys) == {"one": "pass", "two": "FAIL: below 85 %"}  # 17 of 20, 17 of 21
    doc = mutation.DOC.read_text()
    assert "| one | a/one.py | 85.0 % | 17 | 3 | 0 / 0 | 0 | pass |" in doc
    assert "- `a.one.x_g__mutmut_1` (no test of the group reaches it): `` diff ``" in doc


def test_a_timeout_is_other_and_an_unknown_exit_code_is_not_checked(results, capsys):
    results("one", {**mutants("one", killed=10), "a.one.x_g__mutmut_1": TIMEOUT})
    results("two", {**mutants("two", killed=10), "a.two.x_g__mutmut_1": STOPPED})
    assert mutation.report(fail_under=85) == 1
    assert verdicts(capsys) == {"one": "pass", "two": "FAIL: 1 not checked"}
    assert "| one | a/one.py | 100.0 % | 10 | 0 | 0 / 1 | 0 | pass |" in mutation.DOC.read_text()


def test_without_fail_under_the_page_shows_the_verdicts_and_the_exit_is_clean(results, capsys):
    results("one", mutants("one", killed=1, survived=1))
    results("two", mutants("two", killed=1))
    assert mutation.report() == 0
    assert verdicts(capsys)["one"] == "FAIL: below 85 %"
    doc = mutation.DOC.read_text()
    assert "1 of 2 groups fail the 85 % bar (one)" in doc
    assert "- `a.one.x_f__mutmut_2`: `` diff ``" in doc


def test_kept_results_make_the_same_report_and_a_resume_runs_only_what_changed(results, tmp_path, monkeypatch):
    """`keep` saves a group's results; without its copy the report reads them; a restore into a new copy puts
    them back as mutmut's meta files, and the run that follows asks only for the mutants with no result and
    those of functions whose code changed."""
    source = "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x * 2\n"
    hashes = mutation._function_hashes(source)
    codes = {"a.one.x_f__mutmut_1": KILLED, "a.one.x_f__mutmut_2": SURVIVED, "a.one.x_g__mutmut_1": NOT_CHECKED}
    meta = tmp_path / "work" / "one" / "mutants" / "a" / "one.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": hashes}))
    results("two", {"a.two.x_h__mutmut_1": KILLED})
    mutation.keep("one")
    mutation.keep("two")
    with_copy = mutation._results("one")
    (tmp_path / "work" / "one").rename(tmp_path / "gone")
    assert mutation._results("one") == with_copy == {
        "a.one.x_f__mutmut_1": "killed", "a.one.x_f__mutmut_2": "survived", "a.one.x_g__mutmut_1": "not checked"
    }  # fmt: skip
    assert mutation._diff("one", "a.one.x_f__mutmut_2") == "`` diff ``"
    dest = tmp_path / "copy"
    (dest / "a").mkdir(parents=True)
    (dest / "a" / "one.py").write_text(source.replace("x * 2", "x * 3"))  # g changed, f did not
    assert mutation._restore("one", dest)
    restored = json.loads((dest / "mutants" / "a" / "one.py.meta").read_text())
    assert restored["exit_code_by_key"] == codes and restored["hash_by_function_name"] == hashes
    assert mutation._pending("one", dest) is None  # no selection: mutmut runs what has no result itself
    monkeypatch.setattr(mutation, "ONLY", {"one": ["a.one.x_g*", "a.one.x_f*"]})
    assert mutation._pending("one", dest) == ["a.one.x_g__mutmut_*"]
    (dest / "a" / "one.py").write_text(source)
    assert mutation._pending("one", dest) == ["a.one.x_g__mutmut_1"]
    monkeypatch.setattr(mutation, "ONLY", {"one": ["a.one.x_f*"]})
    assert mutation._pending("one", dest) == []
    assert not mutation._restore("three", dest)


def test_a_rerun_in_a_new_checkout_starts_from_the_kept_results(results, tmp_path, monkeypatch):
    """Without a copy (a new checkout) `rerun` makes one from the working tree and the kept results, and asks
    mutmut for the survivors only: not the killed, not those listed as equivalent."""
    codes = {"a.two.x_f__mutmut_1": KILLED, "a.two.x_f__mutmut_2": SURVIVED, "a.two.x_f__mutmut_9": SURVIVED}
    results("two", codes)
    mutation.keep("two")
    (tmp_path / "work" / "two").rename(tmp_path / "gone")
    monkeypatch.setattr(mutation, "_tree_files", lambda: [])
    monkeypatch.setattr(mutation, "_group_tests", lambda group: (["a/two.py"], []))
    monkeypatch.setattr(mutation, "refresh", lambda group, dest: ([], []))
    asked = []
    monkeypatch.setattr(mutation, "_mutmut", lambda group, dest, names, children: asked.append(names))
    assert mutation.rerun("two", 1) == 0
    assert asked == [["a.two.x_f__mutmut_2"]]
    assert (
        json.loads((tmp_path / "work" / "two" / "mutants" / "a" / "two.py.meta").read_text())["exit_code_by_key"]
        == codes
    )
    monkeypatch.setattr(mutation, "KEPT", tmp_path / "none")
    (tmp_path / "work" / "two").rename(tmp_path / "gone-too")
    assert mutation.rerun("two", 1) == 2
