"""tracker2fa verifier: server-side checks for TOTP, backup codes and WebAuthn, and the mock tracker."""
