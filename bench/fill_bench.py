"""Click-to-filled latency of the extension in headless Chromium, against a bare native-messaging round trip.

Measured in one run on this machine:
  baseline  - chrome.runtime.sendNativeMessage to a trivial Python host (a new process per message, as
              Chromium does it), timed in the service worker;
  port      - one request/reply on an open connectNative port to the same trivial host (for scale);
  warm      - trusted click on the inline control -> the code in the input, host connected and unlocked
              (timed in the page: pointerdown to the input event);
  fresh     - the same, on the first fill after the host process was restarted and unlocked;
  cold      - click -> the inline control's answer when no host is running (the click spawns the host,
              which starts locked and says so: the whole cold path up to the point a password is needed).
  appear    - the field painted -> the inline control in the page (issue 12 item 8, aim 300 ms once the
              service worker runs): "first page" is the first page of a freshly started browser (a new
              profile each round, timed once its service worker runs), "next page" a page opened later.
Each row is a median over N rounds and a ratio to the baseline median (the appear rows to the next-page
median as well). Fills of one site within a 30 s step are refused by the host as "just used"
(native_host/fill_memory.py), so the timed fills lock and unlock the vault in between (untimed).

Usage: .venv/bin/python bench/fill_bench.py [--rounds N] [--cold-rounds N]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import statistics
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # when not installed

from native_host import DEV_EXTENSION_ID
from native_host.devtools import browsers

PASSWORD = "bench password"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ECHO_HOST = "dev.tracker2fa.bench_echo"
PAGE = b"""<!doctype html><title>bench</title><form><label for=otp>Verification code</label>
<input id=otp name=otp autocomplete=one-time-code></form>
<script>
  const field = document.getElementById("otp");
  // When the field is first painted, and when the extension's control first appears.
  requestAnimationFrame(() => { window.fieldPainted = performance.now(); });
  new MutationObserver(() => {
    if (!window.controlAt && document.querySelector("[data-tracker2fa-fill]")) window.controlAt = performance.now();
  }).observe(document.documentElement, { childList: true, subtree: true });
  window.t0 = 0; window.samples = [];
  addEventListener("pointerdown", () => { window.t0 = performance.now(); }, true);
  field.addEventListener("input", () => {
    if (window.t0) window.samples.push(performance.now() - window.t0);
    window.t0 = 0;
  });
