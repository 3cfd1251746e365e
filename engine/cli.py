"""``rehab-rules``: validate policies, evaluate one request, run fixtures.

The HTTP service adds ``db``, ``tokens`` and ``serve`` through the entry-point group
``rehab_rules.commands``; they are imported only when run, so the engine never imports Flask.
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from engine.decide import decide
from engine.diff import diff_versions
from engine.errors import EngineError, PolicyError
from engine.fixtures import coverage_gaps, load_suite, run_case, write_overrides
from engine.folder import read_paths, version_name_problem
from engine.messages import format_value
from engine.model import LANGUAGES
from engine.review import blame_refusals, is_refusal_change, review_set
from engine.revision import review_text, skeleton_overlay, trace_version
from engine.store import PolicySet, PolicyStore, load_files, load_folder
from engine.text import TEXT_LANGUAGES, TEXT_NAME_RE, parse_text

__all__ = [
    "TABLE_BEGIN",
    "TABLE_END",
    "check",
    "diff_",
    "eval_",
    "fixtures_",
    "fixtures_accept",
    "main",
    "review_",
    "rules_table",
    "table_",
    "test_",
    "trace_",
    "validate",
]


class _Commands(click.Group):
    """Built-in commands plus those other packages register by entry point."""

    plugin_group = "rehab_rules.commands"

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.plugin_group)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        plugin = self._plugins().get(name)
        if command is None and plugin is not None:
            try:
                command = plugin.load()
            except Exception as exc:   # a broken plugin must not take the engine's CLI down
                click.echo(f"warning: command {name!r} is unavailable: {exc}", err=True)
        return command


class _FixturesCommands(_Commands):
    """``fixtures`` subcommands that need the service (``from-log`` reads the decision log)."""

    plugin_group = "rehab_rules.fixtures_commands"


@click.group(cls=_Commands)
@click.version_option(package_name="rehab-rules")
def main() -> None:
    """Rules service for Kela's rehabilitation service descriptions."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check policy files; print every problem as file:line: message (exit 1 if any)."""
    policies, problems = _load_paths(paths)
    if problems:
        for p in sorted(problems):
            click.echo(str(p))
        click.echo(f"{len(problems)} problem(s) in {len({p.path for p in problems})} file(s)",
                   err=True)
        sys.exit(1)
    versions = sum(len(p.versions) for p in policies.values())
    rules = sum(len(v.rules) for p in policies.values() for v in p.versions)
    click.echo(f"OK: {len(policies)} policies, {versions} versions, {rules} rules")


def _load_paths(paths: tuple[Path, ...]) -> tuple[dict[str, Any], list[Any]]:
    """Every policy under the given folders or files, and every problem, in one reading."""
    sets, problems = read_paths(list(paths) or [Path("policies")])
    policies: dict[str, Any] = {}
    for files in sets:
        found_policies, _plans, found = load_files(files)
        policies.update(found_policies)
        problems += found
    return policies, problems


def _load_store(root: Path) -> PolicyStore:
    try:
        return PolicyStore.load(root)
    except PolicyError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in policy files") from None


def _read_facts(text: str) -> Any:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}",
                                     param_hint="--facts") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--facts") from None


@main.command("eval")
@click.option("--policy", required=True)
@click.option("--action", required=True)
@click.option("--as-of", "as_of", required=True, help="YYYY-MM-DD, the date of the event")
@click.option("--version", "version", default=None, metavar="VERSION",
              help="evaluate under this version whatever --as-of says (a what-if); "
                   "the decision says pinned")
@click.option("--facts", "facts_text", required=True, help="JSON object, or @file.json")
@click.option("--lang", type=click.Choice(LANGUAGES), default="fi", show_default=True)
@click.option("--explain", is_flag=True, help="list every rule considered and what it read")
@click.option("--cite-text", is_flag=True,
              help="also print the sentences of the sections each finding cites")
