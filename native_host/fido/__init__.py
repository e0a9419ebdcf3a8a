"""Security keys: transports, the software (virtual) key and the WebAuthn/U2F ceremonies.

Deliberately import-free: importing ``native_host.fido`` must not import fido2, cryptography or any
transport library, so that the TOTP path keeps its cold-start budget. Import the submodules you need.
"""
