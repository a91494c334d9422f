"""Start-up: `notify --help` <= 0.5x `apprise --version`; `notify check` and a dry run are reported.

    .venv/bin/python bench/bench_startup.py [--runs 15] [--importtime] [--compare TREE]

Each round runs `apprise --version` (the baseline) and the three notify commands
once, as the installed console scripts, from an empty working directory with
the channel settings of a configured installation (dummy URLs: nothing is
contacted). Prints medians, ratios and whether each target is met.

Issue 17 retired the on-disk start-up cache (dispatcher/cache.py, and with it
the `[cold]` rows that switched it off): every command now validates the
configuration with pydantic and compiles its templates with jinja2, so `check`
and the dry run have no ratio target any more; they are reported.
`--compare TREE` times another tree's commands in the same rounds: its own
console script (TREE/.venv/bin/notify) when it has a venv, else
`python -m dispatcher` with TREE on PYTHONPATH.
`--importtime` also prints, per command, the heaviest imports by cumulative time
(`python -X importtime`, which itself slows imports: read it as proportions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import APPRISE, NOTIFY, SECURITY, clean_env, compare_command, compare_env, header, interleave, \
    median, print_importtime, run_timed, scratch, spread, verdict  # noqa: E402

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
TARGETS = {"notify --help": 0.5}  # check and the dry run: reported (issue 17 retired their 1.5x)
HEAVY = ("pydantic", "pydantic_core", "pydantic_settings", "jinja2", "click", "apprise", "httpx", "httpcore",
         "tenacity", "uvicorn", "asyncio", "sqlite3", "tomllib", "dotenv", "importlib.metadata", "email", "ssl")


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
        for name, argv in COMMANDS.items():
            subjects[name] = lambda argv=argv: run_timed([NOTIFY, *argv], env, work)
            if other:
                subjects[f"{name} [{Path(args.compare).name}]"] = \
                    lambda argv=argv: run_timed([*compare_command(args.compare), *argv], other, work)
        results = interleave(subjects, args.runs, warmup=2)
        header("start-up (wall time of the whole process)", args.runs)
        base = median(results["apprise --version"])
        print(f"   {'apprise --version':<40} {spread(results['apprise --version'])}   baseline")
        for name in COMMANDS:
            for label in [name] + [n for n in results if n.startswith(name + " [")]:
                ratio = median(results[label]) / base
                judged = f"(target <= {TARGETS[name]}x: {verdict(ratio <= TARGETS[name])})" if name in TARGETS \
                    else "(reported, no target)"
                print(f"   {label:<40} {spread(results[label])}   {ratio:.2f}x  {judged}")
        if args.importtime:
            for name, argv in COMMANDS.items():
                print_importtime(name, argv, env, work, HEAVY)


if __name__ == "__main__":
    main()
