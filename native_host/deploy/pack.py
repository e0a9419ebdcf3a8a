"""``tracker2fa pack``: the extension as a signed CRX3 with its update manifest, and as an XPI for Firefox.

The CRX is signed with the admin's RSA key, and the extension id comes from that key; the packed
``manifest.json`` carries the key's public half as ``key``, so the same id holds when the package is
unpacked. Archives are reproducible: files in sorted order with a fixed timestamp.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from .crx import build_crx3, extension_id
from .manifest import DeployError

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def load_or_create_key(path: Path, create: bool):
    """The admin's RSA private key from a PEM file; with ``create``, a new 2048-bit key written there (0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if create:
        if path.exists():
            raise DeployError(f"{path} exists: refusing to replace a signing key (drop --new-key to use it)")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        from ..atomic import write_file_atomically

        write_file_atomically(path, pem, 0o600)
        return key
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise DeployError(f"no signing key at {path}; create one with --new-key") from None
    except (ValueError, TypeError) as exc:
        raise DeployError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise DeployError(f"{path}: Chromium packages need an RSA key of 2048 bits or more")
    return key


def public_key_der(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def read_extension(source: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The extension's manifest and every file (relative POSIX path → bytes), hidden files left out."""
    manifest_path = source / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"no manifest.json in {source}: is it the extension folder?") from None
    except ValueError as exc:
        raise DeployError(f"{manifest_path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("version"), str):
        raise DeployError(f"{manifest_path} has no version")
    files = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return manifest, files


def build_zip(files: dict[str, bytes]) -> bytes:
    """A reproducible ZIP of ``files`` (sorted, fixed timestamps, deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def gupdate_xml(ext_id: str, version: str, codebase: str) -> str:
    """The update manifest Chromium fetches from the ``update_url``."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>\n"
        f"  <app appid={quoteattr(ext_id)}>\n"
        f"    <updatecheck codebase={quoteattr(codebase)} version={quoteattr(version)} />\n"
        "  </app>\n"
        "</gupdate>\n"
    )


@dataclass
class PackResult:
    extension_id: str
    version: str
    crx: Path
    update_manifest: Path
    xpi: Path
    gecko_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in vars(self).items()}


def pack(source: Path, key_file: Path, out: Path, codebase_base: str, *, new_key: bool = False) -> PackResult:
    """Write ``tracker2fa-<version>.crx``, ``updates.xml`` and ``tracker2fa-<version>.xpi`` into ``out``.

    ``codebase_base`` is the URL of the folder the files will be served from (the CRX's URL is derived).
    """
    from ..atomic import write_file_atomically

    if (
        not codebase_base.startswith(("https://", "http://"))
        or not codebase_base.isascii()
        or any(ord(c) < 0x21 or ord(c) == 0x7F or c in "\"'<>" for c in codebase_base)
    ):
        raise DeployError(f"--base-url must be an http(s) URL, not {codebase_base!r}")
    manifest, files = read_extension(source)
    key = load_or_create_key(key_file, new_key)
    der = public_key_der(key)
    ext_id = extension_id(der)
    version = manifest["version"]
    crx_manifest = {**manifest, "key": base64.b64encode(der).decode("ascii")}
    crx_files = {**files, "manifest.json": (json.dumps(crx_manifest, indent=2) + "\n").encode()}
    crx = build_crx3(build_zip(crx_files), key)
    crx_name = f"tracker2fa-{version}.crx"
    codebase = codebase_base.rstrip("/") + "/" + crx_name
    # Firefox identifies the add-on by its gecko id; the Chromium key means nothing there.
    xpi_manifest = {k: v for k, v in manifest.items() if k != "key"}
    xpi_files = {**files, "manifest.json": (json.dumps(xpi_manifest, indent=2) + "\n").encode()}
    xpi = build_zip(xpi_files)
    gecko = manifest.get("browser_specific_settings", {}).get("gecko", {}).get("id")
    crx_path = write_file_atomically(out / crx_name, crx, 0o644)
    xml_path = write_file_atomically(out / "updates.xml", gupdate_xml(ext_id, version, codebase).encode(), 0o644)
    xpi_path = write_file_atomically(out / f"tracker2fa-{version}.xpi", xpi, 0o644)
    return PackResult(ext_id, version, crx_path, xml_path, xpi_path, gecko)
