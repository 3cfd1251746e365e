"""Shared test helpers: a small demo policy written into a temporary folder."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from engine import PolicyStore

DEMO = textwrap.dedent('''\
    policy: demo
    version: "2024-01"
    effective_from: 2024-01-01
    title: {fi: Demo, sv: Demo, en: Demo}
    source: {document: Demo description, seed: "001"}
    parameters:
      min_hours: 6
      types:
        a: {min_size: 6, max_size: 12}
        b: {min_size: 4, max_size: 8}
    checks:
      - id: size-range
        for_each: types
        that: min_size <= max_size and min_hours > 0
        message: {fi: "{row}: {min_size}", sv: "{row}: {min_size}", en: "{row}: {min_size}"}
    actions:
      day:
        facts:
          hours: {type: number, min: 0, max: 24}
          kind: {type: string}
          paid: {type: boolean, default: false}
          start: {type: date, optional: true}
          groups: {type: list, items: string, optional: true}
          code: {type: hetu, optional: true}
        derive:
          size_min: lookup(types, kind, "min_size")
    rules:
      - id: TT-1-short
        action: day
        when: hours < min_hours
        effect: deny
        cite: {seed: "004", section: "4.2"}
        message:
          fi: "Liian lyhyt: {hours} h"
          sv: "För kort: {hours} h"
          en: "Too short: {hours} h"
      - id: TT-2-unpaid
        action: day
        when: not paid and kind == "b"
        effect: warn
        cite: {seed: "004", section: "4.3", interpretation: NOTE}
        message: {fi: "Palkaton", sv: "Oavlönad", en: "Unpaid"}
      - id: TT-3-due
        action: day
        when: start is present
        effect: oblige
        due: add_months(start, 6)
        cite: {seed: "004", section: "5"}
        message: {fi: "Viimeistään {due}", sv: "Senast {due}", en: "By {due}"}
      - id: TT-4-size
        action: day
        effect: result
        set: {size_min: size_min, long_day: hours > 8}
        cite: {seed: "004", section: "6"}
        message: {fi: "Koko {size_min}", sv: "Storlek {size_min}", en: "Size {size_min}"}
      - id: TT-5-groups
        action: day
        when: length(groups) > 2 or contains(groups, "x")
        effect: info
        cite: {seed: "004", section: "7"}
        message: {fi: "Ryhmät {groups}", sv: "Grupper {groups}", en: "Groups {groups}"}
      - id: TT-6-code
        action: day
        when: code is present and not valid_hetu(code)
        effect: deny
        cite: {seed: "004", section: "8"}
        message:
          fi: "Virheellinen henkilötunnus"
          sv: "Ogiltig personbeteckning"
          en: "Invalid personal identity code"
''')
# TT-2's interpretation note, in the three languages a note is written in (on its one line)
DEMO = DEMO.replace("interpretation: NOTE", "interpretation: {fi: b on valmennusta, "
                    "sv: b är träning, en: b counts as coaching}")


# The demo's service-description text: the sections its rules cite, and one that needs none.
DEMO_TEXT = textwrap.dedent('''\
    <!-- the demo description; numbers as the demo's rules cite them -->
    # Demo description

    ## 4.2 Kuntoutuspäivä

    Kuntoutuspäivän pituus on 6 tuntia. Tästä vähintään 5 tuntia on työtä.

    ## 4.3 Palkaton työ

    - Työ on palkatonta.

    ## 5 Määräaika

    Toimita kuuden kuukauden kuluessa.

    ## 6 Ryhmäkoko

    Ryhmäkoko on 6–12.

    ## 7 Ryhmät

    Ryhmiä on enintään kaksi.

    ## 8 Henkilötunnus

    Merkitse asiakkaan henkilötunnus.

    ## 9 Yhteystiedot
    <!-- no rule: contact information; no request shows it -->

    Kelan sähköpostiosoite.
    ''')


def write_text(root: Path, text: str = DEMO_TEXT, policy: str = "demo",
               version: str = "2024-01", lang: str = "fi") -> Path:
    """Write a version's text under ``root/<policy>/<version>.<lang>.md``."""
    path = root / policy / f"{version}.{lang}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_policy(root: Path, text: str = DEMO, policy: str = "demo",
                 version: str = "2024-01") -> Path:
    """Write one version file under ``root/<policy>/<version>.yaml`` and return its path."""
    path = root / policy / f"{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _var_dir_outside_the_checkout(monkeypatch: pytest.MonkeyPatch,
                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """The service's local state (``VAR_DIR``: the hash key, the default SQLite file) in this
    run's temporary folder, unless a test says where: the defaults would leave ``var/`` in
    the checkout behind every CLI test."""
    if "VAR_DIR" not in os.environ:
        monkeypatch.setenv("VAR_DIR", str(tmp_path_factory.getbasetemp() / "var"))


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    write_policy(root)
    return root


@pytest.fixture
def demo_store(demo_root: Path):
    store = PolicyStore.load(demo_root)
    yield store
    store.close()


POLICIES = Path(__file__).resolve().parent.parent / "policies"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


_REAL_STORE: list[PolicyStore] = []


def shared_real_store() -> PolicyStore:
    """The project's own policies/ folder, loaded once per run: also for module-level
    parameters (the differential test), which are made before fixtures exist. Read-only."""
    if not _REAL_STORE:
        _REAL_STORE.append(PolicyStore.load(POLICIES))
    return _REAL_STORE[0]


@pytest.fixture(scope="session")
def real_store():
    """The project's own policies/ folder."""
    store = shared_real_store()
    yield store
    store.close()
    _REAL_STORE.clear()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``): the files that hold slow tests first, the rest
    after them in their usual order. The workers take a file at a time; a browser or
    gunicorn file of a minute drawn last would leave the other worker idle that long.
    (The Makefile turns off xdist's own order, which is by the number of tests a file has.)
    A run without workers keeps pytest's order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)