@click.option("--json", "as_json", is_flag=True, help="print the decision as JSON")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
def eval_(policy: str, action: str, as_of: str, version: str | None, facts_text: str,
          lang: str, explain: bool, cite_text: bool, as_json: bool, root: Path) -> None:
    """Decide one request and print the decision."""
    store = _load_store(root)
    try:
        d = decide(store, policy=policy, action=action, as_of=as_of,
                   facts=_read_facts(facts_text), lang=lang, explain=explain,
                   version=version, cite_text=cite_text)
    except EngineError as exc:
        if as_json:
            click.echo(json.dumps({"error": exc.to_dict()}, ensure_ascii=False, indent=2))
            sys.exit(1)
        raise click.ClickException(f"{exc.code}: {exc.message}"
                                   + (f"\n{json.dumps(exc.details, ensure_ascii=False)}"
                                      if exc.details else "")) from None
    if as_json:
        click.echo(json.dumps(d.to_dict(), ensure_ascii=False, indent=2))
        return
    # a pinned version is the caller's what-if, not the rules in force on as_of: say so
    pinned = " (pinned)" if d.pinned else ""
    click.echo(f"{d.outcome.upper()}  {d.policy} {d.version}{pinned} ({d.digest[:19]}…)  "
               f"{d.action} as of {d.as_of}")
    for label, items in (("violation", d.violations), ("warning", d.warnings),
                         ("notice", d.notices), ("obligation", d.obligations)):
        for f in items:
            due = f" (due {f.due})" if f.due else ""
            click.echo(f"  {label} {f.rule}{due}: {f.message}  [{_cite(f.cite)}]")
            for section in f.cite.get("sections", ()):
                for sentence in section.get("sentences", ()):
                    click.echo(f"      {section['number']}: {sentence}")
    for key, value in d.results.items():
        click.echo(f"  result {key} = {format_value(value, lang)}")
    for t in d.trace or ():
        mark = "fired" if t.fired else "     "
        reads = ", ".join(f"{k}={format_value(v, lang)}" for k, v in t.reads.items())
        click.echo(f"  {mark} {t.rule}: {t.when or '(always)'}  [{reads}]")


