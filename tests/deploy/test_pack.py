"""`tracker2fa pack`: a CRX3 that verifies like Chromium verifies it, the id from the admin's key, the update
manifest, the XPI; and the CRX codec under property tests. (Real Chromium installs the package in
test_policies_in_browsers.py.)"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from native_host.cli import main as cli_main
from native_host.deploy.crx import (
    CrxError,
    build_crx3,
    decode_fields,
    encode_bytes_field,
    encode_varint,
    extension_id,
    read_crx3,
)
from native_host.deploy.managed_schema import extension_dir
from native_host.deploy.manifest import DeployError
from native_host.deploy.pack import build_zip, pack

BASE = "https://extensions.example.com/t2fa"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(path: Path, key) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def spki(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_the_development_extension_id_is_the_one_its_manifest_key_gives():
    manifest = json.loads((extension_dir() / "manifest.json").read_text())
    assert extension_id(base64.b64decode(manifest["key"])) == DEV_EXTENSION_ID


def test_pack_writes_a_crx_that_verifies_with_the_id_of_the_admins_key(tmp_path, key):
    result = pack(extension_dir(), write_key(tmp_path / "key.pem", key), tmp_path / "out", BASE)
    package = read_crx3(result.crx.read_bytes())
    assert package.extension_id == result.extension_id == extension_id(spki(key))
    with zipfile.ZipFile(io.BytesIO(package.archive)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert "background/service_worker.js" in archive.namelist()
    # Unpacked, the same id holds: the packed manifest carries the admin's public key.
    assert extension_id(base64.b64decode(manifest["key"])) == result.extension_id


def test_pack_is_reproducible(tmp_path, key):
    key_file = write_key(tmp_path / "key.pem", key)
    first = pack(extension_dir(), key_file, tmp_path / "a", BASE).crx.read_bytes()
    second = pack(extension_dir(), key_file, tmp_path / "b", BASE).crx.read_bytes()
    assert first == second


def test_the_update_manifest_names_the_id_the_version_and_the_crx_url(tmp_path, key):
    result = pack(extension_dir(), write_key(tmp_path / "key.pem", key), tmp_path / "out", BASE + "/")
    ns = "{http://www.google.com/update2/response}"
    root = ET.fromstring(result.update_manifest.read_text())
    app = root.find(f"{ns}app")
    check = app.find(f"{ns}updatecheck")
    assert (root.get("protocol"), app.get("appid")) == ("2.0", result.extension_id)
    assert check.get("codebase") == f"{BASE}/tracker2fa-{result.version}.crx"
    assert check.get("version") == json.loads((extension_dir() / "manifest.json").read_text())["version"]


def test_the_xpi_holds_the_extension_with_its_gecko_id_and_no_chromium_key(tmp_path, key):
    result = pack(extension_dir(), write_key(tmp_path / "key.pem", key), tmp_path / "out", BASE)
    with zipfile.ZipFile(result.xpi) as xpi:
        manifest = json.loads(xpi.read("manifest.json"))
    assert manifest["browser_specific_settings"]["gecko"]["id"] == GECKO_EXTENSION_ID == result.gecko_id
    assert "key" not in manifest


def test_new_key_creates_a_private_key_readable_only_by_its_owner(tmp_path):
    result = pack(extension_dir(), tmp_path / "new.pem", tmp_path / "out", BASE, new_key=True)
    assert (tmp_path / "new.pem").stat().st_mode & 0o777 == 0o600
    loaded = serialization.load_pem_private_key((tmp_path / "new.pem").read_bytes(), password=None)
    assert extension_id(spki(loaded)) == result.extension_id


def test_new_key_refuses_to_replace_an_existing_key(tmp_path, key):
    key_file = write_key(tmp_path / "key.pem", key)
    before = key_file.read_bytes()
    with pytest.raises(DeployError, match="refusing to replace a signing key"):
        pack(extension_dir(), key_file, tmp_path / "out", BASE, new_key=True)
    assert key_file.read_bytes() == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "need an RSA key of 2048 bits"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "need an RSA key of 2048 bits"),
    ],
)
def test_pack_refuses_a_key_chromium_would_not_accept(tmp_path, make, message):
    with pytest.raises(DeployError, match=message):
        pack(extension_dir(), write_key(tmp_path / "key.pem", make()), tmp_path / "out", BASE)


def test_pack_cli_says_what_to_do_without_a_key(tmp_path, capsys):
    code = cli_main(["pack", "--key", str(tmp_path / "none.pem"), "--base-url", BASE, "--out", str(tmp_path / "o")])
    assert code == 1
    assert "create one with --new-key" in capsys.readouterr().err


def test_pack_cli_prints_the_id_and_files_as_json(tmp_path, capsys):
    args = ["pack", "--key", str(tmp_path / "k.pem"), "--new-key", "--base-url", BASE, "--out", str(tmp_path / "o")]
    assert cli_main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert read_crx3(Path(result["crx"]).read_bytes()).extension_id == result["extension_id"]


# -- the CRX codec


@pytest.fixture(scope="module")
def crx(key) -> bytes:
    return build_crx3(build_zip({"manifest.json": b'{"version": "1"}'}), key)


def test_a_crx_whose_archive_was_altered_is_refused(crx):
    with pytest.raises(CrxError, match="does not verify"):
        read_crx3(crx[:-1] + bytes([crx[-1] ^ 1]))


def test_a_crx_declaring_another_keys_id_is_refused(key):
    archive = build_zip({"manifest.json": b"{}"})
    data = bytearray(build_crx3(archive, key))
    declared = encode_bytes_field(1, bytes(16))  # a crx_id no key has
    header = data[12 : 12 + int.from_bytes(data[8:12], "little")]
    fields = decode_fields(bytes(header))
    # Re-sign honestly over the wrong id so only the id check can refuse it.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    payload = b"CRX3 SignedData\x00" + len(declared).to_bytes(4, "little") + declared + archive
    proof = encode_bytes_field(1, spki(key)) + encode_bytes_field(
        2, key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    )
    assert [n for n, _ in fields] == [2, 10000]
    forged = encode_bytes_field(2, proof) + encode_bytes_field(10000, declared)
    blob = b"Cr24" + (3).to_bytes(4, "little") + len(forged).to_bytes(4, "little") + forged + archive
    with pytest.raises(CrxError, match="no proof comes from the key the declared crx_id names"):
        read_crx3(blob)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"PK\x03\x04", "no Cr24 magic"),
        (b"Cr24" + (2).to_bytes(4, "little") + bytes(4), "version 2"),
        (b"Cr24" + (3).to_bytes(4, "little") + (99).to_bytes(4, "little"), "runs past the end"),
        (b"Cr24" + (3).to_bytes(4, "little") + (0).to_bytes(4, "little"), "no signed header data"),
    ],
)
def test_malformed_crx_headers_are_refused_with_the_reason(blob, message):
    with pytest.raises(CrxError, match=message):
        read_crx3(blob)


@given(st.lists(st.tuples(st.integers(1, 20000), st.binary(max_size=40)), max_size=6))
def test_length_delimited_fields_decode_to_what_was_encoded(fields):
    data = b"".join(encode_bytes_field(n, v) for n, v in fields)
    assert decode_fields(data) == fields


@given(st.integers(0, 2**63 - 1))
def test_varints_round_trip(value):
    (decoded,) = decode_fields(encode_varint(1 << 3) + encode_varint(value))
    assert decoded == (1, value)


@given(st.binary(max_size=200))
def test_decoding_arbitrary_bytes_either_works_or_raises_crx_error(data):
    with contextlib.suppress(CrxError):
        decode_fields(data)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_single_byte_change_to_a_signed_crx_is_refused(crx, data):
    index = data.draw(st.integers(0, len(crx) - 1))
    flipped = bytearray(crx)
    flipped[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CrxError):
        read_crx3(bytes(flipped))


def test_pack_cli_reports_an_output_folder_it_cannot_write(tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    args = ["pack", "--key", str(tmp_path / "k.pem"), "--new-key", "--base-url", BASE, "--out", str(blocked)]
    assert cli_main(args) == 1
    assert "could not pack the extension" in capsys.readouterr().err
