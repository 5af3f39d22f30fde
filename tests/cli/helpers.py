import os
import subprocess
import sys
from pathlib import Path


def studio(*args, home: Path, timeout=120, stdin=None, env=None):
    """Run ``python -m studio ARGS`` with its own data folder; returns the CompletedProcess."""
    env = {**os.environ, "STUDIO_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        input=stdin,
    )


def studio_here(*args, home: Path, stdin=None, env=None, timeout=None):
    """``studio ARGS`` in this process (no interpreter to start, torch already imported): the same exit status,
    stdout and stderr as ``studio()``, for commands that need no process of their own."""
    import contextlib
    import io
    import types
    from unittest import mock

    from studio import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.dict(os.environ, env or {}))
        if stdin is not None:
            stack.enter_context(mock.patch.object(sys, "stdin", io.StringIO(stdin)))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = cli.main(["--home", str(home), *map(str, args)])
        except SystemExit as e:  # argparse's own exits
            code = e.code if isinstance(e.code, int) else 2
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
