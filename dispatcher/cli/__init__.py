"""The `notify` command line: parses options, calls the use cases in app/, prints the result.

:mod:`.common` holds the `main` group and what every command shares; each
other module registers its commands on `main` when imported here. Module-level
imports are click and stdlib only, so `notify --help` starts fast; each command
imports what it needs (pydantic, jinja2, apprise) when run.
"""

# importing registers the commands
from . import (db, drill, heartbeats, inbox, lifecycle, reclassify, records, report, reviews, serve, silences,  # noqa: F401
               tokens, triage, trigger, web)
from .common import main

__all__ = ["main"]
