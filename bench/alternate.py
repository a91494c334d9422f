"""Before/after for the in-process benchmarks: run one bench script in two trees, alternating, and summarise.

    .venv/bin/python bench/alternate.py --other /work/before17 --rounds 3 -- bench_fanout.py --runs 3

`bench_fanout.py` and `bench_email.py` drive a tree's channels and Sender in their own
process, so one process cannot time two versions of the code. This runs the script
of each tree (TREE/bench/SCRIPT with TREE/.venv/bin/python, cwd TREE; this tree first)
one after the other, `--rounds` times (A B A B ...), each with the same arguments,
and reads the lines the scripts print (`   NAME   123.4 ms (min 1.0, max 2.0) ...`):
every run's median of each line, then the median of those over the rounds, with
their min..max, per tree, and after/before. Each script times its own apprise
baseline, so the baseline is measured in both trees' runs too.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, load_average, machine, median  # noqa: E402

LINE = re.compile(r"^   (\S.*?)\s+(\d+(?:\.\d+)?) ms \(min")


def run_once(tree: Path, script: str, script_args: list[str]) -> dict[str, float]:
    python = tree / ".venv" / "bin" / "python"
    done = subprocess.run([str(python), str(tree / "bench" / script), *script_args], cwd=tree,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{tree}/bench/{script} exited {done.returncode}:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-2000:]}")
    print(done.stdout.rstrip(), flush=True)
    return {m.group(1): float(m.group(2)) for m in map(LINE.match, done.stdout.splitlines()) if m}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--other", required=True, metavar="TREE", help="the other tree (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", help="a script in bench/, e.g. bench_fanout.py")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    script_args = [a for a in args.script_args if a != "--"]
    trees = {"this tree": ROOT, Path(args.other).name: Path(args.other).resolve()}
    print(f"== {args.script} {' '.join(script_args)}: {' / '.join(trees)} alternating, {args.rounds} rounds")
    print(f"   {machine()}; load average {load_average()}")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_no in range(args.rounds):
        for name, tree in trees.items():
            print(f"-- round {round_no + 1}, {name} ({tree})", flush=True)
            results[name].append(run_once(tree, args.script, script_args))
    this, other = results["this tree"], results[Path(args.other).name]
    print(f"== medians over the rounds (min..max), ms; load average {load_average()}")
    print(f"   {'line':<36} {'this tree':>24} {Path(args.other).name:>24}  this/other")
    for key in this[0]:
        mine = [r[key] for r in this if key in r]
        theirs = [r[key] for r in other if key in r]
        cells = [f"{median(v):.1f} ({min(v):.1f}..{max(v):.1f})" if v else "-" for v in (mine, theirs)]
        ratio = f"{median(mine) / median(theirs):.2f}x" if mine and theirs else ""
        print(f"   {key:<36} {cells[0]:>24} {cells[1]:>24}  {ratio}")


if __name__ == "__main__":
    main()
