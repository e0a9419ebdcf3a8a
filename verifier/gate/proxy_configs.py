"""The reverse-proxy configurations in front of the gate, from one template each: nginx, Caddy, Traefik.

The files in ``manifests/gate/`` are these templates rendered with example values
(``python -m verifier.gate.proxy_configs manifests/gate``; a test keeps the folder equal to that), and the
proxy tests run nginx and Caddy on the very same templates rendered with loopback values. What every
template does, whatever the proxy:

- the portal's host is proxied to the gate as it is (the gate checks ``Host`` and ``Origin`` itself);
- every other host asks the gate first (nginx ``auth_request``, Caddy ``forward_auth``, Traefik
  ``forwardAuth``), passing the original URL and method, and the client's address *replacing* any
  ``X-Forwarded-For`` the client sent;
- the identity headers (``Remote-User``, ``-Groups``, ``-Name``, ``-Email``) reach the tracker only as the
  gate set them: whatever the client sent under those names (or with underscores, which some servers read
  as the same name) is removed;
- nginx: a default server refuses unknown host names, since the rules are chosen by host.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

IDENTITY_HEADERS = ("Remote-User", "Remote-Groups", "Remote-Name", "Remote-Email")
AUTH_REQUEST_LOCATION = "/__tracker2fa_gate_authz"


@dataclass(frozen=True)
class Site:
    """A protected application: its host name and where the proxy sends its requests."""

    host: str
    upstream: str  # host:port of the tracker


@dataclass(frozen=True)
class Layout:
    """What the templates are rendered with."""

    gate: str  # host:port of `tracker2fa gate serve`: the portal (server.port)
    portal_hosts: tuple[str, ...]  # the portals' host names (one per cookie domain; no port)
    sites: tuple[Site, ...]
    port: int = 443
    address: str | None = None  # listen address; None: every interface
    tls: tuple[str, str] | None = ("/etc/ssl/certs/example.com.pem", "/etc/ssl/private/example.com.key")
    authz: str | None = None  # host:port of the gate's forward-auth listener (server.authz_port); None: ``gate``

    @property
    def check(self) -> str:
        """Where the proxy asks: the forward-auth listener, else the portal's port (same answers, slower)."""
        return self.authz or self.gate

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


# ---- nginx -------------------------------------------------------------------------------------------
def _nginx_listen(layout: Layout, extra: str = "") -> str:
    where = f"{layout.address}:{layout.port}" if layout.address else str(layout.port)
    return f"    listen {where}{' ssl' if layout.tls else ''}{extra};"


def _nginx_tls(layout: Layout) -> list[str]:
    if not layout.tls:
        return []
    cert, key = layout.tls
    return [f"    ssl_certificate {cert};", f"    ssl_certificate_key {key};"]


_GATE_HEADERS = ["        proxy_http_version 1.1;", '        proxy_set_header Connection "";',
                 "        proxy_set_header X-Forwarded-For $remote_addr;",
                 "        proxy_set_header X-Forwarded-Proto $scheme;"]


# To the tracker: HTTP/1.1, WebSocket upgrades passed on (the map above).
UPSTREAM_HTTP = ["        proxy_http_version 1.1;", "        proxy_set_header Upgrade $http_upgrade;",
                 "        proxy_set_header Connection $tracker2fa_connection;"]


def _variable(header: str) -> str:
    return "$gate_" + header.split("-")[1].lower()


