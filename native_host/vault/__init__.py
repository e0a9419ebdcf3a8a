"""The encrypted TOTP vault."""
