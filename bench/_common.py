"""Shared plumbing for the benchmarks: interleaved timing, medians, a clean environment, a report line.

Every benchmark measures its baseline and its subject in the same run,
alternating them (A B A B ...), so a noisy neighbour on a shared machine slows
both sides alike. Numbers are medians of the runs; the spread (min..max) is
printed too, so a reader can tell a real difference from noise.
"""

from __future__ import annotations

import http.client
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
NOTIFY = str(VENV_BIN / "notify")
APPRISE = str(VENV_BIN / "apprise")


def compare_env(env: dict[str, str], tree: str, work: Path) -> dict[str, str]:
    """The environment for timing another source tree (--compare) beside this one: its own code,
    state and cache directory (two code versions in one cache would keep replacing each other's entries)."""
    tag = Path(tree).name
    return {**env, "PYTHONPATH": str(Path(tree).resolve()), "XDG_STATE_HOME": str(work / f"state-{tag}"),
            "XDG_CACHE_HOME": str(work / f"cache-{tag}")}


def compare_command(tree: str) -> list[str]:
    """How --compare starts another tree's notify: its own console script when the tree has its own venv
    (its own libraries and entry point, timed the same way as this tree's), else `python -m dispatcher`
    with this venv's libraries (a `git archive` copy of an older commit)."""
    script = Path(tree) / ".venv" / "bin" / "notify"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dispatcher"]


# Step 0 of the shipped security class, as the README's first command.
SECURITY = ["security", "--incident", "SEC-2024-001", "--customer", "Acme Corp", "--reported-by",
            "jane@acme.example", "--summary", "Unusual admin logins from a new ASN"]


def machine() -> str:
    """One line about where the numbers come from."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def clean_env(work: Path, **extra: str) -> dict[str, str]:
    """The current environment without notify's settings or proxies, plus `extra`.

    Bytecode is cached (in `work`/pycache, for both sides alike), as for installed software: pip
    compiles site-packages at install time, but this sandbox sets PYTHONDONTWRITEBYTECODE, which
    would make every notify run compile its own modules from source while apprise's are cached.
    """
    drop = ("NOTIFY_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy",
            "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PYTHONPATH"] = str(ROOT)  # the notify console script imports this tree (also for a copy of an older commit)
    env.update(extra)
    return env


def config_copy(work: Path) -> Path:
    """This tree's contacts, policy and templates copied into `work`/config, writable by the owner only (as
    the config loader asks of a directory holding credentials' neighbours)."""
    config = work / "config"
    config.mkdir()
    for name in ("contacts.toml", "policy.toml"):
        shutil.copy(ROOT / name, config / name)
    shutil.copytree(ROOT / "templates", config / "templates")
    for path in [config, *config.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o022)
    return config


@contextmanager
def scratch(prefix: str = "notify-bench-") -> Iterator[Path]:
    """A temporary directory (cwd for commands, so no stray .env or contacts.toml is picked up)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_timed(argv: Sequence[str], env: Mapping[str, str], cwd: Path | str, *, ok: Sequence[int] = (0,),
              stdin: bytes | None = None) -> float:
    """Wall seconds for one process, from spawn to exit; fails loudly on an unexpected exit status."""
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=dict(env), cwd=cwd, input=stdin, capture_output=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout.decode()[-2000:]}"
                         f"\n{done.stderr.decode()[-2000:]}")
    return elapsed


def interleave(subjects: Mapping[str, Callable[[], float]], runs: int, warmup: int = 1,
               before_each: Callable[[str], None] | None = None) -> dict[str, list[float]]:
    """Run every subject once per round, `runs` rounds (after `warmup` untimed ones); seconds per run."""
    results: dict[str, list[float]] = {name: [] for name in subjects}
    for round_no in range(warmup + runs):
        for name, subject in subjects.items():
            if before_each is not None:
                before_each(name)
            seconds = subject()
            if round_no >= warmup:
                results[name].append(seconds)
    return results


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (its threads included), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def spread(values: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    return f"{median(values) * scale:8.1f} {unit} (min {min(values) * scale:.1f}, max {max(values) * scale:.1f})"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def header(title: str, runs: int) -> None:
    print(f"== {title}")
    print(f"   {machine()}; medians of {runs} interleaved runs; load average now {load_average()}")


def print_importtime(name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path,
                     heavy: Sequence[str] = ()) -> None:
    """The heaviest imports of one notify command, by cumulative microseconds, and the big packages
    (`python -X importtime`, which itself slows imports: read it as proportions)."""
    import re

    done = subprocess.run([sys.executable, "-X", "importtime", NOTIFY, *argv], env=dict(env), cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    rows, selves = [], []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)) // 2, match.group(4)))
            selves.append((int(match.group(1)), match.group(4)))
    total = sum(us for us, depth, _ in rows if depth == 0)
    print(f"\n-- python -X importtime: {name} (all imports {total / 1000:.0f} ms under importtime)")
    top = sorted((r for r in rows if r[1] == 0), reverse=True)[:10]
    print("   top-level imports by cumulative time: " +
          ", ".join(f"{mod} {us / 1000:.0f} ms" for us, _, mod in top))
    found = {mod: us for us, _, mod in rows if mod in heavy}
    present = [f"{mod} {found[mod] / 1000:.0f} ms" for mod in heavy if mod in found]
    absent = [mod for mod in ("pydantic", "pydantic_settings", "jinja2", "apprise", "httpx") if mod not in found]
    print("   heavy packages loaded (cumulative, where first imported): " + (", ".join(present) or "none"))
    # A package's own modules, wherever they were imported (pydantic loads parts lazily, later): self times.
    own = {pkg: sum(self_us for self_us, mod in selves if mod == pkg or mod.startswith(pkg + "."))
           for pkg in heavy}
    print("   the packages' own modules (self time, all of them): " +
          ", ".join(f"{pkg} {us / 1000:.0f} ms" for pkg, us in sorted(own.items(), key=lambda kv: -kv[1]) if us))
    print("   not loaded: " + (", ".join(absent) or "-"))


@contextmanager
def endpoint(delay: float = 0.0) -> Iterator[int]:
    """Run bench/_endpoint.py in its own process; yields its port."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_endpoint.py")), "--delay", str(delay)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise SystemExit(f"endpoint did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def endpoint_records(port: int, since: int = 0) -> list[dict]:
    """The requests the endpoint recorded, from index `since`."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats?since={since}", timeout=10) as answer:
        return json.loads(answer.read())["records"]


def endpoint_count(port: int) -> int:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats?since=1000000000", timeout=10) as answer:
        return json.loads(answer.read())["count"]


def free_port() -> int:
    """A port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_all(port: int, path: str, bodies: list[bytes], concurrency: int) -> list[tuple[float, float, int, bytes]]:
    """POST each body to `path` from `concurrency` keep-alive connections; (sent, answered, status, body) each,
    in the bodies' order (times from time.monotonic)."""
    results: list = [None] * len(bodies)
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            sent = time.monotonic()
            conn.request("POST", path, bodies[i], {"Content-Type": "application/json"})
            answer = conn.getresponse()
            results[i] = (sent, time.monotonic(), answer.status, answer.read())
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(min(concurrency, len(bodies)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def children(pid: int) -> list[int]:
    """Every child of the process, whichever of its threads started it: /proc lists a child under the thread
    that forked it, and serve's second sender is started by its BurstSender thread, not the main one."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return found
