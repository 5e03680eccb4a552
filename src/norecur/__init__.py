"""norecur: turn every incident in an AI/LLM system into a change that prevents it from recurring.

The core (:mod:`norecur.model`, :mod:`norecur.document`, :mod:`norecur.lint`) is usable as a
library without the server or the CLI.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("norecur")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
