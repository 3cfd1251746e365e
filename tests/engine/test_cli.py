import json

from click.testing import CliRunner

from engine.cli import main
from tests.conftest import write_policy

FACTS = '{"hours": 5, "kind": "b", "start": "2026-08-31"}'


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_ok_and_broken(demo_root, tmp_path):
    ok = _run("validate", str(demo_root))
    assert ok.exit_code == 0 and "OK: 1 policies, 1 versions, 6 rules" in ok.output
    bad = tmp_path / "bad"
    write_policy(bad, (demo_root / "demo" / "2024-01.yaml").read_text().replace(
        "effect: deny", "effect: forbid").replace("hours < min_hours", "hours < min_hour"))
    out = _run("validate", str(bad))
    assert out.exit_code == 1
    lines = [ln for ln in out.output.splitlines() if "2024-01.yaml:" in ln]
    assert len(lines) == 3 and all(ln.split(":")[1].isdigit() for ln in lines)


def test_eval_text_json_and_explain(demo_root):
    out = _run("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", FACTS, "--lang", "sv", "--explain")
    assert out.exit_code == 0
    assert out.output.startswith("DENY  demo 2024-01")
    assert "violation TT-1-short: För kort: 5 h  [seed 004, 4.2]" in out.output
    assert "obligation TT-3-due (due 2027-02-28)" in out.output
    assert "fired TT-1-short: hours < min_hours  [hours=5]" in out.output
    out = _run("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", FACTS, "--json")
    assert json.loads(out.output)["outcome"] == "deny"


def test_eval_pinned_version(demo_root):
    from tests.conftest import DEMO

    write_policy(demo_root, DEMO.replace('version: "2024-01"', 'version: "2025-01"').replace(
        "effective_from: 2024-01-01", "effective_from: 2025-01-01").replace(
        "min_hours: 6", "min_hours: 5"), version="2025-01")
    args = ("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
            "--as-of", "2025-03-10", "--facts", '{"hours": 5.5, "kind": "a"}')
    out = _run(*args)
    assert out.exit_code == 0 and out.output.startswith("ALLOW  demo 2025-01 (sha256:")
    out = _run(*args, "--version", "2024-01")
    assert out.exit_code == 0 and out.output.startswith("DENY  demo 2024-01 (pinned) (sha256:")
    body = json.loads(_run(*args, "--version", "2024-01", "--json").output)
    assert (body["version"], body["pinned"]) == ("2024-01", True)
    assert json.loads(_run(*args, "--json").output)["pinned"] is False
    out = _run(*args, "--version", "2030-01")
    assert out.exit_code == 1 and "unknown_version" in out.output
    body = json.loads(_run(*args, "--version", "2030-01", "--json").output)
    assert body["error"]["code"] == "unknown_version"


def test_eval_facts_from_file_and_errors(demo_root, tmp_path):
    f = tmp_path / "facts.json"
    f.write_text('{"hours": "x", "kind": "a"}')
    out = _run("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", f"@{f}")
    assert out.exit_code == 1 and "invalid_facts" in out.output and "hours" in out.output
    out = _run("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", "{nope")
    assert out.exit_code == 2 and "not JSON" in out.output


def test_test_command_counts_and_coverage(demo_root, tmp_path):
    fixtures = tmp_path / "fx" / "demo" / "2024-01"
    fixtures.mkdir(parents=True)
    (fixtures / "day.yaml").write_text(
        "cases:\n  - name: ok\n    action: day\n    as_of: 2024-05-01\n"
        "    facts: {hours: 7, kind: a}\n    expect: {outcome: allow, fired: [TT-4-size]}\n"
        "  - name: wrong\n    action: day\n    as_of: 2024-05-01\n"
        "    facts: {hours: 5, kind: a}\n    expect: {outcome: allow}\n")
    out = _run("test", str(tmp_path / "fx"), "--policies", str(demo_root))
    assert out.exit_code == 1
    assert "FAIL" in out.output and out.output.strip().endswith("1 passed, 1 failed")
    out = _run("test", str(tmp_path / "fx"), "--policies", str(demo_root), "--coverage")
    assert "UNCOVERED" in out.output and "TT-2-unpaid" in out.output


