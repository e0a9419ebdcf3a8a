"""Mail to users: the notices' words (texts.py, templates.py), where they go (recipients.py), the SMTP relay
(relay.py), the sender that delivers the outbox (sender.py) and the mock tracker's local sink (sink.py).

The outbox rows themselves are written by the service layer, in the transaction of each event; see
docs/verifier.md, "Mail to users".
"""
