"""The software authenticator behind each transport's real framing, for python-fido2's own classes.

``hid.SoftHidConnection`` (CTAPHID packets, for ``fido2.hid.CtapHidDevice``), ``nfc.SoftCardConnection``
(ISO 7816 APDUs, a pyscard-like connection for ``fido2.pcsc.CtapPcscDevice``) and ``ble.SoftGattClient``
(CTAP-over-GATT frames, a bleak-like client for ``native_host.fido.ble.device.BleCtapDevice``).
"""
