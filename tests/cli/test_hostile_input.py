"""Hostile files through the real ``tracker2fa`` process: a clear error and exit code, never a traceback.

Each run is capped at 512 MiB of address space, so code that trusted a size from the file fails fast
(with a MemoryError) instead of exhausting the machine, and the test sees it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from native_host.vault import VaultFile
from native_host.vault.format import header_digest

from .conftest import PASSWORD, run_script

CAP = 512 * 1024 * 1024
VAULT_CORRUPT, IMPORT_FAILED = 5, 7


@pytest.fixture
def vault_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault.json"
    VaultFile(path).create(PASSWORD, kdf_cost="minimum").lock()
    return path


def _forge(path: Path, change) -> bytes:
    """Edit the header and fix its checksum, as an attacker who can write the file would."""
    doc = json.loads(path.read_bytes())
    change(doc["header"])
    doc["header_sha256"] = header_digest(doc["header"])
    data = json.dumps(doc).encode()
    path.write_bytes(data)
    return data


def _list(script: str, vault: Path) -> Any:
    return run_script(script, "vault", "list", "--password-stdin", stdin=PASSWORD + "\n", env_vault=vault,
                      address_space=CAP)


@pytest.mark.parametrize(
    ("kdf", "reason"),
    [
        ({"name": "scrypt", "log2_n": 16, "r": 1, "p": 1}, "needs r of at least 2"),  # OpenSSL: MemoryError
        ({"name": "scrypt", "log2_n": 19, "r": 8, "p": 1}, "512 MiB of memory"),
        ({"name": "scrypt", "log2_n": 14, "r": 32, "p": 1}, "scrypt r must be"),
        ({"name": "scrypt", "log2_n": 10, "r": 8, "p": 16}, "scrypt p must be"),
        ({"name": "argon2id", "memory_kib": 512 * 1024, "iterations": 1, "lanes": 1}, "argon2id memory_kib"),
        ({"name": "argon2id", "memory_kib": 8, "iterations": 64, "lanes": 1}, "argon2id iterations"),
        ({"name": "argon2id", "memory_kib": 1024, "iterations": 1, "lanes": 16}, "argon2id lanes"),
    ],
    ids=["scrypt-r1-n2^16", "scrypt-512MiB", "scrypt-r32", "scrypt-p16", "argon2-512MiB", "argon2-64-passes",
         "argon2-16-lanes"],
)
def test_a_vault_whose_kdf_parameters_are_out_of_bounds_is_corrupt(script, vault_file, kdf, reason):
    salt = base64.b64encode(os.urandom(32)).decode()
    before = _forge(vault_file, lambda header: header["slots"][0].update(kdf={**kdf, "salt": salt}))
    result = _list(script, vault_file)
    assert (result.returncode, "Traceback" in result.stderr) == (VAULT_CORRUPT, False), result.stderr
    assert reason in result.stderr
    assert vault_file.read_bytes() == before


def test_a_vault_with_two_hundred_key_slots_is_corrupt_before_any_key_derivation(script, vault_file):
    def many_slots(header: dict[str, Any]) -> None:
        header["slots"] = [{**header["slots"][0], "id": os.urandom(16).hex()} for _ in range(200)]

    _forge(vault_file, many_slots)
    result = _list(script, vault_file)
    assert (result.returncode, "Traceback" in result.stderr) == (VAULT_CORRUPT, False), result.stderr
    assert "200 key slots" in result.stderr


def _protobuf_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def test_a_google_export_declaring_an_absurd_batch_size_fails_with_the_import_error(script, vault_file, tmp_path):
    account = b"\x0a\x0a" + bytes(range(1, 11)) + b"\x12\x05alice"
    payload = b"\x0a" + _protobuf_varint(len(account)) + account + b"\x18" + _protobuf_varint(2**62) + b"\x20\x00"
    hostile = tmp_path / "export.txt"
    hostile.write_text("otpauth-migration://offline?data=" + base64.b64encode(payload).decode() + "\n")
    assert hostile.stat().st_size < 150  # the report's 150-byte file
    before = vault_file.read_bytes()
    result = run_script(script, "vault", "import", str(hostile), "--password-stdin", stdin=PASSWORD + "\n",
                        env_vault=vault_file, address_space=CAP)
    assert (result.returncode, "Traceback" in result.stderr) == (IMPORT_FAILED, False), result.stderr
    assert "QR codes" in result.stderr
    assert vault_file.read_bytes() == before


def test_an_aegis_export_with_parameters_scrypt_rejects_fails_with_the_import_error(script, vault_file, tmp_path):
    nonce = os.urandom(12)
    wrapped = AESGCM(os.urandom(32)).encrypt(nonce, os.urandom(32), None)
    slot = {"type": 1, "key": wrapped[:-16].hex(), "key_params": {"nonce": nonce.hex(), "tag": wrapped[-16:].hex()},
            "n": 2**16, "r": 1, "p": 1, "salt": os.urandom(32).hex()}
    header = {"slots": [slot], "params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()}}
    hostile = tmp_path / "aegis.json"
    hostile.write_text(json.dumps({"version": 1, "header": header, "db": base64.b64encode(b"x" * 32).decode()}))
    result = run_script(script, "vault", "import", str(hostile), "--password-stdin",
                        stdin=f"{PASSWORD}\nthe aegis password\n", env_vault=vault_file, address_space=CAP)
    assert (result.returncode, "Traceback" in result.stderr) == (IMPORT_FAILED, False), result.stderr
    assert "implausible scrypt parameters" in result.stderr


def test_running_out_of_memory_gives_a_clear_message_and_no_traceback(script, vault_file, tmp_path):
    # 30 MiB of valid URIs (under the 32 MiB import cap) in a process allowed 128 MiB: a real MemoryError.
    big = tmp_path / "many.txt"
    line = "otpauth://totp/Acme:user{}?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme\n"
    big.write_text("".join(line.format(i) for i in range(380_000)))
    before = vault_file.read_bytes()
    result = run_script(script, "vault", "import", str(big), "--password-stdin", stdin=PASSWORD + "\n",
                        env_vault=vault_file, address_space=128 * 1024 * 1024)
    assert (result.returncode, "Traceback" in result.stderr) == (1, False), result.stderr
    assert "out of memory" in result.stderr
    assert vault_file.read_bytes() == before
