"""End to end: `notify security ...` delivers step 0 to local stand-ins in <= 4x `apprise --version`.

    .venv/bin/python bench/bench_e2e.py [--runs 15] [--compare TREE] [--importtime]

(The target was 2x until issue 17, which traded the hand-written settings reader and
HTTP client for pydantic-settings and httpx: about 0.3-0.4 s of imports on a loaded machine.)

The stand-ins are the test suite's (tests/test_cli_sending.py): a real SMTP
server (dispatcher.testing.smtp.SmtpServer) and an HTTPS proxy that terminates
TLS for api.twilio.com and hooks.slack.com with a throwaway CA
(dispatcher.testing.providers.ProviderProxy). Each round runs `apprise
--version` and one `notify security` that allocates a new incident id, stores
it, and sends its five step-0 deliveries (2 emails, Slack, SMS, a voice call)
over real sockets; the store persists between rounds, as on a real host.
`--compare TREE` times another tree's command in the same rounds (its own console
script, TREE/.venv/bin/notify, when it has a venv); `--importtime` then prints the
command's `python -X importtime` profile (one more send, this tree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import APPRISE, NOTIFY, clean_env, compare_command, compare_env, header, interleave, median, \
    print_importtime, run_timed, scratch, spread, verdict  # noqa: E402

from dispatcher.testing.providers import Reply  # noqa: E402
from dispatcher.testing.proxy import ProviderProxy  # noqa: E402
from dispatcher.testing.smtp import SmtpServer  # noqa: E402

SID = "AC" + "1" * 32
TARGET = 4.0  # x apprise --version (issue 17)
HEAVY = ("pydantic", "pydantic_core", "pydantic_settings", "httpx", "httpcore", "jinja2", "tenacity", "click",
         "sqlite3", "ssl", "email", "smtplib", "importlib.metadata", "apprise")
COMMAND = ["security", "--customer", "Acme Corp", "--reported-by", "jane@acme.example",
           "--summary", "Unusual admin logins from a new ASN"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--compare", metavar="TREE", help="also time the command from another source tree "
                        "(e.g. an older commit: git archive COMMIT | tar -x -C TREE), in the same rounds")
    parser.add_argument("--importtime", action="store_true", help="also print the send's import profile")
    args = parser.parse_args()
    with scratch() as work, SmtpServer() as smtp, ProviderProxy() as proxy:
        proxy["api.twilio.com"].script(Reply(201, {"sid": "SM0001"}))
        proxy["hooks.slack.com"].script(Reply(200, "ok"))
        env = clean_env(work, **proxy.env(ca_bundle=True), XDG_STATE_HOME=str(work / "state"),
                        XDG_CACHE_HOME=str(work / "cache"),
                        NOTIFY_EMAIL_URL=smtp.url(**{"from": "notify@teamflow.example"}),
                        NOTIFY_SLACK_URL="https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
                        NOTIFY_SMS_URL=f"twilio://{SID}:authtoken@+15550100000",
                        NOTIFY_PHONE_URL=f"twilio://{SID}:authtoken@+15550100000?method=call")
        subjects = {
            "apprise --version": lambda: run_timed([APPRISE, "--version"], env, work),
            "notify security (send)": lambda: run_timed([NOTIFY, *COMMAND], env, work),
        }
        if args.compare:
            other = compare_env(env, args.compare, work)
            subjects[f"[{Path(args.compare).name}]"] = lambda: run_timed([*compare_command(args.compare), *COMMAND],
                                                                         other, work)
        results = interleave(subjects, args.runs, warmup=1)
        sent = len(smtp.messages) + len(proxy.requests)
        expected = 5 * (args.runs + 1) * (len(subjects) - 1)
        header("end to end: trigger + store + 5 step-0 deliveries to local stand-ins", args.runs)
        base = median(results["apprise --version"])
        print(f"   {'apprise --version':<26} {spread(results['apprise --version'])}   baseline")
        for name in [n for n in results if n != "apprise --version"]:
            ratio = median(results[name]) / base
            print(f"   {name:<26} {spread(results[name])}   {ratio:.2f}x  (target <= {TARGET:g}x: {verdict(ratio <= TARGET)})")
        print(f"   deliveries that arrived: {sent} of {expected}")
        if sent != expected:
            raise SystemExit("some deliveries did not arrive: the timing is not of a complete send")
        if args.importtime:
            print_importtime("notify security (send)", COMMAND, env, work, HEAVY)


if __name__ == "__main__":
    main()
