"""The browsers tracker2fa supports, where each reads native-messaging host manifests, and detection.

The facts come from ``reference/browsers.md`` (the browsers' own documentation); the full table, per OS
and per scope, is in docs/admin-guide.md and is checked by tests/deploy/test_layouts.py.

On Windows a browser finds the manifest through a registry key whose default value is the manifest's path
(``HKCU`` per user, ``HKLM`` for the machine); Brave and Vivaldi also read Chrome's key, and Edge reads its
own key before Chromium's and Chrome's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest


@dataclass(frozen=True)
class Browser:
    """One supported browser and its locations on the three OSes."""

    name: str
    family: str  # "chromium" or "firefox": decides the manifest's shape and which extension ids apply
    display: str
    linux_user: str  # under $XDG_CONFIG_HOME (Chromium family) or $HOME (Firefox): the profile folder
    linux_system: tuple[str, ...]  # manifest folders for every user of the machine
    macos_user: str  # under ~/Library/Application Support: the profile folder
    macos_system: tuple[str, ...]
    windows_keys: tuple[str, ...]  # registry parents of NativeMessagingHosts, under HKCU/HKLM
    executables: tuple[str, ...]  # Linux commands
    macos_app: str
    flatpak_id: str | None = None
    snap_name: str | None = None

    def user_manifest_dir(self, home: Path | None = None) -> Path:
        """The per-user folder this browser reads host manifests from on Linux (this machine)."""
        home = home or Path.home()
        if self.family == "firefox":
            return home / self.linux_user / "native-messaging-hosts"
        xdg = os.environ.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
        return base / self.linux_user / "NativeMessagingHosts"

    def profile_dir(self, home: Path | None = None) -> Path:
        """The browser's own per-user folder: its existence means the browser has been run by this user."""
        return self.user_manifest_dir(home).parent

    def find_executable(self) -> str | None:
        for exe in self.executables:
            found = shutil.which(exe)
            if found:
                return found
        return None


_CHROME_LINUX_SYSTEM = "/etc/opt/chrome/native-messaging-hosts"
_CHROME_MACOS_SYSTEM = "/Library/Google/Chrome/NativeMessagingHosts"
_CHROME_KEY = "SOFTWARE\\Google\\Chrome"


def _chrome(name: str, display: str, linux: str, macos: str, exe: str, app: str, flatpak: str | None) -> Browser:
    # Every Chrome channel shares the system folders and the registry key; only the profile folder differs.
    return Browser(
        name,
        "chromium",
        display,
        linux,
        (_CHROME_LINUX_SYSTEM,),
        macos,
        (_CHROME_MACOS_SYSTEM,),
        (_CHROME_KEY,),
        (exe,),
        app,
        flatpak,
    )


