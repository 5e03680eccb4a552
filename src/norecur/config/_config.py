"""Loading and validating configuration from ``norecur.toml`` or ``[tool.norecur]``."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from norecur.config._options import OPTIONS
from norecur.errors import ConfigError

__all__ = ["Config", "find_config", "load_config"]

_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Config:
    """Validated configuration. Construct with :meth:`from_mapping` or :func:`load_config`."""

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    slo_business_days: int = 5
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closure_days: int = 30
    closure_threshold: float = 0.8
    closure_wont_do: str = "excluded"
    severity_scale: tuple[str, ...] = ("P0", "P1", "P2", "P3", "P4")
    subcategories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    vague_phrases: tuple[str, ...] = ()
    blame_phrases: tuple[str, ...] = ()
    max_file_bytes: int = 1_048_576
    today: date | None = None
    root: Path | None = None
    """The folder of the config file; per-file ignore globs are relative to it."""
    source: Path | None = None

    @classmethod
    def from_mapping(
        cls, values: dict[str, Any], *, source: Path | None = None, prefix: str = ""
    ) -> Config:
        """Validate ``values`` option by option; an unknown key suggests the closest known one."""
        converted: dict[str, Any] = {}
        for key, raw in values.items():
            option = _BY_NAME.get(key)
            if option is None:
                close = difflib.get_close_matches(key, _BY_NAME, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"unknown option{hint}",
                    path=str(source) if source else None,
                    field=f"{prefix}{key}",
                )
            try:
                converted[key] = option.check(raw)
            except ValueError as exc:
                raise ConfigError(
                    str(exc), path=str(source) if source else None, field=f"{prefix}{key}"
                ) from None
        root = source.parent if source else None
        return cls(**converted, root=root, source=source)


def find_config(start: Path) -> Path | None:
    """The nearest ``norecur.toml``, or ``pyproject.toml`` holding ``[tool.norecur]``, upwards."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "norecur.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.norecur]" in pyproject.read_text(errors="replace"):
            return pyproject
    return None


def _toml_error_line(message: str, path: Path) -> int | None:
    # tomllib puts the place in the message: "(at line 2, column 9)" or "(at end of document)".
    found = re.search(r"at line (\d+)", message)
    if found:
        return int(found.group(1))
    if "end of document" in message:
        return path.read_text(encoding="utf-8", errors="replace").count("\n") + 1
    return None


def load_config(path: Path | None) -> Config:
    """Read and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc), path)
        raise ConfigError(f"invalid TOML: {exc}", path=str(path), line=line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path=str(path)) from None
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("norecur", {})
        prefix = "tool.norecur."
    if not isinstance(data, dict):
        raise ConfigError("expected a table", path=str(path))
    return Config.from_mapping(data, source=path, prefix=prefix)
