"""The project's own policies: every domain rule encoded, every language present, full coverage.

The ids are those of ../shared/design/domain-rules.md; each must be the prefix of a rule id in
some policy, and each rule of each version needs a fixture where it fires and one where it
does not.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import decide
from engine.fixtures import coverage_gaps, load_cases, run_case
from engine.model import LANGUAGES
from engine.revision import coverage_problems, trace_version
from tests.conftest import FIXTURES

DOMAIN_IDS = ([f"CR-{i}" for i in range(1, 24)] + [f"TT-{i}" for i in range(1, 20)]
              + [f"AU-{i}" for i in range(1, 7)] + [f"TU-{i}" for i in range(1, 5)]
              + [f"AJ-{i}" for i in range(1, 5)])
EXPECTED = {
    "course-registration": "CR", "tyokokeilu-tyohonvalmennus": "TT", "auditointi": "AU",
    "tuloksellisuus": "TU", "ajanvaraus": "AJ",
}


def _rule_ids(real_store) -> set[str]:
    return {r.id for p in real_store.policies.values() for v in p.versions for r in v.rules}


def test_every_version_has_its_text_and_every_citation_names_a_section(real_store):
    """The seeds' passages are each version's text; every rule rests on sections of it, every
    section has a rule or says why it needs none, and every overlay that brings its own text
    has reviewed each rule that cites a changed section (check says so too)."""
    for policy in real_store.policies.values():
        for version in policy.versions:
            assert version.text is not None, f"{policy.name} {version.version} has no text"
            assert all(rule.sections for rule in version.rules)
            trace = trace_version(version)
            assert trace.counts[2] == 0 and coverage_problems(version) == []
            for rule in version.rules:       # each section named by a rule is in the text
                assert all(version.text.get(n) for n in rule.sections)


def test_the_five_policies_exist(real_store):
    assert set(EXPECTED) <= set(real_store.policies)
    tt = [v.version for v in real_store.get_policy("tyokokeilu-tyohonvalmennus").versions]
    tu = [v.effective_from.isoformat()
          for v in real_store.get_policy("tuloksellisuus").versions]
    assert len(tt) >= 2 and "2025-04" in tt
    assert "2019-12-14" in tu and len(tu) >= 2


@pytest.mark.parametrize("domain_id", DOMAIN_IDS)
def test_every_domain_rule_is_encoded(real_store, domain_id):
    pattern = re.compile(rf"^{re.escape(domain_id)}(?![0-9])")
    assert any(pattern.match(i) for i in _rule_ids(real_store)), f"no rule id starts {domain_id}"


def test_rules_live_in_their_policy(real_store):
    for name, prefix in EXPECTED.items():
        for version in real_store.get_policy(name).versions:
            wrong = [r.id for r in version.rules if not r.id.startswith(prefix + "-")]
            assert wrong == [], f"{name} {version.version}: {wrong}"


def test_every_message_in_every_language_with_known_placeholders(real_store):
    for policy in real_store.policies.values():
        for version in policy.versions:
            for rule in version.rules:
                assert set(rule.message) == set(LANGUAGES)
                names = {lang: {f for _, f, _, _ in string.Formatter().parse(text) if f}
                         for lang, text in rule.message.items()}
                for lang in LANGUAGES:
                    assert rule.message[lang].strip(), f"{rule.id}: empty {lang} message"
                assert rule.cite.get("seed") and rule.cite.get("section"), rule.id
                allowed = set(version.parameters) | {"as_of", "due", *rule.set_sources}
                for action in rule.actions:
                    spec = version.actions[action]
                    allowed |= set(spec.facts) | {d.name for d in spec.derived}
                for lang, used in names.items():
                    assert used <= allowed, f"{rule.id} {lang}: {used - allowed}"


def test_every_name_has_a_label_and_every_note_its_languages(real_store):
    """Pages show what people call the names: every fact, derived value, parameter and value
    of an enumerated fact of every version is labelled (an overlay inherits its base's);
    every interpretation note is in fi, sv and en, like the messages."""
    for policy in real_store.policies.values():
        for version in policy.versions:
            assert version.unlabelled() == [], f"{policy.name} {version.version}"
            for name, label in version.labels.items():
                assert set(label.label) == set(LANGUAGES), name
                assert label.help is None or set(label.help) == set(LANGUAGES), name
            for rule in version.rules:
                note = rule.cite.get("interpretation")
                assert note is None or set(note) == set(LANGUAGES), rule.id


def test_fixtures_cover_every_rule_both_ways(real_store):
    cases, problems = load_cases([FIXTURES])
    assert problems == []
    gaps = coverage_gaps(real_store, [run_case(real_store, c) for c in cases])
    assert gaps == []


def test_versioning_proof_rehab_day(real_store):
    from engine import decide

    facts = {"service": "tyokokeilu", "hours_total": 7, "hours_at_workplace": 6}
    before = decide(real_store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
                    as_of="2025-03-10", facts=facts)
    after = decide(real_store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
                   as_of="2025-05-12", facts={**facts, "longer_day_goal": True})
    assert (before.outcome, after.outcome) == ("deny", "allow")
    assert before.version != after.version
    # from 04/2025 a day longer than 6 hours only as the customer's goal; not sent = not shown
    not_goal = decide(real_store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
                      as_of="2025-05-12", facts=facts)
    assert (not_goal.outcome, not_goal.fired) == (
        "deny", ("TT-1-longer-day-goal", "TT-3-day-not-billable"))


def test_rule_table_in_policies_readme_is_current(real_store):
    from engine.cli import TABLE_BEGIN, TABLE_END, rules_table
    from tests.conftest import POLICIES

    text = (POLICIES / "README.md").read_text(encoding="utf-8")
    current = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].lstrip("\n")
    assert current == rules_table(real_store.policies), (
        "run: .venv/bin/rehab-rules table policies --write policies/README.md")


def test_rule_table_has_one_row_per_distinct_citation(real_store):
    from engine.cli import rules_table

    table = rules_table(real_store.policies)
    rows = [line for line in table.splitlines() if "`TT-1-day-length`" in line]
    # the 2025-04 citation (the words it quotes from 4.2, its interpretation) differs from
    # 2023-01's: two rows
    assert len(rows) == 2
    assert "| 2023-01 |" in rows[0] and '"Asiakkaan kuntoutuspäivän pituus on 6 tuntia."' \
        in rows[0]
    assert "| 2025-04 |" in rows[1] and "pituus on vähintään 6 tuntia" in rows[1]
    # an unchanged citation stays one row listing both versions
    assert next(line for line in table.splitlines() if "`TT-4-max-days`" in line).count(
        "2023-01, 2025-04") == 1


_HOURS = st.sampled_from([0, 4, 4.5, 5, 5.5, 6, 6.5, 7, 8, 24])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(as_of=st.sampled_from(["2025-03-31", "2025-04-01"]),
       service=st.sampled_from(["tyokokeilu", "tyohonvalmennus"]),
       hours_total=_HOURS, hours_at_workplace=_HOURS, sick=st.booleans(), flex_day=st.booleans(),
       paid_work=st.booleans(), days_used_before=st.sampled_from([0, 44, 45, 94, 95, 200]),
       longer_day_goal=st.sampled_from([None, True, False]))
def test_a_rehab_day_is_billable_exactly_when_it_is_allowed_and_not_sick(real_store, as_of,
                                                                         longer_day_goal,
                                                                         **facts):
    """TT-3's `day_denied` repeats the deny rules of rehab_day (TT-1, TT-2, TT-4): this fails
    when one of them changes and the repetition does not, in either version."""
    if as_of >= "2025-04-01" and longer_day_goal is not None:   # a fact of 2025-04 only
        facts["longer_day_goal"] = longer_day_goal
    decision = decide(real_store, policy="tyokokeilu-tyohonvalmennus", action="rehab_day",
                      as_of=as_of, facts=facts)
    billable = decision.results["billable"]
    assert billable == decision.results["counts_as_rehab_day"]
    assert billable == (decision.outcome == "allow" and not facts["sick"]), decision.fired


def test_the_guides_complete_version_validates(tmp_path):
    """policies/README.md says its complete example validates on its own: it must, under
    every check the guide teaches (every name read, one_of naming the table)."""
    from engine.store import load_folder
    from tests.conftest import POLICIES

    text = (POLICIES / "README.md").read_text(encoding="utf-8")
    part = text.split("## A complete version", 1)[1]
    example = part.split("```yaml\n", 1)[1].split("```")[0]
    its_text = part.split("```markdown\n", 1)[1].split("```")[0]
    target = tmp_path / "tyokokeilu-tyohonvalmennus" / "2025-04.yaml"
    target.parent.mkdir()
    target.write_text(example, encoding="utf-8")
    target.with_suffix(".fi.md").write_text(its_text, encoding="utf-8")
    _, policies, _, problems = load_folder(tmp_path)
    assert problems == [] and "tyokokeilu-tyohonvalmennus" in policies
    (rule,) = policies["tyokokeilu-tyohonvalmennus"].versions[0].rules
    assert rule.sections == ("4.2",)
