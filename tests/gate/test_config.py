"""verifier/gate/config.py and toml_lines.py: one TOML file, every error naming the line it is on."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.gate.config import GateConfigError, load_config, parse_duration
from verifier.gate.proxy_configs import EXAMPLE_CONFIG
from verifier.gate.rules import Policy
from verifier.gate.toml_lines import LineIndex

GOOD = """\
[server]
trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]

[session]
idle_timeout = "30m"

[[domains]]
domain = "example.com"
portal = "https://auth.example.com"

[access_control]
default_policy = "deny"

[[access_control.rules]]
domain = "jira.example.com"
resources = [
    "^/rest/api/",
    "^/status$",
]
policy = "bypass"

[[access_control.rules]]
domain = ["*.example.com"]
subject = ["group:dev"]
policy = "two_factor"
"""


def error_of(text: str) -> GateConfigError:
    with pytest.raises(GateConfigError) as caught:
        load_config(text, "gate.toml")
    return caught.value


def test_the_example_configuration_in_the_manifests_loads() -> None:
    config = load_config(EXAMPLE_CONFIG.read_text(), str(EXAMPLE_CONFIG))
    assert config.domains[0].portal == "https://auth.example.com"
    assert config.access.default_policy is Policy.DENY and len(config.access.rules) > 5


def test_a_good_configuration_loads_with_each_rule_knowing_its_line() -> None:
    config = load_config(GOOD)
    assert [r.line for r in config.access.rules] == [14, 22]
    assert config.timeouts.idle == 1800 and config.timeouts.absolute == 12 * 3600


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ('policy = "two_factor"', 'polcy = "two_factor"', 25, "unknown key"),
    ('policy = "two_factor"', 'policy = "allow"', 25, "unknown policy 'allow'"),
    (None, 'resources = ["^/(unclosed"]', 24, "missing )"),
    ('subject = ["group:dev"]', 'subject = ["groop:dev"]', 24, "user:NAME or group:NAME"),
    ('idle_timeout = "30m"', 'idle_timeout = "30 minutes"', 5, "not a duration"),
    ('idle_timeout = "30m"', 'idle_timeout = "13h"', 5, "must not be longer than absolute_timeout"),
    ('portal = "https://auth.example.com"', 'portal = "https://auth.evil.example"', 9, "must be example.com or under"),
    ('portal = "https://auth.example.com"', 'portal = "http://auth.example.com"', 9, "must be https"),
    ('trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]', 'trusted_proxies = ["10.0.0.300"]', 2, "10.0.0.300"),
    (None, 'methods = ["get"]', 24, "capitals"),
    (None, 'networks = ["not-a-net"]', 24, "not-a-net"),
    ('domain = "example.com"', 'domain = "exa mple.com"', 8, "DNS name"),
    (None, 'colour = "blue"', 13, "unknown key (known here: default_policy, rules)"),
])
def test_a_semantic_error_names_its_line_and_what_is_wrong(old: str | None, new: str, line: int, words: str) -> None:
    lines = GOOD.splitlines()
    if old is None:
        lines.insert(line - 1, new)
    else:
        assert lines[line - 1] == old
        lines[line - 1] = new
    error = error_of("\n".join(lines) + "\n")
    assert error.line == line, str(error)
    assert words in error.reason and str(error).startswith(f"gate.toml:{line}: ")


def test_a_bypass_rule_with_a_subject_is_refused_on_the_subject_line() -> None:
    error = error_of(GOOD.replace('subject = ["group:dev"]\npolicy = "two_factor"',
                                  'subject = ["group:dev"]\npolicy = "bypass"'))
    assert (error.line, "cannot have a subject" in error.reason) == (24, True)


def test_a_syntax_error_names_the_line_tomllib_found() -> None:
    error = error_of(GOOD.replace('default_policy = "deny"', 'default_policy = "deny'))
    assert error.line == 12 and "not valid TOML" in error.reason


def test_a_missing_domain_table_is_named() -> None:
    error = error_of("[access_control]\ndefault_policy = \"deny\"\n")
    assert "[[domains]]" in error.reason


def test_ldap_needs_its_table_and_a_username_placeholder() -> None:
    assert "no [ldap] table" in error_of(GOOD + '\n[authentication]\nbackend = "ldap"\n').reason
    ldap = GOOD + '\n[authentication]\nbackend = "ldap"\n[ldap]\nurl = "ldap://x"\nuser_dn = "uid=x"\n' \
        'groups_base = "dc=x"\n'
    error = error_of(ldap)
    assert error.line == ldap.splitlines().index('user_dn = "uid=x"') + 1 and "{username}" in error.reason


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800),
                                               ("1h30m", 5400), (45, 45)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "1", "1 h", "-5m", "1y", 0, -1, True, "1h 30m"])
def test_bad_durations_are_refused(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# ---- the line index, against documents whose every key's line is known ---------------------------
BARE = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)
KEYS = st.one_of(BARE, BARE.map(lambda k: f'"{k}.q"'), BARE.map(lambda k: f"'{k} x'"))
TRICKY_VALUES = st.sampled_from([
    '1', '"text"', "'lit'", 'true', '[1, 2]', '"a = b"', '"[not.a.table]"', '{ x = 1, y = "z" }',
    '"""\nfake = 1\n[fake.table]\n"""', "'''\nkey = \"v\"\n'''", '[\n  "x = y",\n  "[z]",\n]',
    '"# not a comment"', '1 # comment with key = 2', '"quote \\" inside"',
])


def _unquote(key: str) -> str:
    return key[1:-1] if key[:1] in "\"'" else key


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[tuple, int]]:
    lines: list[str] = []
    expected: dict[tuple, int] = {}

    def emit_keys(path: tuple) -> None:
        used: set[str] = set()
        for key in draw(st.lists(KEYS, max_size=4)):
            name = _unquote(key)
            if name in used:
                continue
            used.add(name)
            expected[(*path, name)] = len(lines) + 1
            lines.extend(f"{key} = {draw(TRICKY_VALUES)}".split("\n"))
            lines.extend([""] * draw(st.integers(0, 1)))

    emit_keys(())
    tables: set[str] = set()
    for name in draw(st.lists(BARE, max_size=3, unique=True)):
        if name in expected or (name,) in expected:
            continue
        if draw(st.booleans()):
            tables.add(name)
            expected[(name,)] = len(lines) + 1
            lines.append(f"[{name}]")
            emit_keys((name,))
        else:
            for i in range(draw(st.integers(1, 3))):
                expected[(name, "rules", i)] = len(lines) + 1
                lines.append(f"[[{name}.rules]]")
                emit_keys((name, "rules", i))
    return "\n".join(lines) + "\n", expected


@given(documents())
def test_the_line_index_finds_every_key_on_the_line_it_is_written(doc: tuple[str, dict[tuple, int]]) -> None:
    text, expected = doc
    tomllib.loads(text)  # the generator writes valid TOML
    index = LineIndex.of(text)
    for path, line in expected.items():
        assert index.lines.get(path) == line, (path, text)


@given(st.text(max_size=300))
def test_the_line_index_of_any_text_is_a_mapping_never_a_crash(text: str) -> None:
    assert isinstance(LineIndex.of(text).lines, dict)


@given(st.text(max_size=400))
def test_any_text_loads_or_is_refused_with_a_gate_config_error(text: str) -> None:
    try:
        load_config(text)
    except GateConfigError as exc:
        assert exc.line is None or 1 <= exc.line <= max(1, len(text.splitlines()) + 1)
