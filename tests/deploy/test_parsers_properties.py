"""Property tests for the deployment codecs: .reg files, and the managed-settings validator."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from native_host.deploy.apply import Receipt
from native_host.deploy.doctor import check_manifest
from native_host.deploy.layouts import ManifestLocation
from native_host.deploy.managed_schema import load_schema, settings_errors
from native_host.deploy.manifest import DeployError
from native_host.deploy.platforms import target_os
from native_host.deploy.policies_read import read_linux
from native_host.deploy.regfile import RegFileError, RegKey, parse, render

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
key_part = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\\[]"), min_size=1)
reg_keys = st.lists(
    st.builds(
        RegKey,
        hive=st.sampled_from(["HKLM", "HKCU"]),
        path=st.lists(key_part, min_size=1, max_size=4).map("\\".join),
        values=st.dictionaries(printable, st.one_of(printable, st.integers(0, 0xFFFFFFFF)), max_size=5),
    ),
    max_size=5,
)


@given(reg_keys)
def test_a_rendered_reg_file_parses_back_to_the_same_keys_and_values(keys):
    parsed = parse(render(keys))
    assert [(k.hive, k.path, k.values) for k in parsed] == [(k.hive, k.path, k.values) for k in keys]


@given(st.text(max_size=300))
def test_the_reg_parser_either_reads_text_or_names_the_bad_line(text):
    try:
        parse("Windows Registry Editor Version 5.00\r\n" + text)
    except RegFileError as exc:
        assert str(exc).startswith("line ")


def test_the_reg_parser_refuses_a_file_without_the_header():
    with pytest.raises(RegFileError, match="line 1"):
        parse('[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n"a"="b"\r\n')


def test_the_reg_parser_refuses_a_value_type_it_does_not_know():
    with pytest.raises(RegFileError, match="line 3"):
        parse('Windows Registry Editor Version 5.00\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n"a"=hex:00\r\n')


SCHEMA = load_schema()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _fitting(schema: dict) -> st.SearchStrategy:
    """Values that fit ``schema`` (derived from it, so a setting added to the schema is covered too)."""
    kind = schema["type"]
    if kind == "object":
        properties = schema.get("properties", {})
        return st.fixed_dictionaries({}, optional={k: _fitting(v) for k, v in properties.items()})
    if kind == "array":
        return st.lists(_fitting(schema.get("items", {"type": "string"})), max_size=3)
    return {
        "boolean": st.booleans(),
        "integer": st.integers(0, 10**6),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "string": st.text(max_size=20),
    }[kind]


def _valid_settings() -> st.SearchStrategy:
    return _fitting(SCHEMA)


@given(_valid_settings())
def test_settings_the_schema_describes_are_accepted(settings):
    assert settings_errors(settings, SCHEMA) == []


@given(_valid_settings(), st.text(min_size=1, max_size=10), JSON)
def test_an_unknown_top_level_key_is_always_refused_by_name(settings, key, value):
    if key in SCHEMA["properties"]:
        return
    settings[key] = value
    assert f"unknown setting {key!r}" in " ".join(settings_errors(settings, SCHEMA))


@given(JSON)
def test_the_validator_returns_errors_for_any_json_and_never_raises(value):
    errors = settings_errors(value, SCHEMA)
    assert isinstance(errors, list)
    json.dumps(errors)


# -- the install receipt and the files the doctor reads


receipt_items = st.lists(
    st.one_of(
        st.builds(lambda p, b: Receipt.file_slot("file", p), st.text(min_size=1, max_size=20), st.none()),
        st.builds(lambda p, b: Receipt.file_slot("dir", p), st.text(min_size=1, max_size=20), st.none()),
        st.builds(
            lambda k, h, v: Receipt.key_slot(h, k, v),
            st.text(min_size=1, max_size=20),
            st.sampled_from(["HKLM", "HKCU"]),
            st.sampled_from([None, "64", "32"]),
        ),
    ),
    max_size=6,
)


@given(receipt_items, st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3))
def test_a_receipt_survives_its_json_form(slots, browsers):
    receipt = Receipt()
    for slot in slots:
        receipt.add(slot, browsers)
    again = Receipt.from_json(json.loads(json.dumps(receipt.to_json())))
    assert again.items == receipt.items


@given(
    JSON
    | st.fixed_dictionaries(
        {
            "version": st.just(1),
            "items": st.lists(
                JSON | st.dictionaries(st.sampled_from(["kind", "path", "browsers", "hive", "view"]), JSON), max_size=3
            ),
        }
    )
)
def test_a_damaged_receipt_is_refused_with_deploy_error_or_read(value):
    with contextlib.suppress(DeployError):
        Receipt.from_json(value)


@hsettings(max_examples=60, deadline=None)
@given(st.one_of(JSON, st.binary(max_size=50)))
def test_the_doctor_reports_any_manifest_content_as_problems_and_never_crashes(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("m")
    path = root / "dev.tracker2fa.host.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    target = target_os("linux", root=root, home="/home/user")
    location = ManifestLocation("chromium", "chromium", target.path("/dev.tracker2fa.host.json"))
    problems, _notes, usable = check_manifest(target, location, "user", ["a" * 32], None)
    assert problems or usable is not None
    assert all(p.fix for p in problems)


@hsettings(max_examples=60, deadline=None)
@given(st.one_of(JSON, st.binary(max_size=50)))
def test_any_policy_file_content_is_read_or_reported_unreadable(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("p")
    folder = root / "etc/chromium/policies/managed"
    folder.mkdir(parents=True)
    (folder / "x.json").write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    result = read_linux(target_os("linux", root=root, home="/home/user"), "/etc/chromium/policies")
    assert isinstance(result.blocks_host, bool)


# -- the trust checks' parsers: a #! line and a launcher written by install --system


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_file_head_gives_a_shebang_or_none_and_never_raises(tmp_path_factory, head):
    from native_host.deploy.trust import launcher_target, shebang

    path = tmp_path_factory.mktemp("head") / "file"
    path.write_bytes(head)
    line = shebang(str(path))
    assert line is None or (head.startswith(b"#!") and 1 <= len(line) <= 2)
    target = launcher_target(str(path))
    assert target is None or target.startswith("/")


@hsettings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="/"), min_size=1),
        min_size=1,
        max_size=5,
    )
)
def test_the_launcher_install_writes_names_its_host_back_to_the_trust_check(tmp_path_factory, parts):
    from native_host.deploy.layouts import system_config_path
    from native_host.deploy.plan import launcher_script
    from native_host.deploy.platforms import target_os
    from native_host.deploy.trust import launcher_target

    linux = target_os("linux")
    host = "/" + "/".join(parts)
    path = tmp_path_factory.mktemp("launcher") / "tracker2fa-host"
    path.write_text(launcher_script(linux, linux.path(host), system_config_path(linux)))
    assert launcher_target(str(path)) == str(linux.path(host))


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "link", "up", "gone"]), max_size=8))
def test_path_levels_reach_what_the_kernel_reaches(tmp_path_factory, parts):
    import os

    from native_host.deploy.trust import path_levels

    base = tmp_path_factory.mktemp("levels")
    (base / "a" / "b").mkdir(parents=True)
    (base / "a" / "link").symlink_to("b")
    (base / "a" / "b" / "up").symlink_to("..")
    path = str(base) + "/" + "/".join(parts)
    try:
        levels = path_levels(path)
    except OSError:
        assert not os.path.exists(path)
        return
    assert os.path.exists(path)
    reached = {level for level, _ in levels if not os.path.islink(level)}
    assert os.path.realpath(path) in reached
    assert all(os.path.lexists(level) for level, _ in levels)
