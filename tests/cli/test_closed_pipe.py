"""A reader that leaves early (``tracker2fa install --json | head``) ends the command quietly, not in a
traceback."""

from __future__ import annotations

import fcntl
import os
import subprocess

F_SETPIPE_SZ = 1031  # Linux: shrink the pipe so the command's output cannot fit in it


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(script: str, tmp_path) -> None:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [script, "install", "--os", "windows", "--system", "--dry-run", "--json",
         "--host-path", r"C:\Program Files\tracker2fa\tracker2fa-host.exe"],
        stdout=write_end, stderr=subprocess.PIPE, env={**os.environ, "HOME": str(tmp_path)},
    )
    os.close(write_end)
    assert os.read(read_end, 10)  # the plan (over 6 KB) has started to arrive
    os.close(read_end)  # ... and the reader leaves, like `head -c 10`
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode == 0
