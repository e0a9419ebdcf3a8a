"""Start real browsers on throwaway profiles with the tracker2fa extension loaded.

Shared by ``tracker2fa try`` and the end-to-end tests so both exercise the same set-up:

- Chromium through Playwright (``/usr/bin/chromium``, a persistent context, ``--load-extension``); the
  host manifest goes into ``<user-data-dir>/NativeMessagingHosts/``.
- Firefox ESR through WebDriver BiDi over ``websockets`` (no geckodriver needed): ``--remote-debugging-port=0``,
  ``webExtension.install`` with a path; the host manifest goes into ``$HOME/.mozilla/native-messaging-hosts/``.

``HOME`` always points into the throwaway directory, so nothing touches the user's real profiles.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import DEV_EXTENSION_ID, GECKO_EXTENSION_ID

EXTENSION_DIR = Path(__file__).resolve().parents[2] / "extension"
CHROMIUM_PATH = os.environ.get("TRACKER2FA_CHROMIUM", "/usr/bin/chromium")
FIREFOX_PATH = os.environ.get("TRACKER2FA_FIREFOX", shutil.which("firefox-esr") or "/usr/bin/firefox-esr")
# A fixed internal UUID for the add-on, so moz-extension:// URLs (the popup) are predictable.
FIREFOX_EXTENSION_UUID = "5b0f6d2c-7e1a-4c55-9d0e-2f6a1c3b7d11"

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
)


class BrowserError(RuntimeError):
    """A browser could not be started or driven."""


def chromium_extension_url(path: str = "") -> str:
    """``chrome-extension://<dev id>/<path>``."""
    return f"chrome-extension://{DEV_EXTENSION_ID}/{path}"


def firefox_extension_url(path: str = "") -> str:
    """``moz-extension://<fixed uuid>/<path>`` (the uuid is pinned by :func:`prepare_firefox_profile`)."""
    return f"moz-extension://{FIREFOX_EXTENSION_UUID}/{path}"


def virtual_key_extra(vkey: Path, *, auto_confirm: bool = False) -> dict[str, str]:
    """The variables that give the host the developer's virtual key (``vkey``: its file, created on first use),
    confirming requests by itself without the consent window when ``auto_confirm`` (docs/security-keys.md)."""
    extra = {"TRACKER2FA_VIRTUAL_KEY": str(vkey)}
    if auto_confirm:
        extra["TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM"] = "1"
    return extra


def has_display(env: dict[str, str] | None = None) -> bool:
    """Whether a browser window can be shown: always on macOS and Windows; on Linux, an X or Wayland display."""
    if sys.platform in ("darwin", "win32"):
        return True
    env = os.environ if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def profile_env(home: Path, *, vault: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a browser (and so for the host it starts): HOME in the throwaway dir, the vault path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "TRACKER2FA_"))}
    env["HOME"] = str(home)
    env["TRACKER2FA_CONFIG"] = str(home / ".config" / "tracker2fa" / "host.json")
    if vault is not None:
        env["TRACKER2FA_VAULT"] = str(vault)
    env.update(extra or {})
    return env


def host_executable() -> str:
    """The ``tracker2fa-host`` next to this Python (the venv's console script)."""
    candidate = Path(sys.executable).with_name("tracker2fa-host")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("tracker2fa-host")
    if not found:
        raise BrowserError("tracker2fa-host is not installed; run `pip install -e .` first")
    return found