</script>"""


def echo_host(directory: Path) -> Path:
    """A trivial native host: reads frames, answers each with {"id", "result": {}}."""
    script = directory / "echo_host.py"
    script.write_text(
        f"#!{sys.executable} -S\n"
        + textwrap.dedent(
            """
            import json, struct, sys
            inp, out = sys.stdin.buffer, sys.stdout.buffer
            while True:
                head = inp.read(4)
                if len(head) < 4:
                    break
                msg = json.loads(inp.read(struct.unpack("=I", head)[0]))
                body = json.dumps({"id": msg.get("id"), "result": {}}).encode()
                out.write(struct.pack("=I", len(body)) + body)
                out.flush()
            """
        )
    )
    script.chmod(0o755)
    return script


def serve_page() -> tuple[http.server.ThreadingHTTPServer, int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


def host_pids(home: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"tracker2fa-host" in (entry / "cmdline").read_bytes() and f"HOME={home}".encode() in (
                    entry / "environ"
                ).read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def control_appeared(page: object) -> float:
    """Milliseconds from the field's first paint to the inline control's insertion, in the page's clock."""
    page.wait_for_function("window.controlAt && window.fieldPainted", timeout=30000)  # type: ignore[attr-defined]
    return float(page.evaluate("window.controlAt - window.fieldPainted"))  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cold-rounds", type=int, default=5, help="browser starts for the first-page row")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    with tempfile.TemporaryDirectory(prefix="fill-bench-") as tmp:
        root = Path(tmp)
        home, profile = root / "home", root / "profile"
        home.mkdir()
        profile.mkdir()
        vault = root / "vault.json"
        httpd, port = serve_page()
        origin = f"http://127.0.0.1:{port}"
        unlocked = VaultFile(vault).create(PASSWORD, kdf_cost="minimum")
        unlocked.add(Entry(secret=SECRET, issuer="Bench", account="b", origins=[origin]))
        unlocked.lock()
        env = browsers.profile_env(home, vault=vault)
        browsers.register_host("chromium", env, user_data_dir=profile)
        browsers.write_host_manifest(
            browsers.chromium_host_dir(profile), ECHO_HOST, str(echo_host(root)), chromium_ids=(DEV_EXTENSION_ID,)
        )
        rows: dict[str, list[float]] = {}
        with sync_playwright() as p:
            context = browsers.launch_chromium(p, profile, env)
            worker = browsers.chromium_service_worker(context)
            rows["baseline: sendNativeMessage, trivial host"] = worker.evaluate(
                """async ([name, n]) => { const out = [];
                   for (let i = 0; i < n; i++) { const t = performance.now();
                     await chrome.runtime.sendNativeMessage(name, {id: i, method: "ping"});
                     out.push(performance.now() - t); }
                   return out; }""",
                [ECHO_HOST, args.rounds],
            )
            rows["port round trip, trivial host"] = worker.evaluate(
                """async ([name, n]) => { const port = chrome.runtime.connectNative(name); const out = [];
                   for (let i = 0; i < n + 1; i++) { const t = performance.now();
                     await new Promise((r) => { const f = () => { port.onMessage.removeListener(f); r(); };
                       port.onMessage.addListener(f); port.postMessage({id: i}); });
                     if (i > 0) out.push(performance.now() - t); }
                   port.disconnect(); return out; }""",
                [ECHO_HOST, args.rounds],
            )
            unlock = f"globalThis.tracker2fa.host.request('vault.unlock', {{password: {json.dumps(PASSWORD)}}})"
            worker.evaluate(unlock)
            page = context.new_page()
            page.goto(f"{origin}/")
            control = page.locator("[data-tracker2fa-fill]")
            control.wait_for()

            def click_fill() -> None:
                # A new session (the host forgets which steps it gave), so the click fills at once.
                worker.evaluate("globalThis.tracker2fa.host.request('vault.lock', {})")
                worker.evaluate(unlock)
                page.evaluate("document.getElementById('otp').value = ''")
                control.click()
                page.wait_for_function("document.getElementById('otp').value !== ''")

            click_fill()  # first fill: warms the content script and host code paths
            page.evaluate("window.samples = []")
            for _ in range(args.rounds):
                click_fill()
            rows["warm: click -> filled (host connected)"] = page.evaluate("window.samples")

            fresh: list[float] = []
            cold: list[float] = []
            for _ in range(args.rounds):
                for pid in host_pids(home):
                    os.kill(pid, signal.SIGKILL)
                worker.evaluate(
                    "new Promise((r) => { const t = setInterval(() => { "
                    "if (!globalThis.tracker2fa.host.connected) { clearInterval(t); r(true); } }, 5); })"
                )
                page.evaluate("document.getElementById('otp').value = ''")
                t = page.evaluate("performance.now()")
                control.click()
                page.wait_for_function(
                    "document.querySelector('[data-tracker2fa-fill]').dataset.tracker2faState === 'error'"
                )
                cold.append(page.evaluate("performance.now()") - t)
                worker.evaluate(unlock)
                page.evaluate("window.samples = []")
                click_fill()
                fresh.extend(page.evaluate("window.samples"))
            rows["fresh: first fill after host restart+unlock"] = fresh
            rows["cold: click -> answer, no host running"] = cold
            appear_next = []
            for _ in range(args.rounds):
                other = context.new_page()
                other.goto(f"{origin}/")
                appear_next.append(control_appeared(other))
                other.close()
            context.close()
            appear_first = []
            for n in range(args.cold_rounds):
                fresh_profile = root / f"profile-{n}"
                fresh_profile.mkdir()
                browsers.register_host("chromium", env, user_data_dir=fresh_profile)
                first_context = browsers.launch_chromium(p, fresh_profile, env)
                browsers.chromium_service_worker(first_context)
                first = first_context.pages[0] if first_context.pages else first_context.new_page()
                first.goto(f"{origin}/")
                appear_first.append(control_appeared(first))
                first_context.close()
            rows["appear: field painted -> control, first page"] = appear_first
            rows["appear: field painted -> control, next page"] = appear_next
        httpd.shutdown()

    base = statistics.median(rows["baseline: sendNativeMessage, trivial host"])
    print(f"{'measurement':48} {'median ms':>10} {'p90 ms':>8} {'ratio':>7}")
    for name, samples in rows.items():
        samples = sorted(samples)
        p90 = samples[int(0.9 * (len(samples) - 1))]
        med = statistics.median(samples)
        print(f"{name:48} {med:10.2f} {p90:8.2f} {med / base:7.2f}")
    print(f"(N={args.rounds} rounds each; ratio = median / baseline median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
