"""How the doctor sees the host as a browser does: the browser's environment, the vault it implies, and a
loopback exchange with the host started with the browser's argv, working folder and environment."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from .browsers import Browser

# Process names (/proc/PID/exe) of each browser on Linux, to read the environment its host inherits.
PROCESS_NAMES = {
    "chromium": ("chromium", "chromium-browser"),
    "chrome": ("chrome",),
    "chrome-beta": ("chrome",),
    "chrome-dev": ("chrome",),
    "edge": ("msedge",),
    "brave": ("brave",),
    "vivaldi": ("vivaldi-bin",),
    "firefox": ("firefox", "firefox-esr", "firefox-bin"),
}


def browser_environment(
    browser: Browser, pid: int | None = None, home: str | None = None
) -> tuple[dict[str, str] | None, str]:
    """The environment a host started by ``browser`` inherits, and where it was read from.

    ``pid`` names the browser process; otherwise a running ``browser`` of this user whose HOME is ``home``
    (Linux /proc), else the desktop session's environment (systemd --user) if its HOME is ``home``; None
    when none can be read. Browsers with another HOME (a test profile, a container) are someone else's.
    """
    home = home or os.environ.get("HOME", "")
    proc = Path("/proc")
    candidates: list[int] = [pid] if pid is not None else []
    if pid is None and proc.is_dir():
        names = PROCESS_NAMES.get(browser.name, ())
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != os.getuid():
                    continue
                if os.path.basename(os.readlink(entry / "exe")) in names:
                    candidates.append(int(entry.name))
            except OSError:
                continue
    for candidate in sorted(candidates):
        try:
            raw = (proc / str(candidate) / "environ").read_bytes()
        except OSError:
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if pid is not None or env.get("HOME") == home:
            return env, f"the running {browser.name} (pid {candidate})"
    try:
        done = subprocess.run(
            ["systemctl", "--user", "show-environment"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, "unknown"
    if done.returncode == 0 and done.stdout.strip():
        env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        if env.get("HOME") == home:
            return env, "the desktop session (systemctl --user show-environment)"
    return None, "unknown"


def vault_path_for(env: Mapping[str, str], os_name: str = "linux") -> str:
    """The vault a host with environment ``env`` opens (what ``default_vault_path`` answers on ``os_name``)."""
    value = env.get("TRACKER2FA_VAULT")
    home = env.get("HOME") or env.get("USERPROFILE") or str(Path.home())
    if value:
        return home + value[1:] if value.startswith("~/") else value
    if os_name == "windows":  # platformdirs: %LOCALAPPDATA%\tracker2fa
        base = env.get("LOCALAPPDATA") or f"{home}\\AppData\\Local"
        return f"{base}\\tracker2fa\\vault.json"
    if os_name == "macos":
        return os.path.join(home, "Library", "Application Support", "tracker2fa", "vault.json")
    xdg = env.get("XDG_DATA_HOME", "")
    base = xdg if xdg.startswith("/") else os.path.join(home, ".local", "share")
    return os.path.join(base, "tracker2fa", "vault.json")


def probe_host(
    host: Path,
    argv_tail: list[str],
    env: Mapping[str, str],
    timeout: float = 20.0,
) -> tuple[dict[str, Any] | None, str | None]:
    """Start the host as the browser would (argv, cwd, environment) and ask ``hello`` then ``vault.status``.

    Returns (the ``vault.status`` result, None) or (None, what went wrong). Frames go through the project's
    own codec, so this checks exactly what a browser would see.
    """
    from ..framing import FrameDecoder, FramingError, encode_message

    request = encode_message({"id": 1, "method": "hello", "params": {}}) + encode_message(
        {"id": 2, "method": "vault.status", "params": {}}
    )
    try:
        proc = subprocess.run(
            [str(host), *argv_tail],
            input=request,
            capture_output=True,
            timeout=timeout,
            cwd=str(host.parent),
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the host did not start or answer: {exc}"
    decoder = FrameDecoder()
    try:
        replies = decoder.feed(proc.stdout)
        decoder.feed_eof()
    except FramingError as exc:
        return None, f"the host's output is not native-messaging frames ({exc}): something else writes to stdout"
    stderr_tail = proc.stderr.decode(errors="replace").strip()[-300:]
    by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
    if len(replies) != len(by_id) or any(not isinstance(r, dict) for r in replies):
        return None, "the host wrote something that is not a JSON object to stdout"
    hello = by_id.get(1)
    if hello is None:
        return None, f"the host gave no reply (exit status {proc.returncode}): {stderr_tail}"
    if "result" not in hello:
        return None, f"the host refused hello: {hello.get('error', {}).get('message', hello)}"
    status = by_id.get(2, {})
    return status.get("result", {}), None


def probe_argv(family: str, manifest_path: Path, chromium_ids: list[str], firefox_ids: list[str]) -> list[str]:
    """What the browser passes after the host path: its origin (Chromium), or manifest path and add-on id."""
    if family == "firefox":
        return [str(manifest_path), (firefox_ids or [GECKO_EXTENSION_ID])[0]]
    return [f"chrome-extension://{(chromium_ids or [DEV_EXTENSION_ID])[0]}/"]
