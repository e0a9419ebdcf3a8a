"""``tracker2fa mock`` as a real process for the extension's end-to-end tests: started on a free port with its
own database and HOME, read until it prints its URL, alice's otpauth URI and backup codes. The runner itself is
``native_host.devtools.mock``, shared with the test kit for tracker developers (one copy, not two)."""

from __future__ import annotations

from native_host.devtools.mock import MockTracker
from native_host.devtools.mock import run_mock as running_mock

__all__ = ["MockTracker", "running_mock"]
