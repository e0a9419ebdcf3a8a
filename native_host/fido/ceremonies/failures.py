"""python-fido2 and transport exceptions → the ceremony's :mod:`..errors`, with the reason kept."""

from __future__ import annotations

from fido2.client import ClientError, PinRequiredError
from fido2.ctap import CtapError
from fido2.hid import ConnectionFailure

from ..discovery import KeyHandle
from ..errors import (
    Cancelled,
    CredentialExcluded,
    DeviceRemoved,
    FidoBadRequest,
    FidoError,
    NoCredential,
    PinAuthBlocked,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TimedOut,
)

ERR = CtapError.ERR


def _from_ctap(code: int, creating: bool) -> FidoError | None:
    if code == ERR.CREDENTIAL_EXCLUDED:
        return CredentialExcluded("this key is already registered for the site (excluded credential)")
    if code == ERR.NO_CREDENTIALS:
        return NoCredential("this key holds no credential for the site")
    if code == ERR.PIN_INVALID:
        return PinInvalid("wrong PIN")
    if code == ERR.PIN_BLOCKED:
        return PinBlocked("the key's PIN is blocked after too many wrong PINs: reset the key (this deletes its "
                          "credentials) to use it again")
    if code == ERR.PIN_AUTH_BLOCKED:
        return PinAuthBlocked("three wrong PINs in a row: remove the key, insert it again and retry")
    if code in (ERR.PUAT_REQUIRED,):
        return PinRequired("the key needs its PIN")
    if code == ERR.KEEPALIVE_CANCEL:
        return Cancelled("the request was cancelled on the key")
    if code in (ERR.ACTION_TIMEOUT, ERR.USER_ACTION_TIMEOUT):
        return TimedOut("the key was not touched in time")
    if code == ERR.OPERATION_DENIED:
        return FidoError("the user declined on the key", code="fido_not_allowed")
    return None


def to_fido_error(exc: BaseException, key: KeyHandle, *, creating: bool) -> FidoError:
    """The error a page should see for ``exc`` raised while ``key`` ran the ceremony."""
    if isinstance(exc, FidoError):
        return exc
    if isinstance(exc, PinRequiredError):
        return PinRequired("the key needs its PIN and none was entered")
    if isinstance(exc, ClientError):
        if isinstance(exc.cause, CtapError):
            mapped = _from_ctap(exc.cause.code, creating)
            if mapped is not None:
                return mapped
        if exc.code == ClientError.ERR.DEVICE_INELIGIBLE:
            return (CredentialExcluded("this key is already registered for the site") if creating
                    else NoCredential("this key holds no credential for the site"))
        if exc.code == ClientError.ERR.TIMEOUT:
            return TimedOut("the key was not touched in time")
        if exc.code == ClientError.ERR.BAD_REQUEST:
            return FidoBadRequest(f"the key refused the request: {exc.cause}")
        if exc.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED:
            return FidoError(f"{key.name} cannot do what the site asks: {exc.cause}", code="fido_unsupported")
        return FidoError(f"{key.name}: {exc.cause or exc.code.name}")
    if isinstance(exc, CtapError):
        return _from_ctap(exc.code, creating) or FidoError(f"{key.name} answered {exc.code!r}")
    if isinstance(exc, (OSError, ConnectionError, ConnectionFailure)) or "CardConnection" in type(exc).__name__:
        return DeviceRemoved(f"{key.name} was removed during the request")
    return FidoError(f"{key.name}: {type(exc).__name__}: {exc}")
