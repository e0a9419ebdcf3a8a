#!/usr/bin/env python3
"""Security-key ceremony latency with the software key on each transport, against python-fido2 directly.

    .venv/bin/python bench/fido_bench.py [--runs 50] [--transports usb,nfc,ble,virtual]

(a) warm: `ceremonies.webauthn.get` (what `fido.get` will call: option parsing, origin/rpId checks,
    the first-touched race, JSON conversion) on an already opened key, against `Fido2Client.get_assertion`
    + `get_response(0)` + `dict()` on the same device in the same process. Reported as medians and the
    ratio (aim: <= 1.2x). Both sides run the same python-fido2 client over the same framing, and both
    with the host's caches of what python-fido2 derives per class (native_host/fido/fido2_caches.py); the
    "stock" column is the same direct call with python-fido2 as shipped (the caches taken out for it).
(b) service: `FidoService.get` as the host runs it (discovery at each request, then the ceremony) with
    the virtual key (its file is saved after every signature), and with a software USB key that the HID
    lister opens afresh at each request as `fido2.hid.list_devices` does.
(c) cold: a fresh interpreter importing the ceremony stack (the cost the first FIDO request pays), and
    the import floor `import fido2.client, fido2.hid, cryptography...ec` for comparison; medians of 5.
The host's own dispatch overhead is measured by bench/host_bench.py once fido.* is wired in.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fido2.client import DefaultClientDataCollector, Fido2Client
from fido2.server import Fido2Server

from native_host.fido.ceremonies import webauthn
from native_host.fido.discovery import KeyHandle, discover
from native_host.fido.fido2_caches import shipped_behaviour
from native_host.fido.soft_transports.ble import open_soft_ble_device
from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.soft_transports.nfc import open_soft_nfc_device
from native_host.fido.softkey.authenticator import SoftAuthenticator

ORIGIN, RP_ID = "https://jira.example.com", "example.com"
COLD_STACK = ("import native_host.fido.ceremonies.webauthn, native_host.fido.ceremonies.u2f, "
              "native_host.fido.discovery, native_host.fido.soft_transports.hid")
COLD_FLOOR = "import fido2.client, fido2.hid, fido2.ctap2, cryptography.hazmat.primitives.asymmetric.ec"


def open_key(transport: str, tmp: Path) -> KeyHandle:
    if transport == "virtual":
        return discover({"TRACKER2FA_VIRTUAL_KEY": str(tmp / "vkey.json")}, transports=["virtual"]).keys[0]
    auth = SoftAuthenticator(transports=(transport,))
    if transport == "usb":
        device = open_soft_hid_device(auth)
    elif transport == "nfc":
        device = open_soft_nfc_device(auth)
    else:
        device, _ = open_soft_ble_device(auth)
    return KeyHandle.for_device(device, transport, f"soft {transport}")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def warm(transport: str, runs: int, tmp: Path) -> tuple[float, float, float]:
    key = open_key(transport, tmp)
    server = Fido2Server({"id": RP_ID, "name": "bench"})
    options, state = server.register_begin({"id": b"bench", "name": "bench"}, user_verification="discouraged")
    credential = server.register_complete(state, webauthn.create(ORIGIN, dict(options.public_key), [key]))
    request, _ = server.authenticate_begin([credential.credential_data], user_verification="discouraged")
    request_json = dict(request.public_key)
    client = Fido2Client(key.device(), DefaultClientDataCollector(ORIGIN))
    ours, direct, stock = [], [], []
    for _ in range(runs):  # interleaved, so drift hits both sides alike
        t = time.perf_counter()
        webauthn.get(ORIGIN, request_json, [key])
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        dict(client.get_assertion(request.public_key).get_response(0))
        direct.append(time.perf_counter() - t)
    with shipped_behaviour():  # apart: its garbage would otherwise land in the other columns' collections
        for _ in range(runs):
            t = time.perf_counter()
            dict(client.get_assertion(request.public_key).get_response(0))
            stock.append(time.perf_counter() - t)
    return median_ms(ours), median_ms(direct), median_ms(stock)


def service_warm(transport: str, runs: int, tmp: Path) -> tuple[float, float]:
    """fido.get as the host will run it: FidoService (discovery at each request) with the virtual key or a
    software USB key, against python-fido2 directly on the same key."""
    from native_host.fido.service import FidoService

    if transport == "virtual":
        service = FidoService({"TRACKER2FA_VIRTUAL_KEY": str(tmp / "service-vkey.json")}, transports=("virtual",))
    else:
        auth = SoftAuthenticator()
        service = FidoService({}, transports=("usb",), hid_lister=lambda: [open_soft_hid_device(auth)])
    server = Fido2Server({"id": "localhost", "name": "bench"})
    origin = "http://localhost:8000"
    options, state = server.register_begin({"id": b"bench", "name": "bench"}, user_verification="discouraged")
    credential = server.register_complete(state, service.create({"origin": origin,
                                                                 "options": dict(options.public_key)}))
    request, _ = server.authenticate_begin([credential.credential_data], user_verification="discouraged")
    params = {"origin": origin, "options": dict(request.public_key)}
    client = Fido2Client(service.keys()[0].device(), DefaultClientDataCollector(origin))
    ours, direct = [], []
    for _ in range(runs):
        t = time.perf_counter()
        service.get(params)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        dict(client.get_assertion(request.public_key).get_response(0))
        direct.append(time.perf_counter() - t)
    return median_ms(ours), median_ms(direct)


def cold(statement: str, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent.parent).stdout
        samples.append(float(out))
    return median_ms(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--transports", default="usb,nfc,ble,virtual")
    args = parser.parse_args()
    print(f"{'transport':<10} {'ceremony ms':>12} {'fido2 direct ms':>16} {'ratio':>6} {'fido2 stock ms':>15} "
          f"{'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for transport in args.transports.split(","):
            ours, direct, stock = warm(transport, args.runs, Path(tmp))
            print(f"{transport:<10} {ours:>12.2f} {direct:>16.2f} {ours / direct:>6.2f} {stock:>15.2f} "
                  f"{ours / stock:>6.2f}")
        for transport in ("usb", "virtual"):
            ours, direct = service_warm(transport, args.runs, Path(tmp))
            print(f"{'service':<10} {ours:>12.2f} {direct:>16.2f} {ours / direct:>6.2f}   "
                  f"(FidoService.get, {'USB key listed at each request' if transport == 'usb' else 'virtual key'})")
    stack, floor = cold(COLD_STACK), cold(COLD_FLOOR)
    print(f"\ncold import of the ceremony stack: {stack:.0f} ms; python-fido2 + cryptography floor: {floor:.0f} ms "
          f"(ratio {stack / floor:.2f})")


if __name__ == "__main__":
    main()
