"""Errors a security-key request can end with.

Each carries a stable ``code`` (sent over the host protocol) and the ``dom_name`` the extension raises
in the page (``DOMException`` name), so the mapping lives in one place.
"""

from __future__ import annotations

from native_host.errors import Tracker2faError


class FidoError(Tracker2faError):
    """A security-key request failed."""

    code = "fido_error"
    dom_name = "NotAllowedError"
    u2f_error_code = 1  # FIDO U2F JS API: OTHER_ERROR


class FidoBadRequest(FidoError):
    """The request options are malformed."""

    code = "fido_bad_request"
    dom_name = "TypeError"
    u2f_error_code = 2  # BAD_REQUEST


class OriginRefused(FidoError):
    """The origin may not make this request (not https, or the rpId/appId is not its own site)."""

    code = "fido_security_error"
    dom_name = "SecurityError"
    u2f_error_code = 2  # BAD_REQUEST (the U2F API has no security error; browsers used 2)


class CredentialExcluded(FidoError):
    """The key already holds a credential the site excluded (it is registered already)."""

    code = "fido_credential_excluded"
    dom_name = "InvalidStateError"
    u2f_error_code = 4  # DEVICE_INELIGIBLE


class NoCredential(FidoError):
    """None of the keys holds a credential the site asked for."""

    code = "fido_no_credential"
    dom_name = "NotAllowedError"
    u2f_error_code = 4  # DEVICE_INELIGIBLE


class NoDevice(FidoError):
    """No security key is connected (and no virtual key is configured)."""

    code = "fido_no_device"
    dom_name = "NotAllowedError"
    u2f_error_code = 5  # TIMEOUT: the page sees what a browser showed when no key was touched


class Cancelled(FidoError):
    """The request was cancelled (the page aborted, or the user closed the prompt)."""

    code = "fido_cancelled"
    dom_name = "AbortError"
    u2f_error_code = 5


class TimedOut(FidoError):
    """No key was touched before the request's timeout."""

    code = "fido_timeout"
    dom_name = "NotAllowedError"
    u2f_error_code = 5


class PinRequired(FidoError):
    """The key needs its PIN and none was given."""

    code = "fido_pin_required"
    dom_name = "NotAllowedError"


class PinInvalid(FidoError):
    """The PIN is wrong; the key counts the attempts."""

    code = "fido_pin_invalid"
    dom_name = "NotAllowedError"


class PinBlocked(FidoError):
    """The key blocked its PIN after too many wrong attempts: only a reset of the key (which deletes its
    credentials) makes it usable again."""

    code = "fido_pin_blocked"
    dom_name = "NotAllowedError"


class PinAuthBlocked(PinBlocked):
    """Three wrong PINs in a row: the key refuses PINs until it is removed and inserted again."""

    code = "fido_pin_auth_blocked"


class DeviceRemoved(FidoError):
    """The key was removed (or the Bluetooth link dropped) during the request."""

    code = "fido_device_removed"
    dom_name = "NotAllowedError"


class TransportError(FidoError):
    """A transport-level protocol failure (bad frame, wrong sequence, oversized message)."""

    code = "fido_transport_error"
