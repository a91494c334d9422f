"""Small helpers for editing TOML fixtures in tests."""

from __future__ import annotations

from pathlib import Path


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of `old`, so a fixture edit cannot silently miss."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new))


# Every channel with valid settings that point nowhere: a dry run connects to nothing, so with these it
# predicts exit status 0 (everyone would be reached), as a real send with working providers would.
SID = "AC" + "7" * 32
CONFIGURED = {"NOTIFY_EMAIL_URL": "mailto://127.0.0.1:2525?from=notify@teamflow.example",
              "NOTIFY_SLACK_URL": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
              "NOTIFY_SMS_URL": f"twilio://{SID}:token@+15550100000",
              "NOTIFY_PHONE_URL": f"twilio://{SID}:token@+15550100000?method=call"}


def make_private(root: Path) -> None:
    """Remove group and other write bits below `root`, whatever the checkout's or the process's umask:
    notify ignores a working-directory configuration others can write."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o022)
