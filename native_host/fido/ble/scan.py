"""Finding FIDO peripherals with bleak (optional extra ``ble``; imported only when called)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .gatt import FIDO_SERVICE_UUID
from .loop import LoopThread


@dataclass(frozen=True)
class BlePeripheral:
    name: str
    address: str


def scan(timeout: float = 3.0, runner: LoopThread | None = None) -> list[BlePeripheral]:
    """Advertising peripherals that offer the FIDO service. Raises ImportError without bleak, and bleak's
    own errors (e.g. no adapter) as they are, for discovery to report."""
    from bleak import BleakScanner

    runner = runner or LoopThread.shared()
    found = runner.run(BleakScanner.discover(timeout=timeout, service_uuids=[FIDO_SERVICE_UUID]),
                       timeout=timeout + 10)
    return [BlePeripheral(d.name or "Bluetooth security key", d.address) for d in found]


def open_ble_device(peripheral: BlePeripheral, runner: LoopThread | None = None):  # -> BleCtapDevice
    from bleak import BleakClient

    from .device import BleCtapDevice

    return BleCtapDevice(BleakClient(peripheral.address), name=peripheral.name, address=peripheral.address,
                         runner=runner)


def open_ble_devices(timeout: float = 3.0) -> Iterator:
    for peripheral in scan(timeout):
        try:
            yield open_ble_device(peripheral)
        except Exception:  # one unreachable peripheral must not hide the others
            continue
