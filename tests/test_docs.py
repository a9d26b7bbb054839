"""Rule docs: one source (the rule module's docstring), checked-in copies that agree with it, and
every rule complete (docs, fixtures with a positive and a negative, a proof test).

When a test here fails because a rule changed, regenerate: ``python -m astack_lint.docgen``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from astack_lint import docgen
from astack_lint.report import docs
from astack_lint.report.docs import SECTION_ORDER, full_doc, rule_json, rule_markdown, sections
from astack_lint.rules.registry import all_rules

from .conftest import FIXTURES, REPO

RULES = all_rules()
REGENERATE = "run `python -m astack_lint.docgen` to regenerate"


def rule_cmd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "astack_lint", "rule", *args], cwd=str(REPO), capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_is_complete(rule):
    page = REPO / "docs" / "rules" / f"{rule.code}.md"
    assert page.is_file(), f"no docs/rules/{rule.code}.md: {REGENERATE}"
    assert page.read_text(encoding="utf-8") == rule_markdown(rule), f"docs/rules/{rule.code}.md is stale: {REGENERATE}"
    files = list((FIXTURES / rule.code).rglob("*.py"))
    assert any("positive" in p.name for p in files), f"no positive fixture in fixtures/{rule.code}/"
    assert any("negative" in p.name for p in files), f"no negative fixture in fixtures/{rule.code}/"
    proof = REPO / "tests" / "proofs" / f"test_{rule.code.lower()}.py"
    assert proof.is_file(), f"no proof test {proof.relative_to(REPO)}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_docs_sections_in_order(rule):
    """The known sections (Releases affected included, when generated) come in ruff's order."""
    found = sections(full_doc(rule))
    known = [h for h, _ in found if h in SECTION_ORDER]
    assert known == sorted(known, key=SECTION_ORDER.index), known
    for heading, body in found:
        assert body.strip(), f"{rule.code}: empty section {heading!r}"


def test_no_docs_for_rules_that_do_not_exist():
    codes = {r.code for r in RULES}
    stale = [p.name for p in (REPO / "docs" / "rules").glob("AXS*.md") if p.stem not in codes]
    assert not stale, f"docs for unknown codes {stale}: {REGENERATE}"


def test_readme_rule_table_is_current():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert docs.TABLE_START in readme and docs.TABLE_END in readme
    assert docs.readme_with_table(readme, RULES) == readme, f"README.md's rule table is stale: {REGENERATE}"
    for rule in RULES:  # no relative link (it breaks where an index shows the README); the page exists
        assert f"| {rule.code} | `{rule.name}` |" in readme
        assert (REPO / "docs" / "rules" / f"{rule.code}.md").is_file()
    assert not re.findall(r"\]\((?!https?://)[^)]*\)", readme), "a relative link in README.md"


def test_docgen_writes_then_check_passes(tmp_path):
    root = tmp_path / "checkout"
    (root / "docs" / "rules").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    shutil.copy(REPO / "README.md", root / "README.md")
    (root / "docs" / "rules" / "AXS999.md").write_text("stale\n")
    assert docgen.main(["--root", str(root), "--check"]) == 1
    assert docgen.main(["--root", str(root)]) == 0
    assert not (root / "docs" / "rules" / "AXS999.md").exists()
    assert docs.problems(str(root)) == []
    assert docgen.main(["--root", str(root), "--check"]) == 0
    page = root / "docs" / "rules" / f"{RULES[0].code}.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert docs.problems(str(root)) == [f"docs/rules/{RULES[0].code}.md differs from the rule's docstring"]
    (root / "README.md").write_text("# no markers\n")
    assert any("markers" in p for p in docs.problems(str(root)))


@pytest.mark.slow
def test_rule_command_text():
    rule = RULES[0]
    proc = rule_cmd(rule.code.lower())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"# {rule.code}: {rule.name}\n")
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## References"):
        assert heading in proc.stdout
    assert "\x1b[" not in proc.stdout


@pytest.mark.slow
def test_rule_command_shows_declared_releases():
    declaring = [r for r in RULES if getattr(r, "affected", None)]
    if not declaring:
        pytest.skip("no rule declares affected releases")
    rule = declaring[0]
    proc = rule_cmd(rule.code)
    assert "## Releases affected" in proc.stdout
    body = proc.stdout.split("## Releases affected", 1)[1]
    assert body.index("| FastAPI | Starlette | What happens |") < body.index("## References")
    data = json.loads(rule_cmd(rule.code, "--output-format", "json").stdout)
    assert data["affected"] and set(data["affected"][0]) == {"fastapi", "starlette", "symptom"}


@pytest.mark.slow
def test_rule_command_all_and_json():
    listing = rule_cmd("--all")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == [r.code for r in RULES]
    data = json.loads(rule_cmd("--all", "--output-format", "json").stdout)
    assert [d["code"] for d in data] == [r.code for r in RULES]
    one = json.loads(rule_cmd(RULES[0].code, "--output-format", "json").stdout)
    assert one == rule_json(RULES[0])
    assert {"code", "name", "summary", "level", "url", "explanation"} <= set(one)


@pytest.mark.slow
def test_rule_command_unknown_code_and_write_docs(tmp_path):
    bad = rule_cmd("AXS000")
    assert bad.returncode == 2 and "no rule 'AXS000'" in bad.stderr
    proc = rule_cmd("--write-docs", str(tmp_path / "pages"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == sorted(f"{r.code}.md" for r in RULES)