def nginx_sites(layout: Layout) -> str:
    """The http-context part: the gate upstream, a default server, the portal, one server per site."""
    out = [
        "# tracker2fa gate in front of self-hosted trackers (nginx auth_request). Generated from",
        "# verifier/gate/proxy_configs.py; see docs/gate.md.",
        "upstream tracker2fa_gate {  # the portal",
        f"    server {layout.gate};",
        "    keepalive 8;",
        "}",
        "upstream tracker2fa_gate_authz {  # the forward-auth check",
        f"    server {layout.check};",
        "    keepalive 64;  # the check runs on every request: no new connection per check",
        "}",
        "",
        "# WebSocket upgrades pass through to the trackers (GitLab, Gitea); other requests keep Connection empty.",
        "map $http_upgrade $tracker2fa_connection {",
        "    default upgrade;",
        "    '' '';",
        "}",
        "",
        "# Rules are chosen by host name: a request for a name served by no block below is refused.",
        "server {",
        _nginx_listen(layout, " default_server"),
        "    server_name _;",
        *(["    ssl_reject_handshake on;"] if layout.tls else []),
        "    return 444;",
        "}",
        "",
        "# The login portal: passed to the gate as it is.",
        "server {",
        _nginx_listen(layout),
        f"    server_name {' '.join(layout.portal_hosts)};",
        *_nginx_tls(layout),
        "    location / {",
        "        proxy_pass http://tracker2fa_gate;",
        "        proxy_set_header Host $http_host;",
        *_GATE_HEADERS,
        "    }",
        "}",
    ]
    for site in layout.sites:
        out += [
            "",
            f"# {site.host}: every request asks the gate first.",
            "server {",
            _nginx_listen(layout),
            f"    server_name {site.host};",
            *_nginx_tls(layout),
            f"    location = {AUTH_REQUEST_LOCATION} {{",
            "        internal;",
            "        proxy_pass http://tracker2fa_gate_authz/api/authz/auth-request;",
            "        proxy_pass_request_body off;",
            '        proxy_set_header Content-Length "";',
            "        proxy_set_header X-Original-URL $scheme://$http_host$request_uri;",
            "        proxy_set_header X-Original-Method $request_method;",
            *_GATE_HEADERS,
            "    }",
            "    location / {",
            f"        auth_request {AUTH_REQUEST_LOCATION};",
            *(f"        auth_request_set {_variable(h)} $upstream_http_{h.lower().replace('-', '_')};"
              for h in IDENTITY_HEADERS),
            "        auth_request_set $gate_location $upstream_http_location;",
            "        error_page 401 =302 $gate_location;",
            "        # Set, or removed when the gate sent none: a client's own Remote-* never passes.",
            *(f"        proxy_set_header {h} {_variable(h)};" for h in IDENTITY_HEADERS),
            "        proxy_set_header Host $http_host;",
            "        proxy_set_header X-Forwarded-For $remote_addr;",
            "        proxy_set_header X-Forwarded-Proto $scheme;",
            *UPSTREAM_HTTP,
            f"        proxy_pass http://{site.upstream};",
            "    }",
            "}",
        ]
    return "\n".join(out) + "\n"


