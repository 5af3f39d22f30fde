"""A command's process ends without the interpreter's teardown (``studio.__main__.exit_now``), but as a normal exit
would: threads still working are waited for, exit handlers run, buffered output reaches the pipe, the status holds."""

import subprocess
import sys

CHILD = r"""
import atexit, sys, threading, time
from pathlib import Path
from studio.__main__ import exit_now
out = Path(sys.argv[1])
def late():
    time.sleep(0.5)
    out.write_text("thread done")
threading.Thread(target=late).start()
atexit.register(lambda: print("handler ran"))
sys.stdout.write("buffered line")  # no newline, not flushed: a pipe holds it in the buffer
exit_now(3)
print("never reached")
"""


def test_exit_now_waits_for_threads_runs_handlers_and_flushes(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "t.txt")], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered linehandler ran\n"
    assert (tmp_path / "t.txt").read_text() == "thread done"
