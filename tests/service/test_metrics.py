"""Prometheus counts and the shared-directory set-up (service/metrics.py)."""

from __future__ import annotations

from service.metrics import MULTIPROC_ENV, Metrics, multiprocess_environment


def lines(metrics: Metrics) -> list[str]:
    return [line for line in metrics.render().splitlines() if not line.startswith("#")]


def test_counts_decisions_by_policy_action_and_outcome():
    metrics = Metrics()
    metrics.count_decision("tiny", "day", "deny", 0.003)
    metrics.count_decision("tiny", "day", "deny", 0.2)
    metrics.count_decision("tiny", "day", "allow", 0.0004)
    out = lines(metrics)
    assert 'rehab_rules_decisions_total{action="day",outcome="deny",policy="tiny"} 2.0' in out
    assert 'rehab_rules_decisions_total{action="day",outcome="allow",policy="tiny"} 1.0' in out
    assert 'rehab_rules_decision_seconds_count{action="day",policy="tiny"} 3.0' in out
    assert 'rehab_rules_decision_seconds_bucket{action="day",le="0.005",policy="tiny"} 2.0' \
        in out


def test_counts_responses_and_reloads():
    metrics = Metrics()
    metrics.count_response("GET", "/v1/health", 200)
    metrics.count_reload("refused")
    out = lines(metrics)
    assert ('rehab_rules_http_responses_total{endpoint="/v1/health",method="GET",status="200"}'
            ' 1.0') in out
    assert 'rehab_rules_policy_reloads_total{result="refused"} 1.0' in out
    assert not any("_created" in line for line in out)


def test_each_app_counts_apart_without_the_shared_directory():
    first, second = Metrics(), Metrics()
    first.count_reload("reloaded")
    assert not any("reloads_total" in line for line in lines(second))


def test_multiprocess_environment_empties_only_count_files(tmp_path):
    folder = tmp_path / "var" / "metrics"
    folder.mkdir(parents=True)
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("keep me")
    assert multiprocess_environment(tmp_path / "var", {}) == {MULTIPROC_ENV: str(folder)}
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_multiprocess_environment_keeps_the_operators_directory(tmp_path):
    chosen = tmp_path / "elsewhere"
    env = multiprocess_environment(tmp_path / "var", {MULTIPROC_ENV: str(chosen)})
    assert env == {MULTIPROC_ENV: str(chosen)} and chosen.is_dir()
    assert not (tmp_path / "var").exists()


def test_a_method_outside_the_known_verbs_is_other_and_adds_no_series():
    metrics = Metrics()
    for i in range(500):
        metrics.count_response(f"131052-308T{i}", "<unmatched>", 405)
        metrics.count_response("GET", "/v1/health", 1000 + i)
    out = [line for line in lines(metrics) if line.startswith("rehab_rules_http_responses")]
    assert out == [
        'rehab_rules_http_responses_total{endpoint="<unmatched>",method="other",status="405"}'
        ' 500.0',
        'rehab_rules_http_responses_total{endpoint="/v1/health",method="GET",status="other"}'
        ' 500.0']
    assert "131052" not in metrics.render()
