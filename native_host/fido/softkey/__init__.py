"""The software authenticator: a sans-I/O CTAP2 + U2F core and its persisted key store.

Layers: ``store`` (keys, counter, PIN state; file persistence) → ``ctap2`` / ``u2f`` (command
processors) → ``authenticator`` (the façade the transport framings call) → ``run`` (drives a command
through user-presence checks, keepalives and cancel). No module here does I/O except ``store.save``.
"""
