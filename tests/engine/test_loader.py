from engine.loader import LineDict, LineList, line_at, read_yaml_text


def test_lines_of_keys_and_items():
    doc, problems = read_yaml_text("a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml")
    assert problems == []
    assert isinstance(doc, LineDict) and isinstance(doc["b"], LineList)
    assert doc.line_of("a") == 1 and doc.line_of("b") == 2
    assert doc["b"].line_of(1) == 4
    assert line_at(doc, ["b", 1, "c"]) == 4
    assert line_at(doc, ["b", 7, "c"]) == 2          # deepest existing element


def test_duplicate_keys_are_all_reported():
    _, problems = read_yaml_text("a: 1\na: 2\nb: {x: 1, x: 2}\n", "f.yaml")
    assert [(p.line, p.code) for p in problems] == [(2, "duplicate_key"), (3, "duplicate_key")]


def test_python_tags_are_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    text = f'a: !!python/object/apply:os.system ["touch {marker}"]\n'
    doc, problems = read_yaml_text(text, "f.yaml")
    assert doc is None and not marker.exists()
    assert "could not determine a constructor" in problems[0].message


def test_syntax_error_has_line():
    _, problems = read_yaml_text("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
    assert problems[0].code == "yaml_syntax" and problems[0].line >= 2


def test_dates_stay_dates():
    doc, _ = read_yaml_text("d: 2025-04-01\nv: \"2025-04\"\n", "f.yaml")
    assert doc["d"].isoformat() == "2025-04-01" and doc["v"] == "2025-04"


def test_merge_keys_explicit_wins_and_no_false_duplicates():
    text = "base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\n  z: 4\n"
    doc, problems = read_yaml_text(text, "f.yaml")
    assert problems == []
    assert dict(doc["item"]) == {"x": 1, "y": 3, "z": 4}
    _, problems = read_yaml_text("item:\n  <<: {x: 1}\n  y: 3\n  y: 4\n", "f.yaml")
    assert [p.line for p in problems] == [4]
