"""The console script exits without the interpreter's teardown, and loses nothing by it.

`dispatcher.cli.run` ends a finished command with os._exit after running the
atexit handlers and flushing stdout/stderr (the teardown costs a send about
40 ms). These run the real entry point in a subprocess and check what a caller
sees: exit status, complete output, atexit work done, other threads waited for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .helpers import CONFIGURED

REPO = Path(__file__).resolve().parent.parent


def python(code: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, **kw)


def test_the_exit_status_and_message_of_a_rejected_command_survive(clean_env: Path) -> None:
    done = python("import sys; sys.argv = ['notify', 'security', '--dry-run']\n"
                  "from dispatcher.cli import run; run()")
    assert done.returncode == 2
    assert "missing required option(s): --summary" in done.stderr


def test_a_long_json_document_arrives_whole_through_a_pipe(clean_env: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dispatcher", "security", "--summary", "x", "--dry-run", "--json"],
                          capture_output=True, text=True, env={**os.environ, **CONFIGURED, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["deliveries"]) >= 5


def test_atexit_handlers_still_run(clean_env: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    done = python("import atexit, sys\n"
                  "path = sys.argv[1]\n"
                  "atexit.register(lambda: open(path, 'w').write('ran'))\n"
                  "sys.argv = ['notify', '--version']\n"
                  "from dispatcher.cli import run; run()", str(marker))
    assert done.returncode == 0 and "notify" in done.stdout
    assert marker.read_text() == "ran"


def test_a_thread_still_working_is_waited_for(clean_env: Path, tmp_path: Path) -> None:
    """A non-daemon thread (a plugin finishing a send) must end its work before the process exits."""
    marker = tmp_path / "marker"
    code = ("import sys, threading\n"
            "path = sys.argv[1]\n"
            "def finish():\n"
            "    sys.stdin.readline()\n"
            "    open(path, 'w').write('finished')\n"
            "threading.Thread(target=finish).start()\n"
            "sys.argv = ['notify', '--version']\n"
            "from dispatcher.cli import run; run()")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen([sys.executable, "-c", code, str(marker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, env=env) as process:
        assert "notify" in process.stdout.readline()  # the command is done; the thread is still waiting
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.wait(timeout=30) == 0
    assert marker.read_text() == "finished"
