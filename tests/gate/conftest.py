"""A whole stack per proxy: upstream ← nginx or Caddy ← client, the gate beside them, one SQLite database.

``stack`` is parametrised over the two proxies that run here (Debian's nginx with ``auth_request`` and
Debian's Caddy with ``forward_auth``), so every flow test runs through both, on the templates that
``manifests/gate/`` is rendered from.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from verifier.gate import proxy_configs

from .support import Browser, GateProcess, Proxy, free_port, start_caddy, start_gate, start_nginx, stop, upstream

GATE_CONFIG = """\
[server]
trusted_proxies = ["127.0.0.1"]

[database]
url = "sqlite:///{db}"

[session]
idle_timeout = "30m"
absolute_timeout = "8h"

[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:{port}"

[[domains]]
domain = "two.localhost"
portal = "http://auth.two.localhost:{port}"

[access_control]
default_policy = "deny"

[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/public/"]
policy = "bypass"

[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/forbidden/"]
policy = "deny"

[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/admins/"]
subject = ["group:admins"]
policy = "two_factor"

[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/admins/"]
policy = "deny"

[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/light/"]
policy = "one_factor"

[[access_control.rules]]
domain = ["app.one.localhost", "app.two.localhost"]
policy = "two_factor"
"""


@dataclass
class Stack:
    proxy_name: str
    port: int
    proxy: Proxy
    gate: GateProcess
    verifier: Any
    db_url: str
    key: bytes
    workdir: Path

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def app(self) -> str:
        return self.url("app.one.localhost", "/")

    def portal(self, domain: str = "one.localhost") -> str:
        return f"http://auth.{domain}:{self.port}"

    def browser(self) -> Browser:
        return Browser(self.port)


def require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (scripts/test.sh installs it)")


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from verifier.core.backup import HashParams
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    name = request.param
    require(name)
    workdir = tmp_path_factory.mktemp(f"gate-{name}")
    key = secrets.token_bytes(32)
    port = free_port()
    db_url = f"sqlite:///{workdir / 'gate.db'}"
    config = workdir / "gate.toml"
    config.write_text(GATE_CONFIG.format(db=workdir / "gate.db", port=port))
    store = open_store(db_url)
    verifier = Verifier(store, VerifierSettings(server_key=key, password_hash=HashParams(n=2**10)))
    with upstream() as upstream_address:
        gate = start_gate(config, key, workdir)
        layout = proxy_configs.Layout(
            gate=gate.address, authz=gate.authz_address, portal_hosts=("auth.one.localhost", "auth.two.localhost"),
            port=port, address="127.0.0.1", tls=None,
            sites=(proxy_configs.Site("app.one.localhost", upstream_address),
                   proxy_configs.Site("app.two.localhost", upstream_address)))
        try:
            proxy = start_nginx(layout, workdir) if name == "nginx" else start_caddy(layout, workdir)
        except BaseException:
            stop(gate.proc)
            raise
        try:
            yield Stack(name, port, proxy, gate, verifier, db_url, key, workdir)
        finally:
            stop(proxy.proc)
            stop(gate.proc)
            store.close()
