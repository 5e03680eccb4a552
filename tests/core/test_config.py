"""Configuration: declared once, validated with errors naming file and field, typo suggestions."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from norecur.config import OPTIONS, Config, find_config, load_config
from norecur.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_declarations():
    config = Config()
    for option in OPTIONS:
        assert getattr(config, option.name) == option.default, option.name


def test_loads_norecur_toml(tmp_path):
    path = tmp_path / "norecur.toml"
    path.write_text(
        'ignore = ["PM508"]\nslo_business_days = 3\nholiday_country = "in"\n'
        'today = 2026-06-01\n[subcategories]\nprompt = ["template-regression"]\n'
    )
    config = load_config(path)
    assert config.ignore == ("PM508",)
    assert config.slo_business_days == 3
    assert config.holiday_country == "IN"
    assert config.today == date(2026, 6, 1)
    assert config.subcategories == {"prompt": ("template-regression",)}
    assert config.root == tmp_path


def test_pyproject_table_is_found_from_a_nested_path(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.norecur]\nslo_business_days = 2\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    found = find_config(nested)
    assert found == tmp_path / "pyproject.toml"
    assert load_config(found).slo_business_days == 2


def test_pyproject_without_table_is_not_a_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("slo_busines_days = 3\n", "slo_busines_days", "did you mean 'slo_business_days'"),
        ("slo_business_days = -1\n", "slo_business_days", ">= 0"),
        ("slo_business_days = true\n", "slo_business_days", "whole number"),
        ('holiday_country = "XX"\n', "holiday_country", "country code"),
        ('select = ["PMX"]\n', "select", "not a rule code"),
        ('[subcategories]\ninfra = ["db"]\n', "subcategories", "never add a new class"),
        ("severity_scale = []\n", "severity_scale", "at least one"),
        ('today = "soon"\n', "today", "date"),
    ],
)
def test_invalid_options_name_file_and_field(tmp_path, text, field, words):
    path = tmp_path / "norecur.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.field == field
    assert caught.value.path == str(path)
    assert words in caught.value.one_line()


def test_invalid_toml_names_the_line(tmp_path):
    path = tmp_path / "norecur.toml"
    path.write_text('select = ["ALL"]\nignore = [\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line is not None
    assert caught.value.one_line().startswith(f"{path}:")


def test_configuration_docs_are_generated_from_declarations():
    norecur = Path(sys.executable).parent / "norecur"
    generated = subprocess.run(
        [norecur, "config-docs"], capture_output=True, text=True, check=True
    ).stdout
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert generated == committed, "docs/configuration.md is stale: run `make docs`"
    for option in OPTIONS:
        assert f"`{option.name}`" in committed
