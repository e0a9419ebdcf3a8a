"""The mock tracker's local mail sink: an SMTP server on 127.0.0.1 that keeps every mail it receives as a file in
a Maildir (the standard library's ``mailbox``), where any mail program reads it (``mutt -f DIR``).

The SMTP server is aiosmtpd, from the ``devtools`` extra (what ``install.py`` and the tests install), not the
``verifier`` extra: a production verifier never runs a sink. Without it, :class:`SinkUnavailable` says what to
install, and the mock runs without a sink (its notices wait in the outbox, which the admin page shows).
"""

from __future__ import annotations

import mailbox
import os
from pathlib import Path
from typing import Any


class SinkUnavailable(Exception):
    """The sink cannot run here (aiosmtpd is not installed); the message says what to do."""


class Sink:
    """A plain SMTP server on 127.0.0.1 (a port of its own), delivering into ``maildir``."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = Path(maildir)
        self.host = "127.0.0.1"
        self.port = 0
        self._controller: Any = None

    def start(self) -> Sink:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise SinkUnavailable("aiosmtpd is not installed (pip install 'tracker2fa[devtools]')") from None
        self.maildir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        box = mailbox.Maildir(self.maildir, create=True)

        class Keep:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                box.add(mailbox.MaildirMessage(envelope.original_content or envelope.content))
                return "250 OK: kept in the mock's Maildir"

        class OnAnyPort(Controller):
            def _trigger_server(self) -> None:  # learn the port the kernel chose before aiosmtpd connects to it
                self.port = self.server.sockets[0].getsockname()[1]
                super()._trigger_server()

        os.chmod(self.maildir, 0o700)  # the mails are the developer's only (mailbox makes cur/new/tmp 0700)
        self._controller = OnAnyPort(Keep(), hostname=self.host, port=0)
        self._controller.start()
        self.port = self._controller.port
        return self

    def count(self) -> int:
        """How many mails the Maildir holds."""
        return len(mailbox.Maildir(self.maildir, create=False))

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
