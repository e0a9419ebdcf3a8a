"""The browsers tracker2fa registers its host with on Linux, their per-user manifest folders, and detection.

Per-user native-messaging host folders on Linux (see docs/protocol.md):

==========  ===========================================================  =================
browser     per-user manifest folder                                     family
==========  ===========================================================  =================
chromium    ``$XDG_CONFIG_HOME/chromium/NativeMessagingHosts/``           chromium
chrome      ``$XDG_CONFIG_HOME/google-chrome/NativeMessagingHosts/``      chromium
edge        ``$XDG_CONFIG_HOME/microsoft-edge/NativeMessagingHosts/``     chromium
brave       ``$XDG_CONFIG_HOME/BraveSoftware/Brave-Browser/NativeMessagingHosts/``  chromium
vivaldi     ``$XDG_CONFIG_HOME/vivaldi/NativeMessagingHosts/``            chromium
firefox     ``~/.mozilla/native-messaging-hosts/``                        firefox
==========  ===========================================================  =================

``$XDG_CONFIG_HOME`` defaults to ``~/.config``. A Chromium-family browser started with
``--user-data-dir DIR`` reads ``DIR/NativeMessagingHosts/`` instead of its per-user folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadRequest


@dataclass(frozen=True)
class Browser:
    """One supported browser on Linux."""

    name: str
    family: str  # "chromium" or "firefox": decides the manifest's shape and which extension ids apply
    config_subdir: str  # under $XDG_CONFIG_HOME (Chromium family) or $HOME (Firefox)
    executables: tuple[str, ...]
    flatpak_id: str | None = None

    def user_manifest_dir(self, home: Path | None = None) -> Path:
        """The per-user folder this browser reads host manifests from."""
        home = home or Path.home()
        if self.family == "firefox":
            return home / self.config_subdir / "native-messaging-hosts"
        xdg = os.environ.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
        return base / self.config_subdir / "NativeMessagingHosts"

    def profile_dir(self, home: Path | None = None) -> Path:
        """The browser's own per-user folder: its existence means the browser has been run by this user."""
        return self.user_manifest_dir(home).parent

    def find_executable(self) -> str | None:
        for exe in self.executables:
            found = shutil.which(exe)
            if found:
                return found
        return None


BROWSERS: dict[str, Browser] = {
    b.name: b
    for b in (
        Browser("chromium", "chromium", "chromium", ("chromium", "chromium-browser"), "org.chromium.Chromium"),
        Browser(
            "chrome",
            "chromium",
            "google-chrome",
            ("google-chrome", "google-chrome-stable", "google-chrome-beta", "google-chrome-unstable"),
            "com.google.Chrome",
        ),
        Browser(
            "edge", "chromium", "microsoft-edge", ("microsoft-edge", "microsoft-edge-stable"), "com.microsoft.Edge"
        ),
        Browser("brave", "chromium", "BraveSoftware/Brave-Browser", ("brave-browser", "brave"), "com.brave.Browser"),
        Browser("vivaldi", "chromium", "vivaldi", ("vivaldi", "vivaldi-stable"), "com.vivaldi.Vivaldi"),
        Browser("firefox", "firefox", ".mozilla", ("firefox", "firefox-esr"), "org.mozilla.firefox"),
    )
}


def get_browser(name: str) -> Browser:
    """The browser called ``name``; raises BadRequest listing the supported names."""
    try:
        return BROWSERS[name.lower()]
    except KeyError:
        raise BadRequest(f"unknown browser {name!r}; supported: {', '.join(BROWSERS)}") from None


def installed_browsers(home: Path | None = None) -> list[Browser]:
    """Browsers found on this machine: an executable on PATH, or a profile folder this user already has."""
    return [b for b in BROWSERS.values() if b.find_executable() or b.profile_dir(home).is_dir()]


def sandboxed_variants(browser: Browser, home: Path | None = None) -> list[str]:
    """Human notes about Flatpak/Snap installs of ``browser``, which cannot start a host outside the sandbox."""
    home = home or Path.home()
    notes = []
    if browser.flatpak_id and (home / ".var" / "app" / browser.flatpak_id).is_dir():
        notes.append(
            f"a Flatpak {browser.name} ({browser.flatpak_id}) is present: it reads manifests inside "
            f"~/.var/app/{browser.flatpak_id}/ and cannot start a host outside its sandbox without extra set-up"
        )
    if Path("/snap/bin", browser.executables[0]).exists():
        notes.append(f"a Snap {browser.name} is present: it starts native hosts only through the WebExtensions portal")
    return notes
