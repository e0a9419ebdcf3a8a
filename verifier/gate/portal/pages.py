"""HTML of the gate's portal. Plain functions returning strings; every value is escaped here.

Every interactive element has an ``id`` and the same ``data-testid`` (listed in docs/gate.md); the code
field carries ``autocomplete="one-time-code"`` so browsers, password managers and the tracker2fa extension
recognise it. ``rd`` (where to go back after login, already checked) travels in a hidden field.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from html import escape

from ...service import CredentialInfo, TotpEnrolment

PRODUCT = "tracker2fa gate"


def e(value: object) -> str:
    """Escape ``value`` for HTML text and attribute context."""
    return escape(str(value), quote=True)


def tid(name: str) -> str:
    return f'id="{e(name)}" data-testid="{e(name)}"'


def rd_field(rd: str | None) -> str:
    return f'<input type="hidden" name="rd" value="{e(rd)}">' if rd else ""


def error_line(name: str, message: str | None) -> str:
    hidden = "" if message else " hidden"
    return f'<p class="error" role="alert" {tid(name)}{hidden}>{e(message or "")}</p>'


def layout(title: str, body: str, *, page: str, user: str | None = None, notice: str | None = None,
           rd: str | None = None) -> str:
    who = f'<span class="who" {tid("current-user")}>{e(user)}</span>' if user else ""
    notice_html = f'<p class="notice" role="status" {tid("notice")}>{e(notice)}</p>' if notice else ""
    rd_attr = f' data-rd="{e(rd)}"' if rd else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{e(title)} · {PRODUCT}</title>
<link rel="stylesheet" href="/static/gate.css">
<script src="/shared/webauthn_json.js" defer></script>
<script src="/static/gate.js" defer></script>
</head><body data-page="{e(page)}"{rd_attr}>
<header class="bar"><span class="brand">{PRODUCT}</span>{who}</header>
<main>{notice_html}{body}</main>
</body></html>"""


def login_page(*, rd: str | None, error: str | None = None, username: str = "", notice: str | None = None,
               directory: str = "password") -> str:
    what = "directory password" if directory == "ldap" else "password"
    body = f"""<section class="card"><h1 {tid("login-title")}>Log in</h1>
<p>Sign in to continue{' to the page you asked for' if rd else ''}.</p>
<form method="post" action="/login" {tid("login-form")}>{rd_field(rd)}
<label for="login-username">Username</label>
<input name="username" autocomplete="username" autocapitalize="off" spellcheck="false" required
 value="{e(username)}" {tid("login-username")}>
<label for="login-password">Your {e(what)}</label>
<input name="password" type="password" autocomplete="current-password" required {tid("login-password")}>
{error_line("login-error", error)}
<button type="submit" class="primary" {tid("login-submit")}>Log in</button>
</form></section>"""
    return layout("Log in", body, page="login", notice=notice, rd=rd)


def second_factor_page(username: str, *, rd: str | None, error: str | None = None, has_totp: bool = True,
                       keys: int = 0, backup_left: int = 0, remember_days: int = 0) -> str:
    remember = ""
    if remember_days > 0:
        remember = (f'<label class="check"><input type="checkbox" name="remember" value="1" {tid("remember-device")}>'
                    f' Trust this browser for {remember_days} days</label>')
    code_form = ""
    if has_totp:
        code_form = f"""<form method="post" action="/2fa" {tid("otp-form")}>{rd_field(rd)}
<label for="otp-code">Verification code</label>
<input name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" pattern="[0-9 ]*"
 autofocus {tid("otp-code")}>
{remember}
{error_line("otp-error", error)}
<button type="submit" class="primary" {tid("otp-submit")}>Verify</button></form>"""
    elif error:
        code_form = error_line("otp-error", error)
    key = ""
    if keys:
        key = (f'<div class="alt"><button type="button" {tid("use-security-key")}>Use security key</button>'
               f'{error_line("webauthn-error", None)}</div>')
    backup = ""
    if backup_left:
        backup = (f'<p><a href="/2fa/backup{_rd_query(rd)}" {tid("use-backup-code")}>Use a backup code</a> '
                  f'<span class="hint">({backup_left} left)</span></p>')
    body = f"""<section class="card"><h1 {tid("second-factor-title")}>Two-step verification</h1>
<p>Signed in as <strong {tid("second-factor-user")}>{e(username)}</strong>.
{"Enter the code from your authenticator app." if has_totp else "Confirm with your security key."}</p>
{code_form}{key}{backup}{_logout_form(rd)}</section>"""
    return layout("Two-step verification", body, page="second-factor", user=username, rd=rd)


def backup_code_page(username: str, *, rd: str | None, error: str | None = None, remember_days: int = 0) -> str:
    remember = ""
    if remember_days > 0:
        remember = (f'<label class="check"><input type="checkbox" name="remember" value="1" '
                    f'{tid("backup-remember-device")}> Trust this browser for {remember_days} days</label>')
    body = f"""<section class="card"><h1 {tid("backup-title")}>Use a backup code</h1>
<p>Each backup code works once.</p>
<form method="post" action="/2fa/backup" {tid("backup-form")}>{rd_field(rd)}
<label for="backup-code">Backup code</label>
<input name="code" autocomplete="off" autocapitalize="off" spellcheck="false" autofocus {tid("backup-code")}>
{remember}
{error_line("backup-error", error)}
<button type="submit" class="primary" {tid("backup-submit")}>Verify</button></form>
<p><a href="/2fa{_rd_query(rd)}" {tid("back-to-code")}>Use another way</a></p></section>"""
    return layout("Backup code", body, page="backup", user=username, rd=rd)


