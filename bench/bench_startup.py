"""Target 1, start-up: `notify --help` <= 0.5x `apprise --version`; `notify check` and a dry run <= 1.5x.

    .venv/bin/python bench/bench_startup.py [--runs 15] [--importtime]

Each round runs `apprise --version` (the baseline) and the three notify commands
once, as the installed console scripts, from an empty working directory with
the channel settings of a configured installation (dummy URLs: nothing is
contacted). Prints medians, ratios and whether each target is met.

notify keeps validated configuration and compiled templates in a cache
(dispatcher/cache.py) keyed by the files' bytes, so the measured runs are the
usual case: the configuration has not changed since the last command. The
`[cold]` rows run the same commands with the cache switched off
(NOTIFY_CACHE_DIR=off): the first command after an edit of contacts.toml,
policy.toml, routing.toml or a template costs that much, once.
`--importtime` also prints, per command, the heaviest imports by cumulative time
(`python -X importtime`, which itself slows imports: read it as proportions).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import APPRISE, COMPARE_COMMAND, NOTIFY, SECURITY, clean_env, compare_env, header, interleave, \
    median, run_timed, scratch, spread, verdict  # noqa: E402

SID = "AC" + "1" * 32
CONFIGURED = {
    "NOTIFY_EMAIL_URL": "mailto://127.0.0.1:2525?from=notify@teamflow.example&mode=insecure",
    "NOTIFY_SLACK_URL": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
    "NOTIFY_SMS_URL": f"twilio://{SID}:authtoken@+15550100000",
    "NOTIFY_PHONE_URL": f"twilio://{SID}:authtoken@+15550100000?method=call",
}

COMMANDS = {
    "notify --help": ["--help"],
    "notify check": ["check"],
    "notify security --dry-run": [*SECURITY, "--dry-run"],
}
TARGETS = {"notify --help": 0.5, "notify check": 1.5, "notify security --dry-run": 1.5}
HEAVY = ("pydantic", "pydantic_core", "pydantic_settings", "jinja2", "click", "apprise", "requests", "urllib3",
         "uvicorn", "asyncio", "sqlite3", "tomllib", "dotenv", "importlib.metadata", "email", "ssl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="also print an import profile per command")
    parser.add_argument("--compare", metavar="TREE", help="also time each notify command from another source tree "
                        "(e.g. an older commit: git archive COMMIT | tar -x -C TREE), in the same rounds")
    args = parser.parse_args()
    with scratch() as work:
        env = clean_env(work, XDG_STATE_HOME=str(work / "state"), XDG_CACHE_HOME=str(work / "cache"), **CONFIGURED)
        subjects = {"apprise --version": lambda: run_timed([APPRISE, "--version"], env, work)}
        other = compare_env(env, args.compare, work) if args.compare else None
        cold = {**env, "NOTIFY_CACHE_DIR": "off"}
        for name, argv in COMMANDS.items():
            subjects[name] = lambda argv=argv: run_timed([NOTIFY, *argv], env, work)
            if name != "notify --help":
                subjects[f"{name} [cold]"] = lambda argv=argv: run_timed([NOTIFY, *argv], cold, work)
            if other:
                subjects[f"{name} [{Path(args.compare).name}]"] = \
                    lambda argv=argv: run_timed([*COMPARE_COMMAND, *argv], other, work)
        results = interleave(subjects, args.runs, warmup=2)
        header("start-up (wall time of the whole process)", args.runs)
        base = median(results["apprise --version"])
        print(f"   {'apprise --version':<40} {spread(results['apprise --version'])}   baseline")
        for name in COMMANDS:
            for label in [name] + [n for n in results if n.startswith(name + " [")]:
                ratio = median(results[label]) / base
                judged = "" if label.endswith("[cold]") else \
                    f"(target <= {TARGETS[name]}x: {verdict(ratio <= TARGETS[name])})"
                print(f"   {label:<40} {spread(results[label])}   {ratio:.2f}x  "
                      f"{judged or '(the first run after an edit of the configuration)'}")
        if args.importtime:
            for name, argv in COMMANDS.items():
                print_importtime(name, argv, env, work)


def print_importtime(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
    """The heaviest imports of one command, by cumulative microseconds, and the big packages."""
    done = subprocess.run([sys.executable, "-X", "importtime", NOTIFY, *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)) // 2, match.group(4)))
    total = sum(us for us, depth, _ in rows if depth == 0)
    print(f"\n-- python -X importtime: {name} (all imports {total / 1000:.0f} ms under importtime)")
    top = sorted((r for r in rows if r[1] == 0), reverse=True)[:8]
    print("   top-level imports by cumulative time: " +
          ", ".join(f"{mod} {us / 1000:.0f} ms" for us, _, mod in top))
    heavy = {mod: us for us, _, mod in rows if mod in HEAVY}
    present = [f"{mod} {heavy[mod] / 1000:.0f} ms" for mod in HEAVY if mod in heavy]
    absent = [mod for mod in ("pydantic", "pydantic_settings", "jinja2", "apprise", "requests") if mod not in heavy]
    print("   heavy packages loaded: " + (", ".join(present) or "none"))
    print("   not loaded: " + (", ".join(absent) or "-"))


if __name__ == "__main__":
    main()