BROWSERS: dict[str, Browser] = {
    b.name: b
    for b in (
        Browser(
            "chromium",
            "chromium",
            "Chromium",
            "chromium",
            ("/etc/chromium/native-messaging-hosts",),
            "Chromium",
            ("/Library/Application Support/Chromium/NativeMessagingHosts",),
            ("SOFTWARE\\Chromium",),
            ("chromium", "chromium-browser"),
            "Chromium.app",
            "org.chromium.Chromium",
            "chromium",
        ),
        _chrome(
            "chrome",
            "Google Chrome",
            "google-chrome",
            "Google/Chrome",
            "google-chrome",
            "Google Chrome.app",
            "com.google.Chrome",
        ),
        _chrome(
            "chrome-beta",
            "Google Chrome Beta",
            "google-chrome-beta",
            "Google/Chrome Beta",
            "google-chrome-beta",
            "Google Chrome Beta.app",
            None,
        ),
        _chrome(
            "chrome-dev",
            "Google Chrome Dev",
            "google-chrome-unstable",
            "Google/Chrome Dev",
            "google-chrome-unstable",
            "Google Chrome Dev.app",
            "com.google.ChromeDev",
        ),
        Browser(
            "edge",
            "chromium",
            "Microsoft Edge",
            "microsoft-edge",
            ("/etc/opt/edge/native-messaging-hosts",),
            "Microsoft Edge",
            ("/Library/Microsoft/Edge/NativeMessagingHosts",),
            ("SOFTWARE\\Microsoft\\Edge",),
            ("microsoft-edge", "microsoft-edge-stable"),
            "Microsoft Edge.app",
            "com.microsoft.Edge",
        ),
        Browser(
            "brave",
            "chromium",
            "Brave",
            "BraveSoftware/Brave-Browser",
            # Brave documents no system folder of its own: the one its packagers use, and Chrome's.
            ("/etc/opt/brave/native-messaging-hosts", _CHROME_LINUX_SYSTEM),
            "BraveSoftware/Brave-Browser",
            (_CHROME_MACOS_SYSTEM,),
            ("SOFTWARE\\BraveSoftware\\Brave-Browser", _CHROME_KEY),
            ("brave-browser", "brave"),
            "Brave Browser.app",
            "com.brave.Browser",
            "brave",
        ),
        Browser(
            "vivaldi",
            "chromium",
            "Vivaldi",
            "vivaldi",
            ("/etc/opt/vivaldi/native-messaging-hosts",),
            "Vivaldi",
            (_CHROME_MACOS_SYSTEM,),
            (_CHROME_KEY,),
            ("vivaldi", "vivaldi-stable"),
            "Vivaldi.app",
            "com.vivaldi.Vivaldi",
        ),
        Browser(
            "firefox",
            "firefox",
            "Firefox",
            ".mozilla",
            ("/usr/lib/mozilla/native-messaging-hosts", "/usr/lib64/mozilla/native-messaging-hosts"),
            "Mozilla",
            ("/Library/Application Support/Mozilla/NativeMessagingHosts",),
            ("SOFTWARE\\Mozilla",),
            ("firefox", "firefox-esr"),
            "Firefox.app",
            "org.mozilla.firefox",
            "firefox",
        ),
    )
}


def get_browser(name: str) -> Browser:
    """The browser called ``name``; raises BadRequest listing the supported names."""
    try:
        return BROWSERS[name.lower()]
    except KeyError:
        raise BadRequest(f"unknown browser {name!r}; supported: {', '.join(BROWSERS)}") from None


def installed_browsers(home: Path | None = None) -> list[Browser]:
    """Browsers found on this Linux machine: an executable on PATH, or a profile folder this user already has."""
    return [b for b in BROWSERS.values() if b.find_executable() or b.profile_dir(home).is_dir()]


def sandbox_advice(browser: Browser, home: Path | None = None, snap_bin: Path = Path("/snap/bin")) -> list[str]:
    """What a user must know about a Flatpak or Snap install of ``browser`` (empty when there is none).

    Sandboxed browsers neither read the manifest folders above nor may start a program outside the sandbox.
    """
    home = home or Path.home()
    notes = []
    if browser.flatpak_id and (home / ".var" / "app" / browser.flatpak_id).is_dir():
        sub = ".mozilla/native-messaging-hosts" if browser.family == "firefox" else "config/…/NativeMessagingHosts"
        notes.append(
            f"a Flatpak {browser.display} ({browser.flatpak_id}) is present: it reads manifests only inside "
            f"~/.var/app/{browser.flatpak_id}/{sub} and cannot start a host outside its sandbox. Use the "
            f"distribution's package of {browser.display} instead, or allow it with `flatpak override --user "
            f"--talk-name=org.freedesktop.Flatpak {browser.flatpak_id}` and a manifest whose path is a "
            "wrapper running `flatpak-spawn --host <tracker2fa-host>`"
        )
    if browser.snap_name and (snap_bin / browser.snap_name).exists():
        if browser.family == "firefox":
            notes.append(
                "a Snap Firefox is present: it starts native hosts only through the WebExtensions portal "
                "(xdg-desktop-portal 1.17 or later with the webextensions portal enabled); the host manifest "
                "must be in a system folder (`tracker2fa install --system`). Otherwise use the .deb Firefox"
            )
        else:
            notes.append(
                f"a Snap {browser.display} is present: its confinement does not let it start native hosts; "
                f"install {browser.display} from a .deb or another package to use tracker2fa"
            )
    return notes
