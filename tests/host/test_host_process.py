"""The host process as a browser drives it: argv, caller check, bad frames, limits, EOF, signals."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from native_host.framing import MAX_REQUEST_BYTES

from .conftest import frame

OTHER_CHROMIUM_ID = "a" * 32


def write_config(host_env: dict[str, str], **fields) -> None:
    config = {"version": 1, "chromium_extension_ids": [DEV_EXTENSION_ID], "firefox_extension_ids": [GECKO_EXTENSION_ID]}
    config.update(fields)
    Path(host_env["TRACKER2FA_CONFIG"]).write_text(json.dumps(config))


# --- callers -----------------------------------------------------------------------------------------------


def test_hello_answers_the_chromium_extension(spawn_host):
    host = spawn_host()
    result = host.result("hello")
    assert result["protocol"] == 1
    assert "vault" in result["capabilities"]
    assert result["version"]


def test_hello_answers_the_firefox_add_on(spawn_host, firefox_argv):
    host = spawn_host(firefox_argv)
    assert host.result("hello")["protocol"] == 1


def test_windows_parent_window_argument_is_accepted(spawn_host):
    host = spawn_host([f"chrome-extension://{DEV_EXTENSION_ID}/", "--parent-window=0"])
    assert host.result("hello")["protocol"] == 1


@pytest.mark.parametrize(
    "argv",
    [
        [f"chrome-extension://{OTHER_CHROMIUM_ID}/"],
        ["/tmp/dev.tracker2fa.host.json", "evil@example.com"],
        [],
        ["chrome-extension://not-an-id/"],
        [f"chrome-extension://{DEV_EXTENSION_ID}/", "--something-else"],
    ],
    ids=["other-chromium-id", "other-firefox-id", "no-argv", "malformed-origin", "unexpected-extra-arg"],
)
def test_a_forbidden_caller_is_refused(spawn_host, argv):
    host = spawn_host(argv)
    refusal = host.recv()
    assert refusal["id"] is None
    assert refusal["error"]["code"] == "forbidden_caller"
    assert host.wait() == 1
    assert host.remaining_frames() == []
    assert "refusing to serve" in host.stderr


def test_the_config_decides_which_extensions_are_served(spawn_host, host_env):
    write_config(host_env, chromium_extension_ids=[OTHER_CHROMIUM_ID])
    refused = spawn_host()
    assert refused.recv()["error"]["code"] == "forbidden_caller"
    allowed = spawn_host([f"chrome-extension://{OTHER_CHROMIUM_ID}/"])
    assert allowed.result("hello")["protocol"] == 1


def test_a_broken_config_fails_closed(spawn_host, host_env):
    Path(host_env["TRACKER2FA_CONFIG"]).write_text("{not json")
    host = spawn_host()
    assert host.recv()["error"]["code"] == "forbidden_caller"
    assert host.wait() == 1


# --- bad input ---------------------------------------------------------------------------------------------


def test_invalid_json_gets_bad_frame_with_null_id_and_the_host_carries_on(spawn_host):
    host = spawn_host()
    host.send_raw(frame(b'{"id": 1, "method": '))
    reply = host.recv()
    assert reply["id"] is None
    assert reply["error"]["code"] == "bad_frame"
    assert host.result("hello")["protocol"] == 1


def test_invalid_utf8_gets_bad_frame_with_the_request_id(spawn_host):
    host = spawn_host()
    host.send_raw(frame(b'{"id": "abc", "method": "hello", "params": {"x": "\xc3\x28"}}'))
    reply = host.recv()
    assert reply == {"id": "abc", "error": {"code": "bad_frame", "message": reply["error"]["message"]}}
    assert host.result("hello")["protocol"] == 1


@pytest.mark.parametrize("body", [b"[]", b"null", b'"hello"', b"3"])
def test_a_frame_that_is_not_an_object_gets_bad_frame(spawn_host, body):
    host = spawn_host()
    host.send_raw(frame(body))
    assert host.recv()["error"]["code"] == "bad_frame"
    assert host.result("hello")["protocol"] == 1


def test_an_unknown_method_gets_unknown_method_with_its_id(spawn_host):
    host = spawn_host()
    reply = host.call("vault.explode", {})
    assert reply["error"]["code"] == "unknown_method"


@pytest.mark.parametrize(
    "message",
    [
        {"id": 5, "method": "hello", "params": []},
        {"id": 5, "method": 7},
        {"id": 5},
        {"id": 5, "method": "vault.code", "params": {"id": 12, "origin": "https://jira.example.com"}},
        {"id": 5, "method": "vault.code", "params": {"id": "x"}},
        {"id": 5, "method": "vault.code", "params": {"id": "x", "origin": ["https://a.test"]}},
        {"id": 5, "method": "vault.unlock", "params": {"password": 1234}},
        {"id": 5, "method": "settings.set", "params": {"auto_lock_seconds": "10"}},
        {"id": 5, "method": "settings.set", "params": {"auto_lock_seconds": True}},
        {"id": 5, "method": "settings.set", "params": {"auto_lock_seconds": -1}},
        {"id": 5, "method": "cancel", "params": {"target": [1]}},
    ],
    ids=[
        "params-list",
        "method-int",
        "no-method",
        "id-param-int",
        "origin-missing",
        "origin-list",
        "password-int",
        "seconds-string",
        "seconds-bool",
        "seconds-negative",
        "cancel-target-list",
    ],
)
def test_wrong_parameter_types_get_bad_request_with_the_id(spawn_host, message):
    host = spawn_host()
    host.send(message)
    reply = host.recv()
    assert reply["id"] == 5
    assert reply["error"]["code"] == "bad_request"
    assert reply["error"]["message"]


def test_a_request_id_of_the_wrong_type_is_answered_with_null_id(spawn_host):
    host = spawn_host()
    host.send({"id": {"nested": 1}, "method": "hello"})
    reply = host.recv()
    assert reply["id"] is None
    assert reply["error"]["code"] == "bad_request"


def test_a_request_id_too_long_to_echo_gets_bad_request_with_null_id_and_the_host_carries_on(spawn_host):
    # Every reply echoes the id: a 2 MB id would make even hello's reply too large for the browser.
    host = spawn_host()
    host.send({"id": "x" * 2_000_000, "method": "hello"})
    reply = host.recv()
    assert reply["id"] is None and reply["error"]["code"] == "bad_request"
    assert "256 characters" in reply["error"]["message"]
    assert host.result("hello")["protocol"] == 1


def test_a_bad_frame_with_an_id_too_long_to_echo_gets_bad_frame_with_null_id(spawn_host):
    host = spawn_host()
    not_utf8 = bytes([0xFF, 0xFE])
    host.send_raw(frame(b'{"id": "' + b"x" * 2_000_000 + b'", "method": "hello", "p": "' + not_utf8 + b'"}'))
    reply = host.recv()
    assert reply["id"] is None and reply["error"]["code"] == "bad_frame"
    assert host.result("hello")["protocol"] == 1


def test_a_large_message_under_the_cap_is_answered(spawn_host):
    host = spawn_host()
    host.send({"id": 9, "method": "hello", "params": {"padding": "x" * (MAX_REQUEST_BYTES - 100)}})
    assert host.reply_to(9)["result"]["protocol"] == 1


def test_a_length_over_the_cap_ends_the_host_cleanly_with_a_log_line(spawn_host):
    host = spawn_host()
    host.send_raw(struct.pack("=I", MAX_REQUEST_BYTES + 1) + b"{" * 1000)
    assert host.wait() == 2
    assert host.remaining_frames() == []
    assert host.stdout_garbage == b""
    assert "exceeds" in host.stderr
    assert "Traceback" not in host.stderr


def test_a_huge_declared_length_ends_the_host_cleanly(spawn_host):
    host = spawn_host()
    host.send_raw(b"\xff\xff\xff\xff")
    assert host.wait() == 2
    assert host.stdout_garbage == b""


def test_a_frame_cut_short_by_eof_ends_the_host_cleanly_with_a_log_line(spawn_host):
    host = spawn_host()
    host.send_raw(frame({"id": 1, "method": "hello"})[:10])
    assert host.wait() == 2
    assert host.remaining_frames() == []
    assert "stream ended inside a frame" in host.stderr


def test_eof_exits_cleanly_after_answering_what_was_sent(spawn_host):
    host = spawn_host()
    host.send_raw(frame({"id": 1, "method": "hello"}) + frame({"id": 2, "method": "settings.get"}))
    assert host.wait() == 0
    replies = host.remaining_frames()
    assert [r["id"] for r in replies] == [1, 2]
    assert host.stdout_garbage == b""
    assert "Traceback" not in host.stderr


def test_sigterm_exits_cleanly(spawn_host):
    # Repeated: a SIGTERM landing just before the host blocks in read() once went unnoticed (1 run in 5).
    for _ in range(10):
        host = spawn_host()
        assert host.result("hello")["protocol"] == 1
        host.proc.send_signal(signal.SIGTERM)
        assert host.proc.wait(30) == 0  # stdin still open: only the signal can end it
        host.wait()
        assert host.stdout_garbage == b""
        assert "terminated by the browser" in host.stderr


def test_cancel_of_an_unknown_request_reports_nothing_cancelled(spawn_host):
    host = spawn_host()
    assert host.result("cancel", {"target": 12345}) == {"cancelled": False}


def test_settings_set_persists_the_auto_lock_time_in_the_config(spawn_host, host_env):
    host = spawn_host()
    assert host.result("settings.set", {"auto_lock_seconds": 120}) == {"auto_lock_seconds": 120}
    assert host.result("settings.get") == {"auto_lock_seconds": 120}
    saved = json.loads(Path(host_env["TRACKER2FA_CONFIG"]).read_text())
    assert saved["auto_lock_seconds"] == 120
    assert saved["chromium_extension_ids"] == [DEV_EXTENSION_ID]


def test_stray_prints_go_to_stderr_not_to_the_protocol_channel(tmp_path):
    # protect_stdout() is the first thing main() does; after it, print() and C-level writes to fd 1
    # must land on stderr while frames written to the returned fd still reach the real stdout.
    script = (
        "import os, sys\n"
        "from native_host.host import protect_stdout\n"
        "fd = protect_stdout()\n"
        "print('stray print')\n"
        "os.write(1, b'stray fd write\\n')\n"
        "os.write(fd, b'FRAME')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, cwd=os.getcwd())
    assert proc.stdout == b"FRAME"
    assert b"stray print" in proc.stderr
    assert b"stray fd write" in proc.stderr


def test_the_hello_path_imports_no_heavy_library(host_env):
    # Cold start is a budget: hello must not pay for fido2, asyncio, websockets, cryptography or argparse.
    script = (
        "import sys, threading\n"
        "import native_host.host\n"
        "from native_host.api import Session\n"
        "from native_host.config import load_config\n"
        "Session(load_config(), lambda event: None).call('hello', {}, threading.Event())\n"
        "heavy = ('fido2', 'asyncio', 'websockets', 'cryptography', 'argparse', 'pyotp', 'platformdirs')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {k: v for k, v in host_env.items() if k != "TRACKER2FA_CONFIG"}  # the default config path, too
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=64).map(frame),  # well-framed garbage
            st.binary(max_size=16),  # raw garbage that breaks the framing
            st.sampled_from([frame({"id": 1, "method": "hello"}), frame({"id": 2, "method": "vault.status"})]),
        ),
        max_size=6,
    )
)
def test_random_streams_never_crash_the_real_host(spawn_host, stream):
    host = spawn_host()
    host.send_raw(b"".join(stream))
    status = host.wait()
    assert status in (0, 2)
    host.remaining_frames()  # every byte on stdout parsed as a frame of JSON
    assert host.stdout_garbage == b""
    assert "Traceback" not in host.stderr
