"""The names a page shows for a version's facts, derived values and parameters
(service/explorer/naming.py), on the project's own policies."""

from __future__ import annotations

from service.explorer.naming import named, named_derived, named_facts


def _version(real_store, policy: str, version: str):
    return real_store.get_version(policy, version)


def test_a_fact_by_its_label_with_help_and_named_values(real_store):
    version = _version(real_store, "tyokokeilu-tyohonvalmennus", "2025-04")
    facts = {n.name: n for n in named_facts(version, version.actions["bill_meal"], "sv")}
    phase = facts["phase"]
    assert (phase.label, phase.spec.type) == ("Skede", "string")
    assert phase.options[0] == ("planning", "planering")
    # values of a table's keys are named by its sv column
    assert facts["service"].options == (("tyokokeilu", "arbetsprövning"),
                                        ("tyohonvalmennus", "arbetsträning"))
    day = {n.name: n for n in named_facts(version, version.actions["rehab_day"], "fi")}
    assert day["sick"].help.startswith("Asiakas oli poissa sairauden vuoksi")


def test_derived_values_and_parameters_and_what_has_no_label(real_store):
    version = _version(real_store, "auditointi", "2025-01")
    derived = named_derived(version, version.actions["audit_summary"], "en")
    assert [(n.label, d.name) for n, d in derived][:2] == [
        ("Deviations in total", "deviation_count"), ("Base of the shares", "share_base")]
    assert named(version, "report_within_weeks", "fi").label == \
        "Auditointikertomuksen määräaika (viikkoa)"
    bare = named(version, "no_such_name", "fi")
    assert (bare.name, bare.label, bare.help) == ("no_such_name", None, None)
