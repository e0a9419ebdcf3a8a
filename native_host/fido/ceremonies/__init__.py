"""WebAuthn and legacy U2F ceremonies over any ``CtapDevice``: they never know the transport.

``webauthn.create`` / ``webauthn.get`` take and give the standard WebAuthn JSON forms;
``u2f.register`` / ``u2f.sign`` the FIDO U2F JavaScript API 1.1 objects. ``rules`` holds the origin,
rpId and appId checks; ``race`` runs one ceremony on several keys (first touched wins);
``interaction`` turns python-fido2's prompts into host events and PIN requests.
"""
