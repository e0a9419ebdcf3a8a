"""The test kit for tracker developers (native_host/devtools/kit.py and its pytest plugin).

The example suite in examples/mock_tracker runs here in a pytest process of its own, exactly as a tracker
developer runs theirs: the plugin comes in through its ``pytest11`` entry point (nothing of this repository's
conftest applies there), and Playwright is that process's own, so it cannot collide with this session's
``playwright_instance`` (Playwright's sync API allows one driver per process). Its result is read from a
JUnit report: every example must pass in both browsers, none skipped.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "mock_tracker"


@pytest.mark.browser
@pytest.mark.timeout(900)
def test_the_example_suite_passes_in_chromium_and_firefox_in_a_pytest_run_of_its_own(tmp_path: Path) -> None:
    report = tmp_path / "examples.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", str(EXAMPLES), "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", f"--junitxml={report}", f"--basetemp={tmp_path / 'base'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=850)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    names = {case.get("name") for case in suite.iter("testcase")}
    assert counts == {"tests": 8, "failures": 0, "errors": 0, "skipped": 0}, counts
    assert {n.rsplit("[", 1)[1] for n in names} == {"chromium]", "firefox]"}


def test_the_plugin_is_registered_for_pytest_and_loads_nothing_heavy(tmp_path: Path) -> None:
    # From a folder of its own, as a tracker developer's project (a checkout's build metadata is not in the way).
    probe = ("import sys; from importlib.metadata import entry_points; "
             "[plugin] = [ep for ep in entry_points(group='pytest11') if ep.name == 'tracker2fa']; "
             "import pytest; before = set(sys.modules); plugin.load(); "
             "print(plugin.value, ' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before} & "
             "{'playwright', 'websockets', 'cryptography', 'fido2', 'verifier', 'asyncio'})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert done.stdout.strip() == "native_host.devtools.pytest_plugin"


def test_the_kits_fixtures_are_named_so_they_shadow_nothing_of_a_project(pytestconfig: pytest.Config) -> None:
    import native_host.devtools.pytest_plugin as plugin

    fixtures = [name for name, value in vars(plugin).items() if hasattr(value, "_pytestfixturefunction")
                or type(value).__name__ == "FixtureFunctionDefinition"]
    assert fixtures and all(name.startswith("tracker2fa_") for name in fixtures), fixtures


def test_an_origin_with_a_typo_in_the_kits_accounts_is_refused_with_the_origin_meant(tmp_path: Path) -> None:
    from native_host.devtools.kit import Account, make_vault
    from native_host.errors import InvalidOrigin

    uri = "otpauth://totp/Jira:ann?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Jira"
    with pytest.raises(InvalidOrigin, match=r"did you mean https://jira\.example\.com\?"):
        make_vault(tmp_path / "v.json", [Account(uri, ["https://jira.example,com"])])


@pytest.mark.browser
def test_the_kit_answers_the_consent_window_when_the_virtual_key_does_not_confirm_by_itself(
    playwright_instance: Any, tmp_path: Path
) -> None:
    from native_host.devtools.kit import launch
    from native_host.devtools.mock import run_mock

    with run_mock(tmp_path / "mock") as mock, launch(
        "chromium", virtual_key=True, auto_confirm=False, security_key_origins=[mock.url],
        playwright=playwright_instance, root=tmp_path / "kit",
    ) as browser:
        tab = browser.new_tab(f"{mock.url}/login")
        tab.log_in("alice", mock.passwords["alice"])
        tab.wait_for("body[data-page=second-factor]")
        tab.click("#use-security-key")  # alice has no key: the mock answers 404 before asking the browser
        tab.evaluate("""navigator.credentials.create({publicKey: {rp: {name: "Jibra", id: "localhost"},
            user: {id: new Uint8Array(8), name: "alice", displayName: "Alice"}, challenge: new Uint8Array(32),
            pubKeyCredParams: [{type: "public-key", alg: -7}]}}).then((c) => { window.made = c.type; }) && true""")
        browser.confirm_security_key()  # the consent window, a real click once armed
        assert tab.wait_until("window.made", timeout=30) == "public-key"