@main.command("diff")
@click.argument("policy")
@click.argument("from_version", metavar="FROM")
@click.argument("to_version", metavar="TO")
@click.option("--lang", type=click.Choice(LANGUAGES), default="fi", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the difference as JSON")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
def diff_(policy: str, from_version: str, to_version: str, lang: str, as_json: bool,
          root: Path) -> None:
    """What changed from version FROM to version TO of POLICY, both resolved: dates, notes,
    parameters cell by cell with the rules that read them, facts, actions and rules."""
    # only loaded and checked, not registered with durable_rules: a diff decides nothing
    _, policies, _, problems = load_folder(root)
    if problems:
        for p in sorted(problems):
            click.echo(str(p), err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in policy files")
    found = PolicySet(policies, {})
    try:
        before = found.get_version(policy, from_version)
        after = found.get_version(policy, to_version)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    diff = diff_versions(before, after, found.get_policy(policy).versions)
    if as_json:
        click.echo(json.dumps(diff.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(diff.to_text(lang), nl=False)


def _loaded(root: Path) -> PolicySet:
    """The versions of the folder that load, checked but not registered with durable_rules
    (nothing is decided). Problems elsewhere (a skeleton overlay not filled in yet) are
    counted on stderr; a version with problems is not there to be asked for."""
    _, policies, _, problems = load_folder(root)
    if problems:
        click.echo(f"note: {len(problems)} problem(s) in {root}, whose versions are left out; "
                   "rehab-rules check lists them", err=True)
    return PolicySet(policies, {})


def _version(found: PolicySet, policy: str, version: str | None) -> Any:
    """``version`` of ``policy``, or its newest (the one a revision follows)."""
    try:
        return (found.get_version(policy, version) if version
                else found.get_policy(policy).versions[-1])
    except EngineError as exc:
        raise click.ClickException(exc.message) from None


@main.command("trace")
@click.argument("policy")
@click.argument("version", required=False)
@click.option("--lang", type=click.Choice(TEXT_LANGUAGES), default="fi", show_default=True,
              help="the text's language (sv where Kela publishes the description in Swedish)")
@click.option("--json", "as_json", is_flag=True, help="print the trace as JSON")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
def trace_(policy: str, version: str | None, lang: str, as_json: bool, root: Path) -> None:
    """Every section of the service-description text of VERSION (default: the newest) with
    the rules that cite it (id, effect, actions), or the reason it needs none."""
    found = _version(_loaded(root), policy, version)
    if found.text is None:
        raise click.ClickException(
            f"version {found.version} of {policy} has no service-description text; write it "
            f"as {root}/{policy}/{found.version}.fi.md (see policies/README.md)")
    if lang not in found.text.files:
        raise click.ClickException(
            f"version {found.version} of {policy} has no {lang} text; Kela's Finnish text is "
            f"{found.text.fi.path} (--lang fi)")
    trace = trace_version(found, lang)
    assert trace is not None
    if as_json:
        click.echo(json.dumps(trace.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(trace.to_text(), nl=False)


@main.command("review")
@click.argument("policy")
@click.argument("new_text", metavar="NEW_TEXT.md",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--against", default=None, metavar="VERSION",
              help="the version whose text to compare with (default: the newest)")
@click.option("--lang", type=click.Choice(TEXT_LANGUAGES), default=None,
              help="the new text's language (default: from its name, ….sv.md, else fi)")
@click.option("--overlay", default=None, metavar="VERSION",
              help="also write POLICY/VERSION.yaml, a skeleton overlay to fill in, and the new "
                   "text beside it as VERSION.<lang>.md")
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
def review_(policy: str, new_text: Path, against: str | None, lang: str | None,
            overlay: str | None, as_json: bool, root: Path) -> None:
    """Compare a revised service description (NEW_TEXT.md) with the text of the version in
    force: the sections added, removed and changed (the changed words shown), each with the
    rules that cite it and the parameters they read — the checklist before any YAML is
    written."""
    base = _version(_loaded(root), policy, against)
    named = TEXT_NAME_RE.match(new_text.name)
    lang = lang or (named["lang"] if named and named["lang"] in TEXT_LANGUAGES else "fi")
    text, problems = parse_text(new_text.read_bytes(), str(new_text), lang, overlay or "new")
    if text is None:
        for p in problems:
            click.echo(str(p), err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {new_text}")
    if base.text is None:
        raise click.ClickException(
            f"version {base.version} of {policy} has no text to compare with; write its text "
            f"first ({root}/{policy}/{base.version}.fi.md)")
    if lang not in base.text.files:
        raise click.ClickException(
            f"version {base.version} of {policy} has no {lang} text to compare with; review "
            "the Finnish text (--lang fi), then add the Swedish one beside it")
    revision = review_text(base, text)
    if as_json:
        click.echo(json.dumps(revision.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(revision.to_text(), nl=False)
    if overlay:
        _write_skeleton(root, base, revision, overlay, new_text, lang)


def _write_skeleton(root: Path, base: Any, revision: Any, version: str, new_text: Path,
                    lang: str) -> None:
    why = version_name_problem(version)
    if why:
        raise click.ClickException(why.replace("version file", "version"))
    yaml_path = root / base.policy / f"{version}.yaml"
    text_path = root / base.policy / f"{version}.{lang}.md"
    for path in (yaml_path, text_path):
        if path.exists():
            raise click.ClickException(f"{path} exists already; nothing written")
    yaml_path.write_text(skeleton_overlay(base, revision, version, text_path.name),
                         encoding="utf-8")
    text_path.write_bytes(new_text.read_bytes())
    click.echo(f"wrote {yaml_path} (a skeleton: fill in what it says) and {text_path}; then "
               "run rehab-rules check")


TABLE_BEGIN = "<!-- rules:begin -->"
TABLE_END = "<!-- rules:end -->"


def rules_table(policies: dict[str, Any]) -> str:
    """Markdown: every rule id → policy, versions, actions, effect, seed and section (with the
    words it quotes from the section, if any).

    A rule whose citation (seed, section, quote or interpretation) differs between versions
    gets one row per distinct citation, each listing the versions that carry it.
    """
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for name, policy in policies.items():
        for version in policy.versions:
            for rule in version.rules:
                cite = (str(rule.cite.get("seed")), str(rule.cite.get("section")),
                        str(rule.cite.get("quote") or ""),
                        _interpretation_key(rule.cite.get("interpretation")))
                row = rows.setdefault((name, rule.id, *cite), {"rule": rule, "versions": []})
                row["versions"].append(version.version)

    def order(key: tuple[str, ...]) -> tuple:
        prefix, number = re.match(r"([A-Z]+)-(\d+)", key[1]).groups()
        return prefix, int(number), key[1], key[0], rows[key]["versions"][0]

    lines = ["| domain id | rule id | policy | versions | action | effect | seed, section "
             "| interpretation |", "|---|---|---|---|---|---|---|---|"]
    for key in sorted(rows, key=order):
        rule, versions = rows[key]["rule"], rows[key]["versions"]
        domain = re.match(r"[A-Z]+-\d+", rule.id).group()
        interp = _english(rule.cite.get("interpretation"))
        quote = f': "{rule.cite["quote"]}"' if rule.cite.get("quote") else ""
        cells = [domain, f"`{rule.id}`", key[0], ", ".join(versions), ", ".join(rule.actions),
                 rule.effect, f"{rule.cite['seed']}, {rule.cite['section']}{quote}",
                 f"yes: {interp}" if interp else "no"]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ")
                                         for c in cells) + " |")
    return "\n".join(lines) + "\n"


@main.command("table")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--write", "target", type=click.Path(exists=True, path_type=Path),
              help=f"replace the table between {TABLE_BEGIN} and {TABLE_END} in this file")
def table_(paths: tuple[Path, ...], target: Path | None) -> None:
    """Print the table of every rule (id, policy, versions, action, seed, interpretation)."""
    policies, problems = _load_paths(paths)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s); run rehab-rules validate")
    table = rules_table(policies)
    if target is None:
        click.echo(table, nl=False)
        return
    text = target.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise click.ClickException(f"{target} has no {TABLE_BEGIN} … {TABLE_END} markers")
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    target.write_text(f"{head}{TABLE_BEGIN}\n{table}{TABLE_END}{tail}", encoding="utf-8")
    click.echo(f"wrote {len(table.splitlines()) - 2} rules into {target}")


def _interpretation_key(note: Any) -> str:
    """A rule's interpretation as one text that differs when any language differs."""
    if isinstance(note, dict):
        return json.dumps(note, ensure_ascii=False, sort_keys=True)
    return str(note or "")


def _english(note: Any) -> str:
    """The interpretation as this English table shows it (the planners' guide is English)."""
    return str(note.get("en", "")) if isinstance(note, dict) else str(note or "")


def _cite(cite: dict[str, Any]) -> str:
    text = f"seed {cite.get('seed')}, {cite.get('section')}"
    return text + (" — interpretation" if cite.get("interpretation") else "")


def _selected(store: PolicyStore, cases: list[Any], paths: tuple[Path, ...]) -> set[str]:
    """The policies a run of fixtures is about: those with cases, and the folders named."""
    selected = {c.policy for c in cases}
    for path in paths:
        if path.is_dir():           # a policy's folder, or a folder of policy folders
            names = {path.name, *(p.name for p in path.iterdir() if p.is_dir())}
            selected |= names & set(store.policies)
    return selected


def _run_fixtures(store: PolicyStore, paths: tuple[Path, ...],
                  coverage: bool) -> tuple[int, int, bool]:
    """Run every case, inherited ones too; print what failed. Returns (passed, failed, gaps)."""
    cases, problems = load_suite(list(paths), store.policies)
    for p in problems:
        click.echo(str(p))
    results = [run_case(store, c) for c in cases]
    failed = [r for r in results if not r.ok]
    refused = [r for r in failed if is_refusal_change(r)]
    for p in blame_refusals(refused, store):        # first: they are never accepted silently
        click.echo(str(p))
    for r in failed:
        if r in refused:
            continue
        label = "CHANGED" if r.case.inherited_from else "FAIL"
        click.echo(f"{label} {r.case.where}: {r.case.name}")
        for f in r.failures:
            click.echo(f"     {f}")
    inherited = [r for r in results if r.case.inherited_from]
    if inherited:
        changed = sorted({(r.case.policy, r.case.version) for r in inherited if not r.ok})
        click.echo(f"inherited: {sum(r.ok for r in inherited)} passed, "
                   f"{len(inherited) - sum(r.ok for r in inherited)} now different"
                   + "".join(f"; review and run: rehab-rules fixtures accept {p} {v}"
                             for p, v in changed))
    gaps: list[str] = []
    if coverage:
        selected = _selected(store, cases, paths)
        gaps = coverage_gaps(store, results, selected)
        for g in gaps:
            click.echo(f"UNCOVERED {g}")
        if not gaps:
            click.echo(f"coverage: every rule of {len(selected)} policies fires and stays "
                       "silent in some case")
    return len(results) - len(failed), len(failed) + len(problems), bool(gaps)


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--coverage", is_flag=True,
              help="also list rules without a case where they fire or where they do not")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
def test_(paths: tuple[Path, ...], coverage: bool, root: Path) -> None:
    """Run fixture cases, inherited ones too; print failures and 'N passed, N failed'
    (exit 1 on any failure)."""
    store = _load_store(root)
    passed, failed, gaps = _run_fixtures(store, paths or (Path("fixtures"),), coverage)
    click.echo(f"{passed} passed, {failed} failed")
    if failed or gaps:
        sys.exit(1)


@main.group("fixtures", cls=_FixturesCommands)
def fixtures_() -> None:
    """Fixture cases: accept what a new version now decides; turn a logged decision into one."""


@fixtures_.command("accept")
@click.argument("policy")
@click.argument("version")
@click.option("--policies", "root", type=click.Path(path_type=Path), default=Path("policies"),
              show_default=True)
@click.option("--fixtures", "fixtures_root", type=click.Path(path_type=Path),
              default=Path("fixtures"), show_default=True)
@click.option("--include-refusals", is_flag=True,
              help="also write cases that are now refused (or now decided where they were "
                   "refused) with that as their expectation")
def fixtures_accept(policy: str, version: str, root: Path, fixtures_root: Path,
                    include_refusals: bool) -> None:
    """Write the cases VERSION inherits and now decides differently as its own cases, with
    what it decides now. Review the written files (git diff) before you commit them.

    A case that decided and is now refused (or the reverse) is listed, not written — did the
    overlay drop a row or a value? — and the command exits 1, unless --include-refusals."""
    store = _load_store(root)
    try:
        store.get_version(policy, version)
    except EngineError as exc:
        raise click.ClickException(exc.message) from None
    cases, problems = load_suite([fixtures_root], store.policies)
    if problems:
        for p in problems:
            click.echo(str(p), err=True)
        raise click.ClickException("fix the fixture files first")
    changed = [r for r in (run_case(store, c) for c in cases
                           if c.policy == policy and c.version == version and c.inherited_from)
               if not r.ok]
    if not changed:
        click.echo(f"every case {policy} {version} inherits decides as before; nothing to do")
        return
    refused = [r for r in changed if is_refusal_change(r)]
    written = changed if include_refusals else [r for r in changed if r not in refused]
    for path, count in write_overrides(written, fixtures_root).items():
        click.echo(f"wrote {count} case(s) into {path}")
    if written:
        click.echo("review them (git diff), then run rehab-rules check")
    if refused and not include_refusals:
        for p in blame_refusals(refused, store):
            click.echo(str(p))
        click.echo(f"not written: {len(refused)} case(s) that would record a refusal (or a "
                   "decision where there was a refusal) as the new truth; to write them "
                   "anyway, run again with --include-refusals")
        sys.exit(1)


@main.command("check")
@click.argument("root", required=False, type=click.Path(path_type=Path),
                default=Path("policies"))
@click.option("--fixtures", "fixtures_root", type=click.Path(path_type=Path),
              help="default: the fixtures folder beside the policies folder")
@click.option("--fix", is_flag=True, help="regenerate the rule table in ROOT/README.md")
def check(root: Path, fixtures_root: Path | None, fix: bool) -> None:
    """Everything a planner's change must pass, in one run: validate, every case (inherited
    ones too), coverage both ways, and the rule table in ROOT/README.md current.

    Every problem is listed; exit 1 if there is any.
    """
    fixtures_root = fixtures_root or root.parent / "fixtures"
    click.echo(f"1. validate {root}")
    try:
        store = PolicyStore.load(root)
    except PolicyError as exc:
        for p in exc.problems:
            click.echo(str(p))
        click.echo(f"{len(exc.problems)} problem(s) in policy files; fix them first")
        sys.exit(1)
    click.echo("2. what each version changes, and what to look at before publishing")
    review = review_set(store.policies, store.current.files)
    for line in review.summary:
        click.echo(f"   {line}")
    for p in review.problems:
        click.echo(str(p))
    bad = len(review.problems)
    click.echo(f"3. fixtures in {fixtures_root}, with coverage")
    passed, failed, gaps = _run_fixtures(store, (fixtures_root,), coverage=True)
    bad += failed + gaps
    click.echo("4. the rule table")
    bad += _check_table(store, root / "README.md", fix)
    click.echo(f"{passed} passed, {failed} failed")
    click.echo("OK: ready to publish" if not bad else "not ready: fix what is listed above")
    store.close()
    if bad:
        sys.exit(1)


def _check_table(store: PolicyStore, readme: Path, fix: bool) -> int:
    if not readme.exists():
        click.echo(f"   {readme} does not exist; no rule table to keep current")
        return 0
    text = readme.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text or TABLE_END not in text:
        click.echo(f"{readme}:1: no {TABLE_BEGIN} … {TABLE_END} markers for the rule table")
        return 1
    head, rest = text.split(TABLE_BEGIN, 1)
    current, tail = rest.split(TABLE_END, 1)
    table = rules_table(store.policies)
    if current == f"\n{table}":
        click.echo(f"   {readme}: current")
        return 0
    if fix:
        readme.write_text(f"{head}{TABLE_BEGIN}\n{table}{TABLE_END}{tail}", encoding="utf-8")
        click.echo(f"   {readme}: rewritten")
        return 0
    line = head.count("\n") + 1
    click.echo(f"{readme}:{line}: the rule table is out of date; run rehab-rules check --fix")
    return 1
