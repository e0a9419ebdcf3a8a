"""The interactive path: on a terminal (a real pseudo-terminal here), passwords come from a no-echo prompt."""

from __future__ import annotations

import os
import select
import subprocess
import sys

import pytest

from .conftest import PASSWORD

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def _read_until(fd: int, wanted: bytes, limit: float = 60.0) -> bytes:
    """Read the terminal until ``wanted`` appears or it closes (``limit`` only guards against a hang)."""
    seen = b""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], limit)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _on_a_terminal(script: str, vault_path, *args: str) -> tuple[int, bytes]:
    master, slave = os.openpty()
    env = {**os.environ, "TRACKER2FA_VAULT": str(vault_path)}
    proc = subprocess.Popen([script, "vault", *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    try:
        output = b""
        for _ in range(3):
            prompt = _read_until(master, b"password", limit=60)
            output += prompt
            if b"password" not in prompt.lower():
                break
            os.write(master, PASSWORD.encode() + b"\n")
        output += _read_until(master, b"\0never")
        return proc.wait(timeout=60), output
    finally:
        os.close(master)


def test_a_password_typed_at_the_prompt_unlocks_and_is_not_echoed(script, initialised, vault_path):
    code, output = _on_a_terminal(script, vault_path, "list")
    assert code == 0, output
    assert b"Vault password" in output and b"Jira:ann" in output
    assert PASSWORD.encode() not in output


def _answering(script: str, vault_path, answers: list[str], *args: str) -> tuple[int, bytes]:
    """Run ``tracker2fa vault ARGS`` on a terminal, typing ``answers`` one per password prompt."""
    master, slave = os.openpty()
    env = {**os.environ, "TRACKER2FA_VAULT": str(vault_path)}
    proc = subprocess.Popen([script, "vault", *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    try:
        output = b""
        for answer in answers:
            # Wait for the prompt itself: getpass flushes what was typed before it (TCSAFLUSH), and the
            # refusal message also says "password".
            fresh = b""
            while not fresh.endswith((b"password: ", b"(again): ")):
                chunk = _read_until(master, b": ", limit=60)
                if not chunk:
                    return proc.wait(timeout=60), output + fresh
                fresh += chunk
            output += fresh
            os.write(master, answer.encode() + b"\n")
        output += _read_until(master, b"\0never")
        return proc.wait(timeout=60), output
    finally:
        os.close(master)


def test_a_weak_password_at_the_prompt_is_explained_and_asked_for_again(script, vault_path):
    from native_host.vault import VaultFile

    code, output = _answering(script, vault_path, ["hunter2", "hunter2", PASSWORD, PASSWORD], "init",
                              "--kdf-cost", "minimum")
    assert code == 0, output
    assert output.count(b"New vault password:") == 2 and b"too easy to guess" in output
    assert VaultFile(vault_path).unlock(PASSWORD).entries() == []


def test_three_weak_passwords_at_the_prompt_create_nothing(script, vault_path):
    code, output = _answering(script, vault_path, ["hunter2"] * 6, "init", "--kdf-cost", "minimum")
    assert code == 2, output
    assert output.count(b"too easy to guess") == 3
    assert not vault_path.exists()
