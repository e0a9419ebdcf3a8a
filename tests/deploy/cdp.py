"""A minimal Chrome DevTools Protocol client over the browser's own debugging port.

Playwright does not attach to pages of extensions that a policy installed (it sees them as about:blank),
so the policy test talks CDP itself: start Chromium with ``--remote-debugging-port=0``, read the port from
``DevToolsActivePort``, attach to a target (flattened session) and evaluate there.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any


class Chromium:
    def __init__(self, executable: str, user_data_dir: Path, args: list[str], env: dict[str, str]) -> None:
        from websockets.sync.client import connect

        user_data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--remote-debugging-port=0",
                f"--user-data-dir={user_data_dir}",
                *args,
                "about:blank",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = user_data_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its debugging port")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        # Entered as a context manager (newer websockets warn otherwise); closed in close().
        self.ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None).__enter__()
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def targets(self) -> list[dict[str, Any]]:
        return self.call("Target.getTargets")["targetInfos"]

    def open_page(self, url: str) -> str:
        """Open ``url`` in a new tab and return a CDP session attached to it."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        return self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        with suppress(Exception):
            self.call("Browser.close")
        with suppress(Exception):
            self.ws.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