def register_host(browser: str, env: dict[str, str], *, user_data_dir: Path | None = None) -> None:
    """Register the real host for ``browser`` in the throwaway profile with ``tracker2fa install``."""
    cmd = [sys.executable, "-m", "native_host", "install", "--browser", browser, "--host-path", host_executable()]
    if user_data_dir is not None:
        cmd += ["--user-data-dir", str(user_data_dir)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise BrowserError(f"tracker2fa install failed ({done.returncode}): {done.stderr.strip()}")


def write_host_manifest(
    directory: Path, name: str, path: str, *, chromium_ids: tuple[str, ...] = (), firefox_ids: tuple[str, ...] = ()
) -> Path:
    """Write a native-messaging host manifest by hand (for trivial hosts in benchmarks and tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "name": name,
        "description": f"{name} (tracker2fa dev tools)",
        "path": path,
        "type": "stdio",
    }
    if chromium_ids:
        manifest["allowed_origins"] = [f"chrome-extension://{i}/" for i in chromium_ids]
    if firefox_ids:
        manifest["allowed_extensions"] = list(firefox_ids)
    target = directory / f"{name}.json"
    target.write_text(json.dumps(manifest, indent=2))
    return target


def chromium_host_dir(user_data_dir: Path) -> Path:
    return user_data_dir / "NativeMessagingHosts"


def firefox_host_dir(home: Path) -> Path:
    return home / ".mozilla" / "native-messaging-hosts"


def launch_chromium(
    playwright: Any,
    user_data_dir: Path,
    env: dict[str, str],
    *,
    headless: bool = True,
    extension_dir: Path = EXTENSION_DIR,
    extra_args: tuple[str, ...] = (),
) -> Any:
    """A Playwright persistent context on ``user_data_dir`` with the extension loaded (returns the context)."""
    args = [*CHROMIUM_ARGS, f"--disable-extensions-except={extension_dir}", f"--load-extension={extension_dir}"]
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM_PATH,
        headless=headless,
        args=[*args, *extra_args],
        env=env,
        viewport={"width": 1100, "height": 800},
    )


def chromium_service_worker(context: Any, timeout_ms: float = 15000) -> Any:
    """The extension's service worker (waits for it to start)."""
    for worker in context.service_workers:
        if DEV_EXTENSION_ID in worker.url:
            return worker
    return context.wait_for_event(
        "serviceworker", predicate=lambda w: DEV_EXTENSION_ID in w.url, timeout=timeout_ms
    )


def chromium_enable_security_keys(worker: Any, origins: list[str]) -> None:
    """Add ``origins`` to the user's "Security keys on these trackers" (Options) from the service worker, and
    wait until the bridge's scripts are registered for them (a page loaded afterwards has the bridge)."""
    worker.evaluate(
        """async (origins) => {
             const settings = (await chrome.storage.local.get("settings")).settings ?? {};
             settings.securityKeyOrigins = [...new Set([...(settings.securityKeyOrigins ?? []), ...origins])];
             await chrome.storage.local.set({ settings });
             await globalThis.tracker2fa.syncFidoScripts();
           }""",
        list(origins),
    )


def firefox_managed_storage(home: Path, settings: dict[str, Any]) -> Path:
    """Write the extension's managed settings (as an admin's policy would) into Firefox's per-user managed
    storage under ``home``: the one way to set them before Firefox starts, since WebDriver BiDi cannot reach
    the extension's background page. Firefox reads it at start; the options page shows them as the admin's."""
    folder = home / ".mozilla" / "managed-storage"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{GECKO_EXTENSION_ID}.json"
    manifest = {"name": GECKO_EXTENSION_ID, "description": "tracker2fa dev tools", "type": "storage", "data": settings}
    target.write_text(json.dumps(manifest))
    return target


def host_pids_for_home(home: Path) -> list[int]:
    """Pids of tracker2fa-host processes started by a browser running with this HOME (Linux /proc)."""
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"tracker2fa-host" not in cmdline:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"HOME={home}".encode() in environ:
            pids.append(int(entry.name))
    return pids


def kill_pid(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_hosts(home: Path) -> None:
    """Stop the hosts a closed browser with this HOME left behind (a browser normally ends them itself)."""
    for pid in host_pids_for_home(home):
        kill_pid(pid)


# ---- Firefox over WebDriver BiDi ---------------------------------------------------------------------


def prepare_firefox_profile(profile: Path) -> None:
    """Write prefs for a quiet throwaway profile with a fixed internal UUID for the add-on."""
    profile.mkdir(parents=True, exist_ok=True)
    prefs = {
        "extensions.webextensions.uuids": json.dumps({GECKO_EXTENSION_ID: FIREFOX_EXTENSION_UUID}),
        "browser.shell.checkDefaultBrowser": False,
        "browser.startup.homepage_override.mstone": "ignore",
        "browser.aboutwelcome.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "app.update.disabledForTesting": True,
        "extensions.autoDisableScopes": 0,
        "network.captive-portal-service.enabled": False,
        "browser.safebrowsing.update.enabled": False,
        "browser.safebrowsing.provider.mozilla.updateURL": "",
        "network.connectivity-service.enabled": False,
        "extensions.getAddons.cache.enabled": False,
        "browser.tabs.remote.autostart": True,
    }
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


@dataclass
class FirefoxBidi:
    """A running Firefox and one BiDi session. Use :meth:`start`, then :meth:`call`; :meth:`close` at the end."""

    process: subprocess.Popen[bytes]
    ws: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, profile: Path, env: dict[str, str], *, headless: bool = True, timeout: float = 60) -> FirefoxBidi:
        """Start Firefox on ``profile``, wait for its BiDi endpoint and open a session."""
        from websockets.sync.client import connect  # only Firefox needs it: Chromium runs without websockets

        prepare_firefox_profile(profile)
        cmd = [FIREFOX_PATH, "--remote-debugging-port=0", "--profile", str(profile), "--no-remote"]
        if headless:
            cmd.insert(1, "--headless")
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = _read_bidi_url(process, timeout)
        # Entered as a context manager (newer websockets warn otherwise); closed in close().
        ws = connect(f"{url}/session", max_size=None, open_timeout=timeout).__enter__()
        bidi = cls(process, ws)
        bidi.call("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        return bidi

    def call(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 60) -> dict[str, Any]:
        """Send one BiDi command and return its result (raises BrowserError on a BiDi error)."""
        with self._lock:
            ident = self._next_id
            self._next_id += 1
            self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
            while True:
                message = json.loads(self.ws.recv(timeout=timeout))
                if message.get("id") == ident:
                    if message.get("type") == "error":
                        raise BrowserError(f"{method}: {message.get('error')}: {message.get('message')}")
                    return message.get("result", {})
                if message.get("type") == "event":
                    self.events.append(message)

    def install_extension(self, path: Path = EXTENSION_DIR) -> str:
        """Install the unpacked extension temporarily; returns the add-on id."""
        result = self.call("webExtension.install", {"extensionData": {"type": "path", "path": str(path)}})
        return str(result.get("extension"))

    def new_tab(self) -> str:
        return str(self.call("browsingContext.create", {"type": "tab"})["context"])

    def navigate(self, context: str, url: str) -> None:
        self.call("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})

    def evaluate(self, context: str, expression: str, *, await_promise: bool = True) -> Any:
        """Evaluate ``expression`` in the page's main world and return its value (JSON-serialized via the page)."""
        result = self.call(
            "script.evaluate",
            {
                "expression": f"(async () => JSON.stringify(await ({expression})))()",
                "target": {"context": context},
                "awaitPromise": await_promise,
            },
        )
        if result.get("type") == "exception":
            raise BrowserError(f"script failed: {result.get('exceptionDetails', {}).get('text')}")
        value = result.get("result", {}).get("value")
        return json.loads(value) if isinstance(value, str) else None

    def click(self, context: str, x: float, y: float) -> None:
        """A trusted mouse click at viewport coordinates."""
        self.call(
            "input.performActions",
            {
                "context": context,
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [
                            {"type": "pointerMove", "x": int(x), "y": int(y), "origin": "viewport"},
                            {"type": "pointerDown", "button": 0},
                            {"type": "pointerUp", "button": 0},
                        ],
                    }
                ],
            },
        )
        self.call("input.releaseActions", {"context": context})

    def type_text(self, context: str, text: str) -> None:
        """Trusted key presses (use "\\ue007" for Enter)."""
        actions: list[dict[str, str]] = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        keys = {"type": "key", "id": "kbd", "actions": actions}
        self.call("input.performActions", {"context": context, "actions": [keys]})

    def close(self) -> None:
        # The browser may already be gone; all we want is for it to be stopped.
        with suppress(Exception):
            self.call("browser.close", timeout=10)
        with suppress(Exception):
            self.ws.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _read_bidi_url(process: subprocess.Popen[bytes], timeout: float) -> str:
    """Read Firefox's stderr until the ``WebDriver BiDi listening on ws://…`` line (then keep draining it)."""
    assert process.stderr is not None
    found: list[str] = []
    ready = threading.Event()
    pattern = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")

    seen: list[bytes] = []  # what Firefox said before the endpoint (or instead of it), for the error

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if not ready.is_set():
                seen.append(line)
                match = pattern.search(line)
                if match:
                    found.append(match.group(1).decode())
                    ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True, name="firefox-stderr").start()
    if not ready.wait(timeout) or not found:
        process.kill()
        said = [line.decode(errors="replace").strip() for line in seen if line.strip()]
        why = f": it said {said[-1]!r}" if said else ""
        raise BrowserError(f"Firefox did not start{why}")
    return found[0]


@contextmanager
def throwaway_dir(prefix: str = "tracker2fa-try-") -> Iterator[Path]:
    """A temporary directory removed afterwards (profiles, HOME)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_uuid() -> str:
    return str(uuid.uuid4())
