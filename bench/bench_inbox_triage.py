"""The worker's triage of stored webhooks alone: wall and CPU per webhook, no sends (issue 21 item 5).

    .venv/bin/python bench/bench_inbox_triage.py [--n 300] [--rounds 3] [--tree OTHER_TREE ...]

In one process per run, for each tree (this one, and each `--tree`, run with that
tree's own `.venv/bin/python`; a tree with `dispatcher.app`, i.e. from issue 18 on): a fresh SQLite store in a temporary state
directory, `--n` of bench_ingest.py's Alertmanager webhooks stored as `notify
serve` stores them (`store.enqueue`), then `Inbox.drain` until the inbox is empty,
with a send that does nothing. Printed per tree: wall milliseconds and CPU
milliseconds (`time.process_time`) per webhook, medians of `--rounds` runs, trees
alternating. CPU is what a loaded machine cannot inflate much; wall shows the
fsyncs (each SQLite commit syncs the WAL, `synchronous=FULL`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent


def one_run(n: int) -> dict[str, float]:
    """In this process (the tree on sys.path): store n webhooks, drain them; ms per webhook."""
    import bench_ingest  # the alert body (stdlib only)

    from dispatcher.app.engine import load_runtime
    from dispatcher.app.inbox import Inbox
    from dispatcher.clock import SystemClock
    from dispatcher.store import open_store

    rt = load_runtime()
    store = open_store(rt.settings.resolved_store_url())
    clock = SystemClock()
    for seq in range(n):
        store.enqueue("alertmanager", f"bench-group-{seq}", bench_ingest.alert("triage", seq).decode(), clock.now())
    inbox = Inbox(rt, store, clock, "bench-worker")
    inbox.drain(lambda: None)  # the first batch warms the templates, the triage vocabulary, the entry points
    wall, cpu = time.perf_counter(), time.process_time()
    handled = 0
    while True:
        taken = inbox.drain(lambda: None)
        if not taken:
            break
        handled += taken
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return {"wall ms": wall / handled * 1000, "cpu ms": cpu / handled * 1000, "handled": handled}


def run_tree(tree: Path, n: int) -> dict[str, float]:
    python = tree / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="notify-triage-") as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
        env.update(XDG_STATE_HOME=str(Path(work) / "state"), PYTHONPATH=str(tree),
                   NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook",
                   NOTIFY_EMAIL_URL="mailto://127.0.0.1:25?from=notify@teamflow.example&mode=insecure")
        done = subprocess.run([str(python), __file__, "--child", str(n)], env=env, cwd=work, capture_output=True,
                              text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(one_run(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", action="append", default=[], help="another tree with its own .venv")
    args = parser.parse_args()
    trees = [ROOT, *(Path(t).resolve() for t in args.tree)]
    results: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    print(f"== the inbox's triage alone, {args.n} stored Alertmanager webhooks; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for _ in range(args.rounds):
        for tree in trees:
            results[tree].append(run_tree(tree, args.n))
    for tree, runs in results.items():
        wall = sorted(r["wall ms"] for r in runs)
        cpu = sorted(r["cpu ms"] for r in runs)
        print(f"   {'this tree' if tree == ROOT else tree}: wall {statistics.median(wall):.2f} ms/webhook "
              f"({wall[0]:.2f}..{wall[-1]:.2f}), CPU {statistics.median(cpu):.2f} ms/webhook "
              f"({cpu[0]:.2f}..{cpu[-1]:.2f})")
    print(f"   load average after {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
