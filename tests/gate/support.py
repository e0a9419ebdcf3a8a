"""Real processes for the gate's tests: the gate itself, nginx or Caddy in front of it, a small upstream
that reports what reached it, and a browser-like client that keeps cookies by domain.

Every host is a ``*.localhost`` name reached through the proxy's one loopback port (the client connects to
127.0.0.1 and sends the name in ``Host``), so cookies scoped to ``one.localhost`` behave as in a browser.
Each test's client connects from an address of its own in 127.0.0.0/8 (nginx passes it on as the client
address), so one test's failed logins never lock another's out; the gate trusts only 127.0.0.1, nginx's
own address towards it.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pyotp

from verifier.gate import proxy_configs

REPO = Path(__file__).resolve().parents[2]
SERVE_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_loopback() -> str:
    """A client address of its own for one test (127.0.0.1 is the proxy's, the only trusted one)."""
    return f"127.{secrets.randbelow(250) + 2}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 2}"


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text(errors='replace') if log else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within {SERVE_TIMEOUT} s")


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- the upstream: a tracker stand-in that says what reached it --------------------------------------
class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"method": self.command, "path": self.path,
                           "headers": [[k, v] for k, v in self.headers.raw_items()]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up (a browser moving on) is no test failure


@contextmanager
def upstream() -> Iterator[str]:
    """An echo server on loopback (a thread: it only has to answer); yields ``host:port``."""
    server = _QuietServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def seen_headers(reply: Reply) -> dict[str, list[str]]:
    """The headers the upstream received, by lower-case name (raw names kept apart: Remote_User too)."""
    out: dict[str, list[str]] = {}
    for name, value in json.loads(reply.body)["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


# ---- a browser-like client ------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    history: list[tuple[int, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Cookie:
    value: str
    domain: str
    host_only: bool
    attributes: dict[str, str]


Send = Callable[[str, str, dict[str, str], "bytes | None", str], tuple[int, list[tuple[str, str]], bytes]]


class Browser:
    """Cookies by domain (RFC 6265 domain matching), redirects followed, forms posted with their Origin.

    ``send(method, url, headers, body, source)`` carries one request: by default over TCP to the proxy's
    port (from the client's own loopback address); :func:`asgi_sender` runs it in process instead.
    """

    def __init__(self, proxy_port: int = 0, source: str | None = None, send: Send | None = None) -> None:
        self.port = proxy_port
        self.source = source or fresh_loopback()
        self.jar: dict[tuple[str, str], Cookie] = {}
        self.send = send or self._over_tcp

    def _over_tcp(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                  source: str) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(source, 0))
        try:
            conn.request(method, parts.path + (f"?{parts.query}" if parts.query else "") or "/", body, headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def cookie_header(self, host: str) -> str:
        return "; ".join(f"{name}={c.value}" for (_d, name), c in self.jar.items()
                         if host == c.domain or (not c.host_only and host.endswith("." + c.domain)))

    def cookie(self, name: str, domain: str) -> Cookie | None:
        return self.jar.get((domain, name))

    def _store(self, host: str, header: str) -> None:
        name_value, *attrs = header.split(";")
        name, _, value = name_value.strip().partition("=")
        attributes = {}
        for attr in attrs:
            key, _, val = attr.strip().partition("=")
            attributes[key.lower()] = val
        domain = attributes.get("domain", "").lstrip(".").lower() or host
        if domain != host and not host.endswith("." + domain):
            return  # a browser ignores a cookie for a domain the host is not in
        key = (domain, name)
        if attributes.get("max-age") == "0":
            self.jar.pop(key, None)
            return
        self.jar[key] = Cookie(value, domain, "domain" not in attributes, attributes)

    def request(self, method: str, url: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, follow: bool = True, origin: str | None = None,
                json_body: object = None) -> Reply:
        history: list[tuple[int, str]] = []
        for _ in range(10):
            parts = urlsplit(url)
            host = parts.hostname or ""
            sent = {"Host": parts.netloc, **(headers or {})}
            if cookie := self.cookie_header(host):
                sent["Cookie"] = cookie
            body = None
            if form is not None:
                body = urlencode(form).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            elif json_body is not None:
                body = json.dumps(json_body).encode()
                sent["Content-Type"] = "application/json"
            if body is not None:
                sent.setdefault("Origin", origin or f"{parts.scheme}://{parts.netloc}")
            status, got, content = self.send(method, url, sent, body, self.source)
            reply = Reply(status, got, content, url, history)
            for value in reply.all("set-cookie"):
                self._store(host, value)
            location = reply.header("location")
            if not follow or reply.status not in (301, 302, 303, 307, 308) or not location:
                return reply
            history.append((reply.status, url))
            url = urljoin(url, location)
            if reply.status in (301, 302, 303):
                method, form, headers, json_body = "GET", None, None, None
        raise AssertionError(f"too many redirects: {history}")

    def get(self, url: str, **kwargs: object) -> Reply:
        return self.request("GET", url, **kwargs)  # type: ignore[arg-type]

    def post(self, url: str, form: dict[str, str], **kwargs: object) -> Reply:
        return self.request("POST", url, form=form, **kwargs)  # type: ignore[arg-type]


def asgi_sender(app: object) -> Send:
    """Requests run in process against an ASGI app (httpx's ASGI transport), from the given address."""
    import httpx

    from tests.support.event_loop import run_on_own_thread

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None,
             source: str) -> tuple[int, list[tuple[str, str]], bytes]:
        async def one() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(source, 40000))  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport) as client:
                return await client.request(method, url, headers=headers, content=body)

        response = run_on_own_thread(one)
        return response.status_code, list(response.headers.multi_items()), response.content

    return send


