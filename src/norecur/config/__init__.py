"""Configuration: every option declared once, loaded from norecur.toml or pyproject.toml."""

from norecur.config._config import Config, find_config, load_config
from norecur.config._options import OPTIONS, Option

__all__ = ["OPTIONS", "Config", "Option", "find_config", "load_config"]
