"""Helpers shared by the importers: typed field access, crypto wrappers and the per-entry collector.

Every importer turns a file into a :class:`Collector` of entries and per-entry problems. The caller
(:func:`native_host.vault.importers.import_bytes`) decides: with problems and no ``skip_invalid`` it
raises and nothing is imported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ...errors import ImportFailed, ImportNeedsPassword, ImportWrongPassword, Tracker2faError
from ..entry import ALGORITHMS, Entry, secret_from_bytes

# Exceptions a malformed record can raise while we pick it apart; anything else is a bug.
RECORD_ERRORS: tuple[type[BaseException], ...] = (
    Tracker2faError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    binascii.Error,
)

# Bounds on key-derivation work read from a file, a little above the strongest default of any app we read
# (andOTP: 140,000–160,000 PBKDF2 iterations; Aegis: scrypt N = 2^15, r = 8, p = 1, 32 MiB): a hostile file
# must neither pin the CPU for minutes nor make us allocate gigabytes.
MAX_PBKDF2_ITERATIONS = 1_000_000
MAX_SCRYPT_MEMORY = 128 * 1024 * 1024
MAX_SCRYPT_P = 2
SALT_BYTES = (8, 64)


def describe(exc: BaseException) -> str:
    """A short, secret-free reason for a record that could not be read."""
    if isinstance(exc, Tracker2faError):
        return exc.message
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, binascii.Error):
        return "bad Base64/Base32/hex data"
    return str(exc) or type(exc).__name__


class Collector:
    """Entries read so far and the records that failed, with where and why."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.problems: list[str] = []

    def add(self, where: str, build: Callable[[], Entry | None]) -> None:
        """Run ``build``; keep its entry, or note why the record at ``where`` was rejected.

        ``build`` may return None for a record that is not an OTP account at all (e.g. a Bitwarden login
        without a TOTP field): that is skipped silently, not an error.
        """
        try:
            entry = build()
        except (ImportNeedsPassword, ImportWrongPassword):
            raise  # about the whole file, not this record
        except RecursionError:
            self.problems.append(f"{where}: nested too deeply")
            return
        except RECORD_ERRORS as exc:
            self.problems.append(f"{where}: {describe(exc)}")
            return
        if entry is not None:
            self.entries.append(entry)


def decode_text(data: bytes, fmt: str) -> str:
    """UTF-8 text without a byte-order mark."""
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise ImportFailed(f"this is not a valid {fmt} file: it is not UTF-8 text") from None


def load_json(data: bytes | str, fmt: str) -> Any:
    """Parse JSON or raise ImportFailed naming the format and the position."""
    text = data if isinstance(data, str) else decode_text(data, fmt)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"this is not a valid {fmt} file: bad JSON at line {exc.lineno} ({exc.msg})") from None
    except RecursionError:
        raise ImportFailed(f"this is not a valid {fmt} file: JSON nested too deeply") from None


def expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """Return ``value`` if it has the expected JSON type, else raise ImportFailed naming ``what``."""
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ImportFailed(f"{what} must be a number, not true/false")
    if not isinstance(value, kind):
        names = {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}
        wanted = names.get(kind, "a value") if isinstance(kind, type) else "a number"
        raise ImportFailed(f"{what} must be {wanted}")
    return value


def get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ..., *, what: str = "") -> Any:
    """``obj[key]`` checked against ``kind``; ``default`` when missing or null (if given)."""
    value = obj.get(key)
    if value is None:
        if default is ...:
            raise ImportFailed(f"missing field {what or key!r}")
        return default
    return expect(value, kind, f"field {what or key!r}")


def text_field(obj: dict[str, Any], key: str) -> str:
    """An optional text field: missing or null gives ''."""
    return str(get(obj, key, str, "")).strip()


def int_field(obj: dict[str, Any], key: str, default: int) -> int:
    """An optional integer field that some apps write as a string ("6")."""
    value = obj.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ImportFailed(f"field {key!r} must be a whole number, not {value!r}") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return expect(value, int, f"field {key!r}")


def algorithm(value: Any) -> str:
    """Normalise an algorithm name ("sha256", "HmacSHA1", "SHA-512") to SHA1/SHA256/SHA512."""
    if value is None or value == "":
        return "SHA1"
    name = str(value).upper().replace("-", "").replace("HMAC", "")
    if name not in ALGORITHMS:
        raise ImportFailed(f"unsupported algorithm {value!r}")
    return name


