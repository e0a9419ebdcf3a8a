"""tracker2fa gate: a second factor in front of any self-hosted tracker, through a proxy's forward auth.

nginx (``auth_request``), Traefik (``forwardAuth``) and Caddy (``forward_auth``) ask the gate, for every
proxied request, whether it belongs to a user who has passed what the access rules ask; everyone else is
sent to the gate's login portal. The portal reuses the verifier's services for every factor (users and
passwords or LDAP, TOTP, backup codes, security keys, remembered devices, policy, lockout, audit), and the
sessions live in the verifier's database, so several gate nodes share them.

The rules core is free of I/O: ``config`` (the TOML file, errors naming their line, with ``toml_lines``),
``rules`` (access control), ``urls`` (the proxied target, the path rules see, the redirect back),
``addresses`` (trusted proxies), ``cookies`` and :mod:`verifier.core.sessions` (tokens and lifetimes).
The edge is thin: ``authz`` (the forward-auth check, one indexed read per request, and its ASGI edge),
``authz_server`` (the same check on a port of its own, without ASGI), ``portal/`` (the login pages),
``directory`` and ``ldap`` (local users or LDAP), ``proxy_configs`` (the nginx, Caddy and Traefik
templates), ``app`` and ``worker`` (the process). See docs/gate.md.
"""
