"""`tracker2fa mock` and its local mail sink, as real processes: the banner says where the mails are, a notice of
an event made by another process lands there as a file a mail program reads, and without aiosmtpd the mock
still runs and says what to install."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def start_mock(tmp_path: Path, extra_path: str | None = None) -> tuple[subprocess.Popen, str, str]:
    """The mock on a database in ``tmp_path``; returns the process, its URL and its banner's mail line."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([extra_path, str(REPO)])
    proc = subprocess.Popen([sys.executable, "-m", "native_host", "mock", "--port", "0", "--db",
                             f"sqlite:///{tmp_path}/mock.db"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO, start_new_session=True)
    url, lines = None, []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if m := re.search(r"(http://localhost:\d+)/", line):
            url = url or m.group(1)
        if line.startswith("mail:"):
            return proc, url or "", line.strip()
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"no mail line in the banner: {''.join(lines)} {proc.stderr.read()}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def test_the_mock_says_where_its_mails_are_and_a_notice_lands_there(tmp_path):
    proc, url, line = start_mock(tmp_path)
    try:
        maildir = Path(re.search(r"kept in the Maildir (\S+) ", line).group(1))
        assert maildir == tmp_path / "mock-mail" and f"{url}/admin#outbox" in line
        assert f"mutt -f {maildir}" in line and maildir.stat().st_mode & 0o777 == 0o700
        # another process (the admin CLI) makes the event; the mock's sender delivers its mail to the sink
        subprocess.run([sys.executable, "-m", "native_host", "verifier", "admin", "--db",
                        f"sqlite:///{tmp_path}/mock.db", "reset-user", "bob"], check=True, capture_output=True,
                       env={**os.environ, "HOME": str(tmp_path)}, cwd=REPO, timeout=60)
        deadline = time.monotonic() + 30
        while not list((maildir / "new").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        [kept] = list(mailbox.Maildir(maildir, create=False))
        msg = email.message_from_bytes(kept.as_bytes(), policy=email.policy.default)
        assert str(msg["To"]) == "bob@example.com" and msg["Subject"] == "Your two-step verification was reset"
        assert "tell the Jibra admins (this is a mock tracker) at once" in msg.get_body(("plain",)).get_content()
    finally:
        stop(proc)


def test_without_aiosmtpd_the_mock_runs_without_a_sink_and_says_what_to_install(tmp_path):
    shim = tmp_path / "shim" / "aiosmtpd"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('aiosmtpd is hidden by this test')\n")
    proc, url, line = start_mock(tmp_path, extra_path=str(tmp_path / "shim"))
    try:
        assert "no local sink (aiosmtpd is not installed (pip install 'tracker2fa[devtools]'))" in line
        assert f"notices wait in the outbox at {url}/admin#outbox" in line
        assert httpx.get(f"{url}/login").status_code == 200
    finally:
        stop(proc)
