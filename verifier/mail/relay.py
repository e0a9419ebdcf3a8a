"""One SMTP session with the configured relay, through the standard library's ``smtplib``.

STARTTLS (``SMTP`` then ``starttls``) or implicit TLS (``SMTP_SSL``), both with a default SSL context (the
relay's certificate checked against the system's CAs, or ``MailSettings.cafile``, and its host name), then
AUTH when a user is configured. What the relay answers is sorted into three outcomes the sender acts on:
accepted (``send`` returns), refused for this mail (:class:`Refused`, ``permanent`` for a 5xx), and the relay
itself unusable (:class:`RelayDown`: unreachable, TLS or AUTH failed, disconnected, a timeout).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ..settings import MailSettings


class RelayDown(Exception):
    """The relay cannot take mail now (every mail waits and is tried again later)."""


class Refused(Exception):
    """The relay refused this one mail: for good (5xx) or for now (4xx)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _answer(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(text.split())[:200]}"


class Relay:
    """A connection to the relay, opened at the first ``send`` and reused until ``close``."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.cafile)
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host or "", s.relay_port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host or "", s.relay_port, timeout=s.timeout)
            try:
                smtp.ehlo()
                if s.security == "starttls":
                    smtp.starttls(context=context)  # raises SMTPNotSupportedError when the relay offers none
                    smtp.ehlo()
                if s.username is not None:
                    smtp.login(s.username, s.password or "")
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayDown(f"the relay refused the SMTP login: {_answer(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise RelayDown(f"the relay does not offer what is configured (STARTTLS or AUTH): {exc}") from None
        except ssl.SSLError as exc:
            raise RelayDown(f"TLS with the relay failed: {exc.reason or exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayDown(f"cannot reach the relay {s.host}:{s.relay_port}: {type(exc).__name__}: {exc}") from None
        return smtp

    def send(self, msg: EmailMessage, recipient: str) -> None:
        """Hand one mail to the relay for ``recipient``; returns when the relay accepted it (250 after DATA)."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(msg, from_addr=self.settings.from_address, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise Refused(f"the relay refused the recipient: {_answer(code, text)}", permanent=code >= 500) from None
        except smtplib.SMTPDataError as exc:
            raise Refused(f"the relay refused the mail: {_answer(exc.smtp_code, exc.smtp_error)}",
                          permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:  # sender refused, disconnected, timeout: the relay's state
            self.close()
            raise RelayDown(f"the relay failed during a send: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        """End the session (QUIT when the relay still answers)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