def b64decode(value: str, what: str) -> bytes:
    """Standard or URL-safe Base64, padding optional; raise ImportFailed naming ``what``."""
    if not isinstance(value, str):
        raise ImportFailed(f"{what} must be Base64 text")
    cleaned = "".join(value.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned.encode("ascii"))
        return base64.b64decode(cleaned.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ImportFailed(f"{what} is not valid Base64") from None


def hex_decode(value: Any, what: str) -> bytes:
    """Hex text to bytes; raise ImportFailed naming ``what``."""
    try:
        return bytes.fromhex(expect(value, str, what))
    except ValueError:
        raise ImportFailed(f"{what} is not valid hex") from None


def signed_bytes(values: Any, what: str = "secret") -> bytes:
    """A JSON list of (Java, signed) bytes -128..127 to bytes."""
    expect(values, list, what)
    out = bytearray()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not -128 <= value <= 255:
            raise ImportFailed(f"{what} holds a value that is not a byte")
        out.append(value & 0xFF)
    return bytes(out)


def require_password(password: str | None, fmt: str) -> str:
    """The password, or ImportNeedsPassword naming the format."""
    if password is None:
        raise ImportNeedsPassword(f"this {fmt} file is encrypted: give its password")
    return password


def wrong_password(fmt: str) -> ImportWrongPassword:
    """The error for a password that does not decrypt a ``fmt`` file."""
    return ImportWrongPassword(f"the password does not decrypt this {fmt} file (or the file is damaged)")


def aes_gcm_open(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, fmt: str) -> bytes:
    """AES-GCM decryption; a failed tag check means a wrong password (or a damaged file)."""
    if len(nonce) < 8 or len(ciphertext_and_tag) < 16 or len(key) not in (16, 24, 32):
        raise ImportFailed(f"this {fmt} file is damaged: the encrypted data is too short")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext_and_tag, None)
    except InvalidTag:
        raise wrong_password(fmt) from None


def aes_cbc_open(key: bytes, iv: bytes, ciphertext: bytes, fmt: str) -> bytes:
    """AES-CBC with PKCS#7 padding; bad padding means a wrong password (CBC has no integrity check)."""
    if len(iv) != 16 or not ciphertext or len(ciphertext) % 16:
        raise ImportFailed(f"this {fmt} file is damaged: the encrypted data has the wrong length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise wrong_password(fmt) from None


def pbkdf2(password: str, salt: bytes, iterations: int, hash_name: str = "sha256", length: int = 32) -> bytes:
    """PBKDF2-HMAC with an iteration count checked against a sane bound."""
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise ImportFailed(f"implausible key-derivation iteration count {iterations}")
    algo = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha512": hashes.SHA512()}[hash_name]
    return PBKDF2HMAC(algorithm=algo, length=length, salt=salt, iterations=iterations).derive(password.encode("utf-8"))


def scrypt(password: str, salt: bytes, n: int, r: int, p: int, fmt: str) -> bytes:
    """scrypt with parameters read from a ``fmt`` file, checked against scrypt's rules and our bounds first."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    from ..format import scrypt_problem

    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n & (n - 1):
        raise ImportFailed(f"this {fmt} file's scrypt N must be a power of two greater than 1")
    problem = scrypt_problem(n.bit_length() - 1, r, p, MAX_SCRYPT_MEMORY)
    if problem is None and p > MAX_SCRYPT_P:
        problem = f"p = {p} is above {MAX_SCRYPT_P}"
    if problem:
        raise ImportFailed(f"this {fmt} file has implausible scrypt parameters: {problem}")
    if not SALT_BYTES[0] <= len(salt) <= SALT_BYTES[1]:
        raise ImportFailed(f"this {fmt} file's salt has {len(salt)} bytes, expected {SALT_BYTES[0]}–{SALT_BYTES[1]}")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def sha256(data: bytes) -> bytes:
    """SHA-256 digest (some apps use it, unsalted, as their only key derivation)."""
    return hashlib.sha256(data).digest()


def make_entry(
    *,
    secret: str | bytes,
    kind: str = "totp",
    issuer: str = "",
    account: str = "",
    algo: Any = "SHA1",
    digits: int = 6,
    period: int = 30,
    counter: int = 0,
    note: str = "",
) -> Entry:
    """Build an Entry from loosely typed fields; raw bytes secrets are Base32-encoded."""
    kind = kind.lower()
    if kind not in ("totp", "hotp", "steam"):
        raise ImportFailed(f"unsupported OTP type {kind!r} (only TOTP, HOTP and Steam)")
    if isinstance(secret, bytes):
        secret = secret_from_bytes(secret)
    if not isinstance(secret, str):
        raise ImportFailed("the secret must be text")
    if kind == "totp" and not 1 <= period <= 86400:
        raise ImportFailed(f"period must be between 1 and 86400 seconds, not {period}")
    if kind == "hotp" and not 0 <= counter <= 2**63 - 1:
        raise ImportFailed("counter must be between 0 and 2^63 - 1")
    return Entry(
        secret=secret,
        kind=kind,  # type: ignore[arg-type]
        issuer=issuer,
        account=account,
        algorithm=algorithm(algo),
        digits=digits,
        period=period if kind != "hotp" else 30,
        counter=counter if kind == "hotp" else 0,
        note=note,
    )