def test_broken_policies_stop_eval(tmp_path):
    write_policy(tmp_path, "policy: demo\n")
    out = _run("eval", "--policies", str(tmp_path), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", "{}")
    assert out.exit_code == 1 and "problem(s) in policy files" in out.output


def test_table_prints_and_writes(demo_root, tmp_path):
    out = _run("table", str(demo_root))
    assert out.exit_code == 0
    assert "| TT-2 | `TT-2-unpaid` | demo | 2024-01 | day | warn | 004, 4.3 | yes: b counts" \
        in out.output
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- rules:begin -->\nold\n<!-- rules:end -->\nend\n")
    assert _run("table", str(demo_root), "--write", str(doc)).exit_code == 0
    text = doc.read_text()
    assert "old" not in text and "`TT-1-short`" in text and text.endswith("end\n")


DIFF_OVERLAY = '''\
policy: demo
version: "2025-01"
extends: "2024-01"
effective_from: 2025-01-01
changes:
  - {cite: "4.2", fi: Vähintään viisi tuntia, sv: Minst fem timmar, en: At least five hours}
parameters:
  min_hours: 5
  types:
    b: {max_size: 9}
'''


def test_diff_text_in_finnish_and_english(demo_root):
    write_policy(demo_root, DIFF_OVERLAY, version="2025-01")
    out = _run("diff", "demo", "2024-01", "2025-01", "--policies", str(demo_root))
    assert out.exit_code == 0
    assert out.output.startswith("demo: 2024-01 → 2025-01\n"
                                 "Voimassa alkaen: 2024-01-01 → 2025-01-01\n"
                                 "Muutosmerkinnät, versio 2025-01:\n"
                                 "  - 4.2: Vähintään viisi tuntia\n")
    assert ("Parametrit:\n"
            "  muutettu min_hours: 6 → 5\n"
            "    Säännöt, jotka lukevat tätä: TT-1-short\n"
            "  muutettu types.b.max_size: 8 → 9\n"
            "    Säännöt, jotka lukevat tätä: TT-4-size\n") in out.output
    out = _run("diff", "demo", "2024-01", "2025-01", "--policies", str(demo_root),
               "--lang", "en")
    assert "Effective from: 2024-01-01 → 2025-01-01\n" in out.output
    assert "  - 4.2: At least five hours\n" in out.output
    assert "Parameters:\n  changed min_hours: 6 → 5\n    Rules that read it: TT-1-short\n" \
        in out.output
    assert "Rules:" not in out.output


def test_diff_json(demo_root):
    write_policy(demo_root, DIFF_OVERLAY, version="2025-01")
    out = _run("diff", "demo", "2024-01", "2025-01", "--policies", str(demo_root), "--json")
    assert out.exit_code == 0 and "Vähintään" in out.output       # not \u00e4
    body = json.loads(out.output)
    assert (body["from"], body["to"]) == ("2024-01", "2025-01")
    [_, types] = body["parameters"]["changed"]
    assert types["cells"] == [{"name": "types.b.max_size", "path": ["types", "b", "max_size"],
                               "change": "changed", "from": 8, "to": 9}]


def test_diff_unknown_policy_or_version_names_the_known_ones(demo_root):
    out = _run("diff", "demo", "2024-01", "2030-01", "--policies", str(demo_root))
    assert out.exit_code == 1
    assert "has no version '2030-01'; known: 2024-01" in out.output
    out = _run("diff", "nope", "2024-01", "2025-01", "--policies", str(demo_root))
    assert out.exit_code == 1 and "unknown policy 'nope'; known: demo" in out.output


# -- texts: eval --cite-text, trace, review ---------------------------------------------------

def _with_text(root):
    from tests.conftest import write_text

    write_text(root)
    return root


def test_eval_prints_the_cited_sentences_on_request(demo_root):
    _with_text(demo_root)
    out = _run("eval", "--policies", str(demo_root), "--policy", "demo", "--action", "day",
               "--as-of", "2024-05-01", "--facts", FACTS, "--cite-text")
    assert "      4.2: Kuntoutuspäivän pituus on 6 tuntia." in out.output
    body = json.loads(_run("eval", "--policies", str(demo_root), "--policy", "demo", "--action",
                           "day", "--as-of", "2024-05-01", "--facts", FACTS, "--json").output)
    assert body["violations"][0]["cite"]["sections"] == [
        {"number": "4.2", "heading": "Kuntoutuspäivä", "lang": "fi"}]


def test_trace_prints_every_section_and_refuses_without_a_text(demo_root):
    out = _run("trace", "demo", "--policies", str(demo_root))
    assert out.exit_code == 1 and "has no service-description text" in out.output
    _with_text(demo_root)
    out = _run("trace", "demo", "2024-01", "--policies", str(demo_root))
    assert out.exit_code == 0
    assert out.output.splitlines()[1] == "7 sections: 6 cited by rules, 1 need no rule, 0 neither"
    body = json.loads(_run("trace", "demo", "--json", "--policies", str(demo_root)).output)
    assert body["sections"][-1]["no_rule"] == "contact information; no request shows it"
    out = _run("trace", "demo", "--lang", "sv", "--policies", str(demo_root))
    assert out.exit_code == 1 and "has no sv text" in out.output
    out = _run("trace", "demo", "2030-01", "--policies", str(demo_root))
    assert out.exit_code == 1 and "no version '2030-01'" in out.output


def test_review_prints_the_checklist_and_writes_the_skeleton(demo_root, tmp_path):
    from tests.conftest import DEMO_TEXT

    _with_text(demo_root)
    new = tmp_path / "revised.fi.md"
    new.write_text(DEMO_TEXT.replace("6 tuntia", "7 tuntia"), encoding="utf-8")
    out = _run("review", "demo", str(new), "--policies", str(demo_root))
    assert out.exit_code == 0
    assert "changed 4.2 Kuntoutuspäivä" in out.output and "[ ] TT-1-short" in out.output
    assert not (demo_root / "demo" / "2024-06.yaml").exists()
    out = _run("review", "demo", str(new), "--overlay", "2024-06", "--policies", str(demo_root))
    assert out.exit_code == 0 and "wrote " in out.output
    assert (demo_root / "demo" / "2024-06.fi.md").read_bytes() == new.read_bytes()
    assert 'extends: "2024-01"' in (demo_root / "demo" / "2024-06.yaml").read_text()
    # the skeleton does not load until it is filled in; the version in force still does
    again = _run("review", "demo", str(new), "--overlay", "2024-06", "--policies",
                 str(demo_root))
    assert again.exit_code == 1 and "exists already; nothing written" in again.output
    assert "note: 4 problem(s)" in again.output
    bad = _run("review", "demo", str(new), "--overlay", "2024-13", "--policies", str(demo_root),
               "--against", "2024-01")
    assert bad.exit_code == 1 and "names a date that does not exist" in bad.output


def test_review_compares_a_swedish_text_only_with_a_swedish_one(demo_root, tmp_path):
    from tests.conftest import DEMO_TEXT

    _with_text(demo_root)
    new = tmp_path / "ny.sv.md"
    new.write_text(DEMO_TEXT, encoding="utf-8")
    out = _run("review", "demo", str(new), "--policies", str(demo_root))
    assert out.exit_code == 1 and "has no sv text to compare with" in out.output
    assert _run("review", "demo", str(new), "--lang", "fi", "--policies",
                str(demo_root)).exit_code == 0


def test_review_refuses_a_malformed_new_text_at_its_line(demo_root, tmp_path):
    _with_text(demo_root)
    new = tmp_path / "revised.fi.md"
    new.write_text("## 4.2 A\n## Yhteystiedot\n", encoding="utf-8")
    out = _run("review", "demo", str(new), "--policies", str(demo_root))
    assert out.exit_code == 1
    assert f"{new}:2: heading 'Yhteystiedot' has no number" in out.output


def test_a_swedish_text_is_traced_and_cited_in_swedish(demo_root):
    from tests.conftest import DEMO_TEXT, write_text

    _with_text(demo_root)
    write_text(demo_root, DEMO_TEXT.replace("Kuntoutuspäivä", "Rehabiliteringsdag").replace(
        "Palkaton työ", "Oavlönat arbete"), lang="sv")
    out = _run("trace", "demo", "--lang", "sv", "--policies", str(demo_root))
    assert out.exit_code == 0 and "4.2 Rehabiliteringsdag" in out.output
    body = json.loads(_run("eval", "--policies", str(demo_root), "--policy", "demo", "--action",
                           "day", "--as-of", "2024-05-01", "--facts", FACTS, "--lang", "sv",
                           "--json").output)
    assert body["violations"][0]["cite"]["sections"] == [
        {"number": "4.2", "heading": "Rehabiliteringsdag", "lang": "sv"}]
