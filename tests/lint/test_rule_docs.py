"""Every rule is documented, and the registry guards rule codes, names and plugins.

The rule behaviour itself is tested as data in ``rule_cases/`` (see ``test_rule_cases.py``);
this file covers what a document cannot reach: docstrings, the registry, crash isolation
(PM000) and plugin loading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

import norecur.lint._rule as rule_module
from norecur.config import OPTIONS
from norecur.lint import (
    DOC_SECTIONS,
    LintContext,
    Linter,
    ProjectRule,
    Rule,
    RuleRegistry,
    Violation,
    default_registry,
    doc_sections,
)
from norecur.lint.rules import RULES
from norecur.lint.rules.followups import VagueAction

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "postmortems" / "INC-2026-0512.md"
CLEAN_ACTION = (
    '    action: "Add 30 rider-comparison cases (riders x age-banding) to '
    'evals/policy-assistant/policy_comparison.jsonl, taking the slice from 8 to 38 examples."\n'
)
REGISTERED = list(default_registry())
_OPTION_NAMES = {option.name for option in OPTIONS}


def _example(old: str | None = None, new: str = "") -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    if old is not None:
        assert text.count(old) == 1
        text = text.replace(old, new)
    return text


def _registry_with(*extra: type[Rule]) -> RuleRegistry:
    registry = RuleRegistry()
    for rule in (*RULES, *extra):
        registry.register(rule)
    return registry


class _Crashing(Rule):
    """Always raises."""

    code = "PM999"
    name = "always-crashes"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        raise KeyError("owner")


# -- documentation ---------------------------------------------------------------------------


def test_the_built_in_rules_are_registered() -> None:
    assert [rule.code for rule in REGISTERED] == sorted(rule.code for rule in RULES)
    assert len(REGISTERED) >= 40


@pytest.mark.parametrize("rule", REGISTERED, ids=lambda rule: rule.code)
def test_docstring_has_every_section(rule: type[Rule]) -> None:
    assert rule.summary(), f"{rule.code}: no one-line summary"
    sections = doc_sections(rule)
    for section in DOC_SECTIONS:
        assert sections.get(section, "").strip(), f"{rule.code}: section {section!r} is empty"


@pytest.mark.parametrize("rule", REGISTERED, ids=lambda rule: rule.code)
def test_options_named_in_the_docstring_exist(rule: type[Rule]) -> None:
    named = set(re.findall(r"`([a-z_]+)`", doc_sections(rule)["Options"]))
    assert named <= _OPTION_NAMES, f"{rule.code}: unknown options {sorted(named - _OPTION_NAMES)}"


def test_codes_and_names_are_well_formed_and_unique() -> None:
    codes = [rule.code for rule in REGISTERED]
    names = [rule.name for rule in REGISTERED]
    for code in codes:
        assert re.fullmatch(r"PM\d{3}", code), code
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name), name
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


def test_doc_sections_splits_on_section_headers() -> None:
    sections = doc_sections(VagueAction)
    assert list(sections) == list(DOC_SECTIONS)
    assert sections["Example"].startswith("```yaml")
    assert sections["Options"].startswith("`vague_phrases`")


# -- the registry ----------------------------------------------------------------------------


def _rule(code: str, name: str) -> type[Rule]:
    return type(
        f"Rule{code}",
        (Rule,),
        {"code": code, "name": name, "_check": lambda self, ctx: (), "__doc__": "A test rule."},
    )


def test_registry_refuses_a_duplicate_code() -> None:
    registry = _registry_with()
    with pytest.raises(ValueError, match="PM508 is already taken"):
        registry.register(_rule("PM508", "another-vague-action"))


@pytest.mark.parametrize("code", ["PM12", "PM1234", "pm508", "XX508", "PM50a", "", None])
def test_registry_refuses_a_malformed_code(code: str | None) -> None:
    with pytest.raises(ValueError, match="is not of the form PM123"):
        RuleRegistry().register(_rule(code, "well-named"))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["Vague-Action", "vague_action", "vague action", "-vague", ""])
def test_registry_refuses_a_malformed_name(name: str) -> None:
    with pytest.raises(ValueError, match="lower-kebab-case"):
        RuleRegistry().register(_rule("PM998", name))


def test_registry_refuses_a_duplicate_name() -> None:
    registry = _registry_with()
    with pytest.raises(ValueError, match="'vague-action' is already used by PM508"):
        registry.register(_rule("PM998", "vague-action"))


def test_registry_refuses_a_code_retired_as_an_alias() -> None:
    registry = _registry_with()
    registry.alias("PM599", "PM508")
    with pytest.raises(ValueError, match="PM599 is already taken"):
        registry.register(_rule("PM599", "brand-new"))


def test_registry_refuses_an_object_that_is_no_rule() -> None:
    with pytest.raises(ValueError, match=r"is not a subclass of norecur\.lint\.Rule"):
        RuleRegistry().register(object)  # type: ignore[arg-type]


def test_registry_refuses_a_class_that_is_no_rule_subclass() -> None:
    class NotARule:
        code = "PM998"
        name = "not-a-rule"

    with pytest.raises(ValueError, match="NotARule"):
        RuleRegistry().register(NotARule)  # type: ignore[arg-type]


def test_a_retired_alias_resolves_to_its_rule() -> None:
    registry = _registry_with()
    registry.alias("PM599", "PM508")
    assert registry.resolve("PM599") == "PM508"
    assert registry.get("PM599") is VagueAction
    assert registry.get("vague-action") is VagueAction
    assert registry.selected(["PM599"]) == [VagueAction]
    assert "PM599" not in registry


def test_a_retired_alias_still_suppresses() -> None:
    registry = _registry_with()
    registry.alias("PM599", "PM508")
    vague = "    action: Improve monitoring   # norecur: ignore PM599 -- scoped in PA-1187\n"
    result = Linter(registry=registry).lint_text(_example(CLEAN_ACTION, vague), "x.md")
    assert result.error is None
    assert result.findings == ()


def test_an_alias_cannot_retire_a_code_in_use() -> None:
    registry = _registry_with()
    with pytest.raises(ValueError, match="cannot retire"):
        registry.alias("PM508", "PM509")
    with pytest.raises(ValueError, match="cannot retire"):
        registry.alias("PM5", "PM509")


# -- crash isolation (PM000) -----------------------------------------------------------------


def test_crashing_rule_becomes_a_pm000_finding() -> None:
    linter = Linter(registry=_registry_with(_Crashing))
    result = linter.lint_text(_example(), "x.md")
    assert result.error is None
    assert [(f.code, f.line, f.name) for f in result.findings] == [("PM000", 1, "rule-crashed")]
    message = result.findings[0].message
    assert "PM999" in message
    assert "always-crashes" in message
    assert "KeyError" in message


def test_a_crash_does_not_hide_other_findings() -> None:
    linter = Linter(registry=_registry_with(_Crashing))
    text = _example(CLEAN_ACTION, "    action: Improve monitoring\n")
    result = linter.lint_text(text, "x.md")
    assert sorted((f.code, f.line) for f in result.findings) == [("PM000", 1), ("PM508", 53)]


def test_a_crashing_rule_can_be_ignored() -> None:
    from norecur.config import Config

    linter = Linter(Config.from_mapping({"ignore": ["PM999"]}), registry=_registry_with(_Crashing))
    assert linter.lint_text(_example(), "x.md").findings == ()


def test_a_crash_through_lint_paths(tmp_path: Path) -> None:
    path = tmp_path / "INC-2026-0512.md"
    path.write_text(_example(), encoding="utf-8")
    result = Linter(registry=_registry_with(_Crashing)).lint_paths([path], jobs=1)
    assert result.errors == []
    assert [(f.code, f.line) for f in result.findings] == [("PM000", 1)]
    assert result.exit_code == 1


# -- plugins ---------------------------------------------------------------------------------


def test_an_entry_point_group_with_no_plugins_loads_nothing() -> None:
    registry = RuleRegistry()
    registry.load_entry_points(group="norecur.nonexistent")
    assert len(registry) == 0
    assert registry.broken == []


def test_the_built_in_entry_point_loads_every_rule() -> None:
    registry = RuleRegistry()
    registry.load_entry_points()
    if "PM101" not in registry:
        pytest.skip("running without installed package metadata")
    assert [rule.code for rule in registry] == sorted(rule.code for rule in RULES)
    assert registry.broken == []


class _FakeEntryPoint:
    def __init__(self, name: str, load: object) -> None:
        self.name = name
        self._load = load

    def load(self) -> object:
        if isinstance(self._load, Exception):
            raise self._load
        return self._load


def test_a_broken_plugin_is_reported_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [
        _FakeEntryPoint("a-broken-import", ImportError("No module named 'acme_rules'")),
        _FakeEntryPoint("b-not-a-rule", [object]),
        _FakeEntryPoint("builtin", RULES),
        _FakeEntryPoint("c-duplicate-code", [_rule("PM508", "acme-vague")]),
        _FakeEntryPoint("d-good", [_Crashing]),
    ]
    monkeypatch.setattr(rule_module, "entry_points", lambda group: fake)
    registry = RuleRegistry()
    registry.load_entry_points()
    broken = sorted(str(error) for error in registry.broken)
    assert len(broken) == 3
    assert "'a-broken-import'" in broken[0]
    assert "acme_rules" in broken[0]
    assert "'b-not-a-rule'" in broken[1]
    assert "'c-duplicate-code'" in broken[2]
    assert "PM508" in registry
    assert registry.get("PM508") is VagueAction
    assert "PM999" in registry
    assert len(registry) == len(RULES) + 1


def test_a_broken_plugin_is_skipped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [_FakeEntryPoint("half-good", [_rule("PM997", "half-good"), object])]
    monkeypatch.setattr(rule_module, "entry_points", lambda group: fake)
    registry = RuleRegistry()
    registry.load_entry_points()
    assert len(registry.broken) == 1
    assert "PM997" not in registry


def test_project_rules_are_kept_apart() -> None:
    linter = Linter(registry=_registry_with())
    assert [rule.code for rule in linter.project_rules] == ["PM105"]
    assert all(not isinstance(rule, ProjectRule) for rule in linter.rules)
