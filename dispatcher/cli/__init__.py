"""The `notify` command line: parses options, calls the use cases in app/, prints the result.

:mod:`.common` holds the `main` group and what every command shares; each
other module registers its commands on `main` when imported here. Module-level
imports are click and stdlib only, so `notify --help` starts fast; each command
imports what it needs (pydantic, jinja2, apprise) when run.
"""

from .common import main
# Importing a module registers its commands on `main`; the class commands first, as `notify --help` lists them.
from . import trigger  # noqa: E402,F401,I001
from . import drill, inbox, lifecycle, records, serve, triage  # noqa: E402,F401

__all__ = ["main"]
