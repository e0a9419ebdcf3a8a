"""CTAP over Bluetooth LE (GATT): python-fido2 has no BLE transport, so this is ours.

``frames`` is the sans-I/O fragmentation/reassembly core; ``gatt`` names the service and
characteristics; ``device`` is a ``fido2.ctap.CtapDevice`` driving a bleak-like GATT client;
``scan`` finds FIDO peripherals with bleak (imported lazily, optional extra ``ble``).
"""