# ---- the gate -----------------------------------------------------------------------------------------
@dataclass
class GateProcess:
    proc: subprocess.Popen
    port: int  # the portal
    authz_port: int  # the forward-auth listener
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def authz_address(self) -> str:
        return f"127.0.0.1:{self.authz_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_gate(config: Path, key: bytes, workdir: Path, *, workers: int = 1, port: int | None = None,
               extra_env: dict[str, str] | None = None) -> GateProcess:
    """``tracker2fa gate serve`` on its own loopback port; returns once it answers."""
    port = port or free_port()
    authz_port = free_port()
    log = workdir / f"gate-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKER2FA_VERIFIER_KEY": base64.b64encode(key).decode(),
           **(extra_env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "native_host", "gate", "serve", "--config", str(config),
                                 "--workers", str(workers), "--port", str(port), "--authz-port", str(authz_port)],
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=REPO)
    gate = GateProcess(proc, port, authz_port, log)
    try:
        wait_for_port(port, proc, "tracker2fa gate serve", log)
        wait_for_port(authz_port, proc, "tracker2fa gate serve (forward auth)", log)
        _wait_healthy(port, proc, log)
    except BaseException:
        stop(proc)
        raise
    return gate


def _wait_healthy(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the gate did not answer /healthz: {log.read_text(errors='replace')}")


# ---- the proxies ----------------------------------------------------------------------------------------
@dataclass
class Proxy:
    proc: subprocess.Popen
    port: int
    log: Path


def start_nginx(layout: proxy_configs.Layout, workdir: Path) -> Proxy:
    """Debian's nginx on the manifests' template, everything it writes under ``workdir``."""
    runtime = workdir / "nginx"
    runtime.mkdir(exist_ok=True)
    conf = runtime / "nginx.conf"
    conf.write_text(proxy_configs.nginx_main(layout, str(runtime)))
    log = runtime / "error.log"
    proc = subprocess.Popen(["nginx", "-p", str(runtime), "-c", str(conf), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_port(layout.port, proc, "nginx", log)
    except BaseException:
        stop(proc)
        raise
    return Proxy(proc, layout.port, log)


def start_caddy(layout: proxy_configs.Layout, workdir: Path) -> Proxy:
    """Debian's caddy on the manifests' template (no admin endpoint, storage under ``workdir``)."""
    runtime = workdir / "caddy"
    runtime.mkdir(exist_ok=True)
    conf = runtime / "Caddyfile"
    conf.write_text(proxy_configs.caddyfile(layout, storage_dir=str(runtime / "storage")))
    log = runtime / "caddy.log"
    env = {**os.environ, "HOME": str(runtime), "XDG_CONFIG_HOME": str(runtime), "XDG_DATA_HOME": str(runtime)}
    with open(log, "w") as out:
        proc = subprocess.Popen(["caddy", "run", "--config", str(conf), "--adapter", "caddyfile"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        wait_for_port(layout.port, proc, "caddy", log)
    except BaseException:
        stop(proc)
        raise
    return Proxy(proc, layout.port, log)


# ---- users and logins -----------------------------------------------------------------------------------
def totp_user(verifier, username: str, *, groups: tuple[str, ...] = (), password: str = "correct horse") -> str:
    """Create a user with a password and a confirmed TOTP factor (confirmed one step back); returns the secret."""
    verifier.create_user(username, password, groups)
    enrolment = verifier.totp_enroll_begin(username)
    code = pyotp.TOTP(enrolment.secret).at(time.time() - 30)
    assert verifier.totp_enroll_confirm(username, code, "192.0.2.1", "setup").ok
    return enrolment.secret


def portal_form_url(reply: Reply) -> str:
    """The portal origin of a page the client is on."""
    parts = urlsplit(reply.url)
    return f"{parts.scheme}://{parts.netloc}"


def log_in(browser: Browser, url: str, username: str, secret: str | None, *, password: str = "correct horse",
           at: float | None = None) -> Reply:
    """Open ``url`` (sent to the portal), give the password, then the TOTP code when asked; the final reply."""
    page = browser.get(url)
    assert 'data-page="login"' in page.text, page.text[:500]
    portal = portal_form_url(page)
    rd = dict(pair.split("=", 1) for pair in urlsplit(page.url).query.split("&") if "=" in pair).get("rd")
    from urllib.parse import unquote

    form = {"username": username, "password": password, **({"rd": unquote(rd)} if rd else {})}
    reply = browser.post(f"{portal}/login", form)
    if 'data-page="second-factor"' in reply.text and secret is not None:
        code = pyotp.TOTP(secret).at(at or time.time())
        reply = browser.post(f"{portal}/2fa", {"code": code, **({"rd": unquote(rd)} if rd else {})})
    return reply