def enrol_page(username: str, enrolment: TotpEnrolment, *, rd: str | None, error: str | None = None) -> str:
    qr = base64.b64encode(enrolment.qr_svg.encode()).decode()
    body = f"""<section class="card"><h1 {tid("enrol-title")}>Set up two-step verification</h1>
<p>Your administrator requires two-step verification for <strong>{e(username)}</strong>.
Scan this QR code with your authenticator app.</p>
<img alt="QR code for your authenticator app" src="data:image/svg+xml;base64,{qr}" {tid("totp-qr")}>
<p>Can't scan it? Add this URI or secret to your authenticator app:</p>
<p><code class="uri" {tid("totp-uri")}>{e(enrolment.uri)}</code></p>
<p>Secret: <code {tid("totp-secret")}>{e(enrolment.secret)}</code></p>
<form method="post" action="/enrol" {tid("enrol-form")}>{rd_field(rd)}
<label for="enrol-code">Enter the code your app shows to confirm</label>
<input name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" {tid("enrol-code")}>
{error_line("enrol-error", error)}
<button type="submit" class="primary" {tid("enrol-submit")}>Confirm and turn on</button></form>
{_logout_form(rd)}</section>"""
    return layout("Set up two-step verification", body, page="enrol", user=username, rd=rd)


def backup_codes_page(username: str, codes: Iterable[str], *, continue_to: str) -> str:
    items = "".join(f"<li><code>{e(c)}</code></li>" for c in codes)
    body = f"""<section class="card"><h1 {tid("backup-codes-title")}>Your backup codes</h1>
<p>Keep these somewhere safe. Each works once; they will not be shown again.</p>
<ul class="codes" {tid("backup-codes")}>{items}</ul>
<p><a class="button primary" href="{e(continue_to)}" {tid("continue")}>I have saved them: continue</a></p></section>"""
    return layout("Backup codes", body, page="backup-codes", user=username)


def signed_in_page(username: str, level: int) -> str:
    state = "both factors" if level >= 2 else "your password (no second factor yet)"
    body = f"""<section class="card"><h1 {tid("signed-in-title")}>You are signed in</h1>
<p {tid("signed-in")} data-level="{level}">Signed in as <strong>{e(username)}</strong> with {state}.
Open the page you wanted again.</p>
<p><a href="/settings" {tid("settings-link")}>Security keys and backup codes</a></p>
{_logout_form(None)}</section>"""
    return layout("Signed in", body, page="signed-in", user=username)


def logout_page(username: str | None, *, rd: str | None) -> str:
    if not username:
        body = f'<section class="card"><h1 {tid("logged-out")}>You are logged out</h1></section>'
        return layout("Logged out", body, page="logged-out")
    body = f"""<section class="card"><h1 {tid("logout-title")}>Log out</h1>
<p>Log <strong>{e(username)}</strong> out of every site behind this gate?</p>{_logout_form(rd)}</section>"""
    return layout("Log out", body, page="logout", user=username)


def logged_out_page(*, rd: str | None) -> str:
    back = f'<p><a href="{e(rd)}" {tid("log-in-again")}>Log in again</a></p>' if rd else ""
    body = f'<section class="card"><h1 {tid("logged-out")}>You are logged out</h1>{back}</section>'
    return layout("Logged out", body, page="logged-out")


def message_page(title: str, message: str, *, status_id: str, user: str | None = None) -> str:
    body = f'<section class="card"><h1 {tid(status_id)}>{e(title)}</h1><p>{e(message)}</p></section>'
    return layout(title, body, page=status_id, user=user)


def settings_page(username: str, keys: list[CredentialInfo], backup_left: int, *, notice: str | None = None) -> str:
    rows = "".join(f'<li data-testid="security-key" data-credential-id="{e(k.id)}">{e(k.name)}</li>' for k in keys)
    rows = rows or f'<li class="hint" {tid("no-keys")}>No security keys yet.</li>'
    body = f"""<section class="card"><h1 {tid("settings-title")}>Security keys and backup codes</h1>
<ul {tid("security-keys")}>{rows}</ul>
<label for="key-name">Name for a new key</label>
<input name="name" maxlength="64" value="My security key" {tid("key-name")}>
<button type="button" class="primary" {tid("register-key")}>Register security key</button>
{error_line("webauthn-error", None)}
<p {tid("backup-codes-left")}>{backup_left} unused backup codes.</p>
<form method="post" action="/settings/backup-codes">
<button type="submit" {tid("regenerate-backup-codes")}>Generate new backup codes</button></form>
{_logout_form(None)}</section>"""
    return layout("Security settings", body, page="settings", user=username, notice=notice)


def _rd_query(rd: str | None) -> str:
    from urllib.parse import quote

    return f"?rd={quote(rd, safe='')}" if rd else ""


def _logout_form(rd: str | None) -> str:
    return (f'<form method="post" action="/logout" class="inline">{rd_field(rd)}'
            f'<button type="submit" class="link" {tid("logout-submit")}>Log out</button></form>')
