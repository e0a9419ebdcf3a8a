"""Property tests: random accounts written in each app's layout (plain and encrypted) read back intact.

The writers here follow each format's documented layout (docs/import-formats.md); the real sample
files in test_samples.py anchor them to what the apps actually write.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.vault.entry import Entry
from native_host.vault.importers import import_bytes

# Timing is not under test; a loaded CI machine must not turn slow examples into failures.
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

PASSWORD = "correct horse ✓"
_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).map(str.strip)


@st.composite
def accounts(draw, kinds=("totp", "hotp", "steam")) -> Entry:
    return Entry(
        secret=base64.b32encode(draw(st.binary(min_size=10, max_size=40))).decode(),
        kind=draw(st.sampled_from(kinds)),
        issuer=draw(_text),
        account=draw(_text),
        algorithm=draw(st.sampled_from(["SHA1", "SHA256", "SHA512"])),
        digits=draw(st.integers(6, 8)),
        period=draw(st.integers(1, 300)),
        counter=draw(st.integers(0, 2**40)),
    )


def _fields(e: Entry) -> tuple:
    return (e.kind, e.secret, e.issuer, e.account, e.algorithm, e.digits,
            e.counter if e.kind == "hotp" else e.period)


def _pbkdf2(password: str, salt: bytes, iterations: int, algo: hashes.HashAlgorithm) -> bytes:
    return PBKDF2HMAC(algorithm=algo, length=32, salt=salt, iterations=iterations).derive(password.encode())


def _gcm(key: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, None)


# --- Aegis -----------------------------------------------------------------------------------------

def _aegis_db(entries: list[Entry]) -> dict:
    return {"version": 2, "entries": [
        {"type": e.kind, "name": e.account, "issuer": e.issuer, "info": {
            "secret": e.secret, "algo": e.algorithm, "digits": e.digits,
            **({"counter": e.counter} if e.kind == "hotp" else {"period": e.period})}}
        for e in entries]}


def _aegis_encrypted(db: dict, password: str) -> bytes:
    master, salt = os.urandom(32), os.urandom(32)
    kek = Scrypt(salt=salt, length=32, n=2**4, r=8, p=1).derive(password.encode())
    slot_nonce, wrapped = _gcm(kek, master)
    db_nonce, sealed = _gcm(master, json.dumps(db).encode())
    key_params = {"nonce": slot_nonce.hex(), "tag": wrapped[-16:].hex()}
    slot = {"type": 1, "key": wrapped[:-16].hex(), "key_params": key_params, "n": 2**4, "r": 8, "p": 1,
            "salt": salt.hex()}
    header = {"slots": [slot], "params": {"nonce": db_nonce.hex(), "tag": sealed[-16:].hex()}}
    return json.dumps({"version": 1, "header": header, "db": base64.b64encode(sealed[:-16]).decode()}).encode()


@NO_DEADLINE
@given(st.lists(accounts(), min_size=1, max_size=6))
def test_aegis_plain_round_trip(entries):
    data = json.dumps({"version": 1, "header": {"slots": None, "params": None}, "db": _aegis_db(entries)}).encode()
    assert [_fields(e) for e in import_bytes(data)] == [_fields(e) for e in entries]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=4))
def test_aegis_encrypted_round_trip(entries):
    data = _aegis_encrypted(_aegis_db(entries), PASSWORD)
    assert [_fields(e) for e in import_bytes(data, password=PASSWORD)] == [_fields(e) for e in entries]


# --- 2FAS ------------------------------------------------------------------------------------------

def _twofas_services(entries: list[Entry]) -> list[dict]:
    return [{"name": e.issuer, "secret": e.secret, "otp": {
        "account": e.account, "issuer": e.issuer, "digits": e.digits, "period": e.period, "algorithm": e.algorithm,
        "tokenType": e.kind.upper(), "counter": e.counter}} for e in entries]


@NO_DEADLINE
@given(st.lists(accounts(), min_size=1, max_size=6))
def test_2fas_plain_round_trip(entries):
    # 2FAS keeps the issuer in the service name; an empty name falls back to otp.issuer, also empty.
    data = json.dumps({"schemaVersion": 4, "services": _twofas_services(entries)}).encode()
    assert [_fields(e) for e in import_bytes(data)] == [_fields(e) for e in entries]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=4))
def test_2fas_encrypted_round_trip(entries):
    salt = os.urandom(256)
    key = _pbkdf2(PASSWORD, salt, 10_000, hashes.SHA256())
    iv, sealed = _gcm(key, json.dumps(_twofas_services(entries)).encode())
    blob = ":".join(base64.b64encode(p).decode() for p in (sealed, salt, iv))
    data = json.dumps({"schemaVersion": 4, "services": [], "servicesEncrypted": blob}).encode()
    assert [_fields(e) for e in import_bytes(data, password=PASSWORD)] == [_fields(e) for e in entries]


# --- andOTP ----------------------------------------------------------------------------------------

def _andotp_json(entries: list[Entry]) -> bytes:
    return json.dumps([{"secret": e.secret + "=" * (-len(e.secret) % 8), "issuer": e.issuer, "label": e.account,
                        "digits": e.digits, "type": e.kind.upper(), "algorithm": e.algorithm,
                        **({"counter": e.counter} if e.kind == "hotp" else {"period": e.period})}
                       for e in entries]).encode()


@NO_DEADLINE
@given(st.lists(accounts(), min_size=1, max_size=6))
def test_andotp_plain_round_trip(entries):
    assert [_fields(e) for e in import_bytes(_andotp_json(entries))] == [_fields(e) for e in entries]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=4), st.integers(1, 2000))
def test_andotp_encrypted_round_trip(entries, iterations):
    salt = os.urandom(12)
    nonce, sealed = _gcm(_pbkdf2(PASSWORD, salt, iterations, hashes.SHA1()), _andotp_json(entries))
    data = iterations.to_bytes(4, "big") + salt + nonce + sealed
    assert [_fields(e) for e in import_bytes(data, format="andotp", password=PASSWORD)] == \
        [_fields(e) for e in entries]


# andOTP's own PBKDF2 cost (~0.1 s a try): few examples.
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=2),
       st.sampled_from([140_000, 160_000]) | st.integers(140_000, 160_000))
def test_andotp_encrypted_backup_as_the_app_writes_it_is_recognised_and_read(entries, iterations):
    salt = os.urandom(12)
    nonce, sealed = _gcm(_pbkdf2(PASSWORD, salt, iterations, hashes.SHA1()), _andotp_json(entries))
    data = iterations.to_bytes(4, "big") + salt + nonce + sealed
    assert [_fields(e) for e in import_bytes(data, password=PASSWORD)] == [_fields(e) for e in entries]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=4))
def test_andotp_old_encrypted_round_trip(entries):
    nonce, sealed = _gcm(hashlib.sha256(PASSWORD.encode()).digest(), _andotp_json(entries))
    data = nonce + sealed
    assert [_fields(e) for e in import_bytes(data, format="andotp", password=PASSWORD)] == \
        [_fields(e) for e in entries]


# --- Authenticator Pro -----------------------------------------------------------------------------

_AP_TYPES = {"hotp": 1, "totp": 2, "steam": 4}
_AP_ALGOS = {"SHA1": 0, "SHA256": 1, "SHA512": 2}


def _authpro_json(entries: list[Entry]) -> bytes:
    return json.dumps({"Authenticators": [
        {"Type": _AP_TYPES[e.kind], "Issuer": e.issuer, "Username": e.account or None, "Secret": e.secret,
         "Algorithm": _AP_ALGOS[e.algorithm], "Digits": e.digits, "Period": e.period, "Counter": e.counter}
        for e in entries]}).encode()


@NO_DEADLINE
@given(st.lists(accounts(), min_size=1, max_size=6))
def test_authenticator_pro_plain_round_trip(entries):
    assert [_fields(e) for e in import_bytes(_authpro_json(entries))] == [_fields(e) for e in entries]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(accounts(), min_size=1, max_size=4))
def test_authenticator_pro_legacy_encrypted_round_trip(entries):
    salt, iv = os.urandom(20), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(_authpro_json(entries)) + padder.finalize()
    key = _pbkdf2(PASSWORD, salt, 64_000, hashes.SHA1())
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    data = b"AuthenticatorPro" + salt + iv + encryptor.update(padded) + encryptor.finalize()
    assert [_fields(e) for e in import_bytes(data, password=PASSWORD)] == [_fields(e) for e in entries]


# --- FreeOTP+ --------------------------------------------------------------------------------------

@NO_DEADLINE
@given(st.lists(accounts(kinds=("totp", "hotp")), min_size=1, max_size=6))
def test_freeotp_plus_round_trip(entries):
    def signed(secret: str) -> list[int]:
        raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
        return [b - 256 if b > 127 else b for b in raw]

    tokens = [{"algo": e.algorithm, "counter": e.counter, "digits": e.digits, "issuerExt": e.issuer,
               "label": e.account, "period": e.period, "secret": signed(e.secret), "type": e.kind.upper()}
              for e in entries]
    data = json.dumps({"tokenOrder": [f"{e.issuer}:{e.account}" for e in entries], "tokens": tokens}).encode()
    assert [_fields(e) for e in import_bytes(data)] == [_fields(e) for e in entries]


def test_andotp_old_encrypted_backup_whose_nonce_starts_with_a_bracket_is_decrypted():
    entries = [Entry(secret="UBUOE2F7T2AEPUIJ", issuer="Jira", account="me")]
    key = hashlib.sha256(PASSWORD.encode()).digest()
    while True:  # the old format starts with a random nonce; make it look like a JSON array
        nonce, sealed = _gcm(key, _andotp_json(entries))
        if nonce[:1] == b"[":
            break
    imported = import_bytes(nonce + sealed, format="andotp", password=PASSWORD)
    assert [_fields(e) for e in imported] == [_fields(e) for e in entries]
