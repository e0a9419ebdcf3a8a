#!/usr/bin/env python3
"""How fast the mail sender empties the outbox: one policy change asks ``--users`` users (one enforcement mail
each, written in the policy's transaction), then one sender delivers them to the mock's local sink (aiosmtpd
on 127.0.0.1, plain SMTP), pass after pass, in this process.

    .venv/bin/python bench/mail_sender_bench.py [--users N] [--batch N] [--db sqlite|postgresql]

Prints the seconds the policy change took (the batched insert of the mails) and the mails per second of
delivery, with the process CPU per mail (the sender and the sink both run here, so this is an upper bound of
the sender's own cost).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    from verifier.mail.sender import Sender
    from verifier.mail.sink import Sink
    from verifier.service import Verifier, VerifierSettings
    from verifier.settings import MailSettings
    from verifier.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="mail-bench-"))
    sink = Sink(tmp / "mail").start()
    if args.db == "postgresql":
        from verifier_bench import postgres_database

        database = postgres_database()
        url = database.__enter__()
    else:
        database, url = None, f"sqlite:///{tmp}/v.db"
    store = open_store(url)
    try:
        verifier = Verifier(store, VerifierSettings(server_key=base64.b64encode(os.urandom(32)).decode()))
        verifier.update_notice_settings(enabled=True)
        verifier.set_policy("none")
        with store.tx() as tx:
            tx.run_many("INSERT INTO users (username, groups_json, created, email, mail_off) VALUES (?, '[]', 0, ?, "
                        "'[]')", [(f"u{i:06d}", f"u{i:06d}@example.com") for i in range(args.users)])
        started = time.perf_counter()
        verifier.set_policy("all")
        print(f"policy change with {args.users} enforcement mails in its transaction: "
              f"{time.perf_counter() - started:.2f} s", flush=True)
        sender = Sender(store, MailSettings(host=sink.host, port=sink.port, security="none",
                                            from_address="bench@example.com", batch=args.batch))
        wall, cpu, sent = time.perf_counter(), time.process_time(), 0
        while handled := sender.deliver_due():
            sent += handled
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert sink.count() == sent == args.users, (sink.count(), sent)
        print(f"{args.db}: {sent} mails delivered in {wall:.1f} s = {sent / wall:.0f}/s; {cpu / sent * 1000:.2f} ms "
              "of this process's CPU per mail (sender and sink)", flush=True)
    finally:
        store.close()
        sink.stop()
        if database is not None:
            database.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
