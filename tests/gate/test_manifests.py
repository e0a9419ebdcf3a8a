"""manifests/gate/ is what verifier/gate/proxy_configs.py renders (the templates the proxy tests run), and
every file in it is read by its own tool: the gate's configuration check, nginx -t, caddy adapt, YAML."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from verifier.gate import proxy_configs
from verifier.gate.config import load_config

from .conftest import require

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "gate"


def test_the_folder_is_exactly_what_the_code_renders() -> None:
    generated = proxy_configs.manifest_files()
    on_disk = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("*") if p.is_file()}
    assert on_disk == set(generated), "regenerate with: python -m verifier.gate.proxy_configs manifests/gate"
    for name, content in generated.items():
        assert (MANIFESTS / name).read_text() == content, f"{name} drifted; regenerate it"


def test_the_example_gate_configuration_passes_the_check() -> None:
    config = load_config((MANIFESTS / "gate.toml").read_text(), "gate.toml")
    assert {r.domains[0].text for r in config.access.rules} == {s.host for s in proxy_configs.EXAMPLE.sites}


def test_nginx_accepts_the_example_sites(tmp_path: Path) -> None:
    require("nginx")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=example.com"],
                   check=True, capture_output=True)
    sites = (MANIFESTS / "nginx" / "tracker2fa-gate.conf").read_text()
    sites = sites.replace(proxy_configs.EXAMPLE.tls[0], str(cert)).replace(proxy_configs.EXAMPLE.tls[1], str(key))
    runtime = tmp_path / "nginx"
    runtime.mkdir()
    temp = "".join(f"{kind}_temp_path {runtime}/{kind}; " for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                      "scgi"))
    conf = runtime / "nginx.conf"
    conf.write_text(f"pid {runtime}/nginx.pid;\nerror_log {runtime}/error.log;\nevents {{}}\n"
                    f"http {{\n{temp}\n{sites}}}\n")
    done = subprocess.run(["nginx", "-t", "-p", str(runtime), "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_caddy_adapts_the_example_caddyfile(tmp_path: Path) -> None:
    require("caddy")
    done = subprocess.run(["caddy", "adapt", "--config", str(MANIFESTS / "caddy" / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "forward_auth" not in done.stdout and "/api/authz/forward-auth" in done.stdout


def test_the_traefik_files_are_yaml_with_the_middleware_chain_in_order() -> None:
    dynamic = yaml.safe_load((MANIFESTS / "traefik" / "tracker2fa-gate.yml").read_text())
    assert yaml.safe_load((MANIFESTS / "traefik" / "traefik.yml").read_text())["providers"]["file"]
    http = dynamic["http"]
    for name, router in http["routers"].items():
        if name != "portal":
            assert router["middlewares"] == ["strip-identity", "tracker2fa-gate"]
    auth = http["middlewares"]["tracker2fa-gate"]["forwardAuth"]
    assert auth["trustForwardHeader"] is False and auth["address"].endswith("/api/authz/forward-auth")
    assert set(http["middlewares"]["strip-identity"]["headers"]["customRequestHeaders"]) >= \
        set(proxy_configs.IDENTITY_HEADERS)
