"""Where the configuration lives: the config directory and its files.

Search order: ``--config-dir``, ``NOTIFY_CONFIG_DIR``, the current directory
when it holds ``contacts.toml``, else the defaults shipped inside the wheel.
The current directory is used only when it and the files notify would read from
it belong to the user (or root) and nobody else can write them: templates are
code, and a directory others can write (a shared /tmp) could hand the user theirs.
Either way :attr:`ConfigPaths.notice` says so, for the CLI to print.
A file missing from a user's directory (``policy.toml``, ``routing.toml``, a template) falls
back to the shipped one, so a team can override only what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["ConfigPaths", "check_command", "resolve_config", "shipped_dir"]

CONTACTS = "contacts.toml"
POLICY = "policy.toml"
ROUTING = "routing.toml"
TEMPLATES = "templates"


def shipped_dir() -> Path:
    """The defaults inside the installed wheel, or the source checkout's top level."""
    package = Path(__file__).resolve().parents[1]  # the dispatcher package: this module is in dispatcher/config/
    bundled = package / "defaults"
    if (bundled / CONTACTS).is_file():
        return bundled
    return package.parent  # editable install / source checkout


@dataclass(frozen=True)
class ConfigPaths:
    """The files one run uses, and why that directory was chosen."""

    config_dir: Path
    source: str
    contacts: Path
    policy: Path
    routing: Path
    template_dirs: tuple[Path, ...]  # searched in order, file by file
    notice: str | None = None  # the implicit choice of the working directory, or why it was refused

    def describe(self) -> list[tuple[str, str]]:
        rows = [("config dir", f"{self.config_dir} ({self.source})"), ("contacts", str(self.contacts)),
                ("policy", str(self.policy)), ("routing", str(self.routing))]
        rows += [("templates" if i == 0 else "templates (fallback)", str(d)) for i, d in enumerate(self.template_dirs)]
        return rows


def resolve_config(cli_dir: Path | None, env_dir: Path | None, cwd: Path) -> ConfigPaths:
    """Pick the config directory by the documented search order."""
    if cli_dir is not None:
        chosen, source = cli_dir, "--config-dir"
    elif env_dir is not None:
        chosen, source = env_dir, "NOTIFY_CONFIG_DIR"
    elif (cwd / CONTACTS).is_file():
        refusal = _working_dir_refusal(cwd.resolve())
        if refusal is None:
            paths = _paths_for(cwd.resolve(), "current directory")
            return replace(paths, notice=f"config dir in use: {paths.config_dir} (current directory)")
        return replace(_paths_for(shipped_dir().resolve(), "shipped defaults"), notice=refusal)
    else:
        chosen, source = shipped_dir(), "shipped defaults"
    return _paths_for(chosen.resolve(), source)


def _working_dir_refusal(cwd: Path) -> str | None:
    """Why the configuration in the working directory may not be used; None when it may."""
    from .ownership import untrusted

    templates = cwd / TEMPLATES
    paths = [cwd, cwd / CONTACTS, cwd / POLICY, cwd / ROUTING, templates]
    paths += sorted(templates.rglob("*")) if templates.is_dir() else []
    found = untrusted(*paths)
    if found is None:
        return None
    path, why = found
    return (f"ignoring the configuration in the current directory: {path} {why}; using the shipped defaults "
            f"(make it yours and not writable by others, e.g. chmod go-w, or pass --config-dir)")


def _paths_for(chosen: Path, source: str) -> ConfigPaths:
    shipped = shipped_dir().resolve()
    policy, routing = (chosen / name if (chosen / name).is_file() else shipped / name for name in (POLICY, ROUTING))
    templates = [chosen / TEMPLATES] if (chosen / TEMPLATES).is_dir() else []
    if shipped / TEMPLATES not in templates:
        templates.append(shipped / TEMPLATES)
    return ConfigPaths(chosen, source, chosen / CONTACTS, policy, routing, tuple(templates))


def check_command(config_dir: Path | None) -> str:
    """The `notify check` that checks the same files: with --config-dir when one was given on the command line."""
    import shlex

    return f"notify check --config-dir {shlex.quote(str(config_dir))}" if config_dir else "notify check"
