"""The verifier's service layer: one module per factor or concern around one gate.

``Verifier`` (facade.py) is what callers hold; gate.py applies rate limits and writes audit events;
users.py, totp.py, backup_codes.py, webauthn.py, devices.py and policy.py each own one concern;
results.py holds the typed results. The rules themselves are pure functions in :mod:`verifier.core`.
"""

from ..errors import BadRequest, CredentialNotFound, InvalidPolicy, UserExists, UserNotFound, WebAuthnRejected
from ..settings import VerifierSettings
from .facade import Verifier
from .results import (
    CeremonyStart,
    CredentialInfo,
    PolicySettings,
    SessionInfo,
    TotpEnrolment,
    UserStatus,
    VerifyResult,
)
from .users import check_name

__all__ = [
    "BadRequest", "CeremonyStart", "CredentialInfo", "CredentialNotFound", "InvalidPolicy", "PolicySettings",
    "SessionInfo", "TotpEnrolment", "UserExists", "UserNotFound", "UserStatus", "Verifier", "VerifierSettings",
    "VerifyResult", "WebAuthnRejected", "check_name",
]