def nginx_main(layout: Layout, runtime_dir: str) -> str:
    """A complete nginx.conf around :func:`nginx_sites`, everything nginx writes under ``runtime_dir``
    (how the tests and the benchmark run nginx: ``nginx -p DIR -c nginx.conf``)."""
    temp = "\n".join(f"    {kind}_temp_path {runtime_dir}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    sites = "".join(f"    {line}\n" if line else "\n" for line in nginx_sites(layout).splitlines())
    return (f"worker_processes 1;\npid {runtime_dir}/nginx.pid;\nerror_log {runtime_dir}/error.log warn;\n"
            f"events {{ worker_connections 4096; }}\nhttp {{\n    access_log off;\n{temp}\n"
            f"    keepalive_requests 100000;\n{sites}}}\n")


# ---- Caddy -------------------------------------------------------------------------------------------
def caddyfile(layout: Layout, *, storage_dir: str | None = None) -> str:
    """A Caddyfile: the portal proxied to the gate, each site behind ``forward_auth``.

    ``route`` keeps the order written: the client's identity headers are removed first, then the gate's
    are copied in (Caddy's default order would run ``request_header`` after ``forward_auth``).
    """
    options = ["{", "    admin off"]
    if not layout.tls:
        options += ["    auto_https off", f"    http_port {layout.port}"]
    if storage_dir:
        options.append(f"    storage file_system {storage_dir}")
    options.append("}")
    scheme = layout.scheme
    port = "" if (scheme, layout.port) in (("https", 443), ("http", 80)) else f":{layout.port}"
    bind = [f"    bind {layout.address}"] if layout.address else []
    tls = [f"    tls {layout.tls[0]} {layout.tls[1]}"] if layout.tls else []
    strip = [f"        request_header -{h}" for h in IDENTITY_HEADERS] + \
            [f"        request_header -{h.replace('-', '_')}" for h in IDENTITY_HEADERS]
    # The gate sends the four headers on every 200, empty when it has nothing to say (Caddy 2.6 would
    # otherwise copy its own placeholder text in); an empty one is then removed, as nginx does.
    drop_empty = []
    for h in IDENTITY_HEADERS:
        matcher = "@empty_" + h.split("-")[1].lower()
        drop_empty += [f"        {matcher} header_regexp {h} ^$", f"        request_header {matcher} -{h}"]
    out = ["# tracker2fa gate in front of self-hosted trackers (Caddy forward_auth). Generated from",
           "# verifier/gate/proxy_configs.py; see docs/gate.md.", *options, "",
           ", ".join(f"{scheme}://{host}{port}" for host in layout.portal_hosts) + " {", *bind, *tls,
           f"    reverse_proxy {layout.gate}", "}"]
    for site in layout.sites:
        out += ["", f"{scheme}://{site.host}{port} {{", *bind, *tls, "    route {", *strip,
                f"        forward_auth {layout.check} {{", "            uri /api/authz/forward-auth",
                f"            copy_headers {' '.join(IDENTITY_HEADERS)}", "        }", *drop_empty,
                f"        reverse_proxy {site.upstream}", "    }", "}"]
    return "\n".join(out) + "\n"


# ---- Traefik (configuration only: no Traefik package on the test machines) ---------------------------
def traefik_dynamic(layout: Layout) -> str:
    """Traefik's dynamic configuration (file provider): routers, the forwardAuth middleware, services."""
    portal_rule = " || ".join(f"Host(`{host}`)" for host in layout.portal_hosts)
    routers = [f"    portal:\n      rule: {portal_rule}\n      service: gate\n"
               + ("      tls: {}\n" if layout.tls else "")]
    services = [f"    gate:\n      loadBalancer:\n        servers:\n          - url: http://{layout.gate}\n"]
    for i, site in enumerate(layout.sites, start=1):
        name = f"site{i}"
        routers.append(f"    {name}:\n      rule: Host(`{site.host}`)\n      service: {name}\n"
                       f"      middlewares: [strip-identity, tracker2fa-gate]\n"
                       + ("      tls: {}\n" if layout.tls else ""))
        services.append(f"    {name}:\n      loadBalancer:\n        servers:\n          - url: http://{site.upstream}\n")
    strip = "".join(f'          {h}: ""\n          {h.replace("-", "_")}: ""\n' for h in IDENTITY_HEADERS)
    return ("# tracker2fa gate in front of self-hosted trackers (Traefik forwardAuth). Generated from\n"
            "# verifier/gate/proxy_configs.py; see docs/gate.md. Not run by the tests: Traefik is not\n"
            "# packaged on the test machines.\n"
            "http:\n  routers:\n" + "".join(routers) +
            "  middlewares:\n"
            "    strip-identity:  # an empty value removes the header: a client's own Remote-* never passes\n"
            "      headers:\n        customRequestHeaders:\n" + strip +
            "    tracker2fa-gate:\n      forwardAuth:\n"
            f"        address: http://{layout.check}/api/authz/forward-auth\n"
            "        trustForwardHeader: false  # Traefik sets X-Forwarded-* from the connection itself\n"
            f"        authResponseHeaders: [{', '.join(IDENTITY_HEADERS)}]\n"
            "  services:\n" + "".join(services))


def traefik_static(layout: Layout) -> str:
    """Traefik's static configuration: the entry point and the file provider."""
    return ("# Traefik static configuration for the gate's dynamic file (tracker2fa-gate.yml).\n"
            "entryPoints:\n  websecure:\n" f"    address: \":{layout.port}\"\n"
            "providers:\n  file:\n    filename: /etc/traefik/tracker2fa-gate.yml\n")


# ---- the manifests folder ----------------------------------------------------------------------------
EXAMPLE = Layout(gate="127.0.0.1:9091", authz="127.0.0.1:9092", portal_hosts=("auth.example.com",), sites=(
    Site("jira.example.com", "127.0.0.1:8080"), Site("gitlab.example.com", "127.0.0.1:8081"),
    Site("gitea.example.com", "127.0.0.1:3000"), Site("redmine.example.com", "127.0.0.1:3001")))
EXAMPLE_CONFIG = Path(__file__).with_name("example-gate.toml")


def manifest_files() -> dict[str, str]:
    """Every file of ``manifests/gate/``."""
    return {
        "README.md": ("# manifests/gate/: the forward-auth gate behind nginx, Caddy or Traefik\n\n"
                      "Generated by `python -m verifier.gate.proxy_configs manifests/gate` (a test keeps them equal; "
                      "do not edit by hand). Example values: the portal at `auth.example.com`, four trackers on "
                      "`*.example.com`, the gate's portal on `127.0.0.1:9091` and its forward-auth check on "
                      "`127.0.0.1:9092`. The nginx and Caddy files come from the same "
                      "templates the proxy tests run (tests/gate/). See docs/gate.md.\n\n"
                      "| file | what it is |\n|---|---|\n"
                      "| `gate.toml` | the gate's configuration, with rules for Jira, GitLab, Gitea and Redmine |\n"
                      "| `nginx/tracker2fa-gate.conf` | nginx `auth_request` (put it in /etc/nginx/conf.d/) |\n"
                      "| `caddy/Caddyfile` | Caddy `forward_auth` |\n"
                      "| `traefik/traefik.yml`, `traefik/tracker2fa-gate.yml` | Traefik `forwardAuth` (static and "
                      "dynamic configuration; not run by the tests: no Traefik package here) |\n"),
        "gate.toml": EXAMPLE_CONFIG.read_text(encoding="utf-8"),
        "nginx/tracker2fa-gate.conf": nginx_sites(EXAMPLE),
        "caddy/Caddyfile": caddyfile(EXAMPLE),
        "traefik/traefik.yml": traefik_static(EXAMPLE),
        "traefik/tracker2fa-gate.yml": traefik_dynamic(EXAMPLE),
    }


def write_manifests(out: Path) -> list[Path]:
    written = []
    for name, content in manifest_files().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - the regeneration command in the module docstring
    for written in write_manifests(Path(sys.argv[1] if len(sys.argv) > 1 else "manifests/gate")):
        print(written)
