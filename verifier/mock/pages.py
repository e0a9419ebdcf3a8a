"""HTML of the mock tracker pages. Plain functions returning strings; every value is escaped here.

Selectors that tests and people rely on are stable: each interactive element has an ``id`` and the same
value as ``data-testid`` (listed in docs/mock-tracker.md).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable
from html import escape

from ..core.audit import AuditEvent
from ..core.notices import INFORMATIONAL, KINDS, LANGUAGES, NoticeSettings
from ..service import CredentialInfo, PolicySettings, TotpEnrolment, UserStatus
from ..service.results import MailPrefs, OutboxMail

# Audit fields shown in the activity feed, in order (never codes or secrets: the audit has none).
FEED_FIELDS = ("event", "username", "method", "credential", "result", "ip", "actor")
PRODUCT = "Jibra"  # a Jira-like tracker; the name makes it obvious this is a mock


def e(value: object) -> str:
    """Escape ``value`` for HTML text and attribute context."""
    return escape(str(value), quote=True)


def tid(name: str) -> str:
    """``id`` and ``data-testid`` attributes with the same stable name."""
    return f'id="{e(name)}" data-testid="{e(name)}"'


def csrf_field(token: str) -> str:
    """The hidden CSRF input every form carries."""
    return f'<input type="hidden" name="csrf_token" value="{e(token)}">'


def layout(title: str, body: str, *, csrf: str = "", user: str | None = None, flash: str | None = None,
           page: str = "", admin: bool = False) -> str:
    """The common frame: header bar, optional user menu, one-shot flash message, body.

    ``admin``: the signed-in user may open the admin pages; only then is "Administration" in the menu.
    """
    nav = ""
    if user:
        admin_link = f'<a href="/admin" {tid("nav-admin")}>Administration</a>' if admin else ""
        nav = (
            f'<nav class="topnav"><a href="/dashboard" {tid("nav-dashboard")}>Issues</a>'
            f'<a href="/account" {tid("nav-account")}>Account security</a>{admin_link}'
            f'<span class="who" {tid("current-user")}>{e(user)}</span>'
            f'<form method="post" action="/logout" class="inline">{csrf_field(csrf)}'
            f'<button type="submit" {tid("logout")}>Log out</button></form></nav>'
        )
    flash_html = f'<p class="flash" role="status" {tid("flash")}>{e(flash)}</p>' if flash else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(csrf)}">
<title>{e(title)} · {PRODUCT}</title>
<link rel="stylesheet" href="/static/mock.css">
<script src="/shared/webauthn_json.js" defer></script>
<script src="/static/mock.js" defer></script>
</head><body data-page="{e(page)}">
<header class="bar"><a class="brand" href="/">{PRODUCT}</a><span class="tag">mock tracker</span>{nav}</header>
<main>{flash_html}{body}</main>
</body></html>"""


def error_line(name: str, message: str | None) -> str:
    """An error paragraph (always present so tests can wait on it; hidden when empty)."""
    hidden = "" if message else " hidden"
    return f'<p class="error" role="alert" {tid(name)}{hidden}>{e(message or "")}</p>'


def login_page(csrf: str, *, error: str | None = None, username: str = "", flash: str | None = None) -> str:
    """Username and password."""
    body = f"""<section class="card"><h1 {tid("login-title")}>Log in to {PRODUCT}</h1>
<form method="post" action="/login" {tid("login-form")}>{csrf_field(csrf)}
<label for="login-username">Username</label>
<input name="username" autocomplete="username" required value="{e(username)}" {tid("login-username")}>
<label for="login-password">Password</label>
<input name="password" type="password" autocomplete="current-password" required {tid("login-password")}>
{error_line("login-error", error)}
<button type="submit" class="primary" {tid("login-submit")}>Log in</button>
</form></section>"""
    return layout("Log in", body, csrf=csrf, flash=flash, page="login")


def second_factor_page(csrf: str, username: str, *, error: str | None = None, has_totp: bool = True,
                       keys: int = 0, backup_left: int = 0) -> str:
    """The second-factor page: one-time code, security key, backup-code path, remember-device."""
    key_hint = "" if keys else '<p class="hint">No security key is registered for this account.</p>'
    totp_hint = "" if has_totp else '<p class="hint">No authenticator app is set up for this account.</p>'
    body = f"""<section class="card"><h1 {tid("second-factor-title")}>Two-step verification</h1>
<p>Signed in as <strong {tid("second-factor-user")}>{e(username)}</strong>.
Enter the 6-digit code from your authenticator app.</p>{totp_hint}
<form method="post" action="/2fa" {tid("otp-form")}>{csrf_field(csrf)}
<label for="otp-code">Verification code</label>
<input name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10"
 pattern="[0-9 ]*" autofocus {tid("otp-code")}>
<label class="check"><input type="checkbox" name="remember" value="1" {tid("remember-device")}>
Remember this device</label>
{error_line("otp-error", error)}
<button type="submit" class="primary" {tid("otp-submit")}>Verify</button>
</form>
<div class="alt"><button type="button" {tid("use-security-key")}>Use security key</button>{key_hint}
{error_line("webauthn-error", None)}
<p><a href="/2fa/backup" {tid("use-backup-code")}>Use a backup code</a>
<span class="hint">({backup_left} left)</span></p>
<form method="post" action="/login/cancel" class="inline">{csrf_field(csrf)}
<button type="submit" class="link" {tid("cancel-login")}>Cancel</button></form></div>
</section>"""
    return layout("Two-step verification", body, csrf=csrf, page="second-factor")


def backup_code_page(csrf: str, username: str, *, error: str | None = None) -> str:
    """Log in with one of the user's backup codes."""
    body = f"""<section class="card"><h1 {tid("backup-title")}>Use a backup code</h1>
<p>Signed in as <strong>{e(username)}</strong>. Each backup code works once.</p>
<form method="post" action="/2fa/backup" {tid("backup-form")}>{csrf_field(csrf)}
<label for="backup-code">Backup code</label>
<input name="code" autocomplete="off" autocapitalize="off" spellcheck="false" autofocus {tid("backup-code")}>
<label class="check"><input type="checkbox" name="remember" value="1" {tid("backup-remember-device")}>
Remember this device</label>
{error_line("backup-error", error)}
<button type="submit" class="primary" {tid("backup-submit")}>Verify</button>
</form><p><a href="/2fa" {tid("back-to-code")}>Use a verification code instead</a></p></section>"""
    return layout("Backup code", body, csrf=csrf, page="backup")


def qr_img(svg: str) -> str:
    """The enrolment QR code as an <img> (a data: URI keeps the CSP free of inline content)."""
    data = base64.b64encode(svg.encode()).decode()
    return f'<img alt="QR code for your authenticator app" src="data:image/svg+xml;base64,{data}" {tid("totp-qr")}>'


def enrol_fields(csrf: str, action: str, enrolment: TotpEnrolment, error: str | None, *, first_login: bool) -> str:
    """QR code, the otpauth URI and the secret as text, and the confirm-by-first-code form."""
    cancel = "" if first_login else f'<p><a href="/account" {tid("enrol-cancel")}>Cancel</a></p>'
    return f"""{qr_img(enrolment.qr_svg)}
<p>Can't scan it? Add this URI or secret to your authenticator app:</p>
<p><code class="uri" {tid("totp-uri")}>{e(enrolment.uri)}</code></p>
<p>Secret: <code {tid("totp-secret")}>{e(enrolment.secret)}</code></p>
<form method="post" action="{e(action)}" {tid("enrol-form")}>{csrf_field(csrf)}
<label for="enrol-code">Enter the code your app shows to confirm</label>
<input name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" {tid("enrol-code")}>
{error_line("enrol-error", error)}
<button type="submit" class="primary" {tid("enrol-submit")}>Confirm and turn on</button>
</form>{cancel}"""


def first_login_enrol_page(csrf: str, username: str, enrolment: TotpEnrolment, *, error: str | None = None) -> str:
    """Policy requires 2FA and the user has none: enrol TOTP before going further."""
    body = f"""<section class="card"><h1 {tid("enrol-title")}>Set up two-step verification</h1>
<p>Your administrator requires two-step verification for <strong>{e(username)}</strong>.
Scan this QR code with your authenticator app.</p>
{enrol_fields(csrf, "/enrol", enrolment, error, first_login=True)}
<form method="post" action="/login/cancel" class="inline">{csrf_field(csrf)}
<button type="submit" class="link" {tid("cancel-login")}>Cancel</button></form></section>"""
    return layout("Set up two-step verification", body, csrf=csrf, page="enrol")


def backup_codes_page(csrf: str, codes: Iterable[str], *, next_url: str) -> str:
    """The freshly generated backup codes, shown exactly once."""
    items = "".join(f"<li><code>{e(c)}</code></li>" for c in codes)
    body = f"""<section class="card"><h1 {tid("backup-codes-title")}>Your backup codes</h1>
<p>Keep these somewhere safe. Each works once; they will not be shown again.</p>
<ul class="codes" {tid("backup-codes")}>{items}</ul>
<form method="post" action="/backup-codes/ack">{csrf_field(csrf)}<input type="hidden" name="next" value="{e(next_url)}">
<button type="submit" class="primary" {tid("backup-codes-continue")}>I have saved them</button></form></section>"""
    return layout("Backup codes", body, csrf=csrf, page="backup-codes")


def ip_page(port: int | None, path: str) -> str:
    """Shown when the mock is opened by IP address: WebAuthn refuses IP origins."""
    target = f"http://localhost:{port}{path}" if port else f"http://localhost{path}"
    body = f"""<section class="card"><h1 {tid("use-localhost-title")}>Open this tracker at localhost</h1>
<p {tid("use-localhost-message")}>This mock tracker must be opened as <strong>http://localhost</strong>, not by IP
address: browsers refuse security keys (WebAuthn) on IP origins, and the login cookies belong to localhost.</p>
<p><a href="{e(target)}" {tid("use-localhost-link")}>{e(target)}</a></p></section>"""
    return layout("Use localhost", body, page="use-localhost")


def behind_gate_page() -> str:
    """A request that did not come through the gate (this mock runs with ``--behind-gate``)."""
    body = f"""<section class="card"><h1 {tid("behind-gate-title")}>Open this tracker through the gate</h1>
<p {tid("behind-gate-message")}>This {PRODUCT} runs behind the tracker2fa gate: it signs people in from the
<code>Remote-User</code> header that the proxy sets after the gate's login, and this request did not come through
that proxy.</p></section>"""
    return layout("Open through the gate", body, page="behind-gate")


ISSUES = [
    ("JIB-101", "Login page times out behind the corporate proxy", "In Progress", "alice"),
    ("JIB-102", "Export board as CSV", "To Do", "bob"),
    ("JIB-103", "Security keys: show the key's name in the activity log", "Done", "admin"),
    ("JIB-104", "Backlog filter forgets the sprint", "To Do", "alice"),
]


def dashboard_page(csrf: str, username: str, *, flash: str | None = None, admin: bool = False) -> str:
    """A small Jira-like issue list: proof that the login went through."""
    rows = "".join(
        f'<tr data-issue="{e(k)}"><td>{e(k)}</td><td>{e(s)}</td><td>{e(st)}</td><td>{e(a)}</td></tr>'
        for k, s, st, a in ISSUES
    )
    body = f"""<h1 {tid("dashboard-title")}>Your work</h1>
<p {tid("welcome")}>Welcome, {e(username)}.</p>
<table class="grid" {tid("issues")}><thead><tr><th>Key</th><th>Summary</th><th>Status</th><th>Assignee</th></tr>
</thead><tbody>{rows}</tbody></table>"""
    return layout("Dashboard", body, csrf=csrf, user=username, flash=flash, page="dashboard", admin=admin)


NOTICE_LABELS = {
    "key_added": "A second factor was added", "key_removed": "A second factor was removed",
    "backup_codes_regenerated": "New backup codes", "account_locked": "Sign-ins paused after failed attempts",
    "devices_revoked": "Remembered devices forgotten", "user_reset": "Reset by an administrator",
    "new_device": "A device was remembered", "new_network": "Sign-in from a new network",
    "policy_enforced": "Two-step verification now required", "enrol_reminder": "Reminder before the deadline",
    "backup_codes_low": "Backup codes running low",
}
LANGUAGE_LABELS = {"en": "English", "de": "Deutsch"}


def _mail_section(csrf: str, prefs: MailPrefs) -> str:
    """The user's own mail choices: language, and the informational notices (security ones always go)."""
    address = e(prefs.email) if prefs.email else "none (ask an administrator to set one)"
    languages = "".join(f'<option value="{code}"{" selected" if prefs.language == code else ""}>'
                        f'{LANGUAGE_LABELS[code]}</option>' for code in LANGUAGES)
    boxes = "".join(
        f'<label class="check"><input type="checkbox" name="wanted" value="{kind}" data-testid="mail-wanted"'
        f'{"" if kind in prefs.off else " checked"}> {e(NOTICE_LABELS[kind])}</label>' for kind in INFORMATIONAL)
    always = ", ".join(NOTICE_LABELS[k].lower() for k in prefs.always_sent)
    return f"""<section class="card wide"><h2>Email notifications</h2>
<p>Notices go to <strong {tid("mail-address")}>{address}</strong>.</p>
<form method="post" action="/account/notifications" {tid("mail-prefs-form")}>{csrf_field(csrf)}
<label for="mail-language">Language</label><select name="language" {tid("mail-language")}>
<option value=""{"" if prefs.language else " selected"}>The tracker's default</option>{languages}</select>
<fieldset><legend>Informational notices</legend>{boxes}</fieldset>
<p class="hint">Security notices always go: {e(always)}.</p>
<button type="submit" {tid("mail-prefs-save")}>Save notifications</button></form></section>"""


def account_page(csrf: str, username: str, status: UserStatus, credentials: list[CredentialInfo], *,
                 flash: str | None = None, admin: bool = False, mail: MailPrefs | None = None) -> str:
    """Account security: TOTP, security keys, backup codes, remembered devices, email notifications."""
    if status.totp:
        remove = (
            f'<form method="post" action="/account/totp/remove" class="inline">{csrf_field(csrf)}'
            f'<button type="submit" class="danger" {tid("totp-remove")}>Remove authenticator app</button></form>'
        )
        totp = f'<p {tid("totp-status")} data-enrolled="true">Authenticator app: on.</p>{remove}'
    else:
        totp = (
            f'<p {tid("totp-status")} data-enrolled="false">Authenticator app: off.</p>'
            f'<p><a class="button" href="/account/totp" {tid("totp-enrol")}>Set up authenticator app</a></p>'
        )
    keys = "".join(_key_row(csrf, c) for c in credentials) or f'<li class="hint" {tid("no-keys")}>No keys yet.</li>'
    body = f"""<h1 {tid("account-title")}>Account security</h1>
<section class="card wide"><h2>Authenticator app (TOTP)</h2>{totp}</section>
<section class="card wide"><h2>Security keys</h2>
<ul class="keys" {tid("security-keys")}>{keys}</ul>
<label for="key-name">Name for a new key</label>
<input name="name" maxlength="64" value="My security key" {tid("key-name")}>
<button type="button" class="primary" {tid("register-key")}>Register security key</button>
{error_line("webauthn-error", None)}</section>
<section class="card wide"><h2>Backup codes</h2>
<p {tid("backup-codes-left")}>{status.backup_codes_left} unused backup codes.</p>
<form method="post" action="/account/backup-codes">{csrf_field(csrf)}
<button type="submit" {tid("regenerate-backup-codes")}>Generate new backup codes</button></form></section>
<section class="card wide"><h2>Remembered devices</h2>
<form method="post" action="/account/devices/revoke">{csrf_field(csrf)}
<button type="submit" {tid("revoke-devices")}>Forget all remembered devices</button></form></section>
{_mail_section(csrf, mail) if mail is not None else ""}"""
    return layout("Account security", body, csrf=csrf, user=username, flash=flash, page="account", admin=admin)


def _key_row(csrf: str, cred: CredentialInfo) -> str:
    cid, name, counter = cred.id, cred.name, cred.sign_count
    return f"""<li class="key" data-credential-id="{e(cid)}" data-testid="security-key">
<span class="key-name">{e(name)}</span> <span class="hint">sign count {e(counter)}</span>
<form method="post" action="/account/keys/rename" class="inline">{csrf_field(csrf)}
<input type="hidden" name="credential_id" value="{e(cid)}"><input name="name" maxlength="64" value="{e(name)}"
 class="key-rename-name" data-testid="key-rename-name">
<button type="submit" class="key-rename" data-testid="key-rename">Rename</button></form>
<form method="post" action="/account/keys/remove" class="inline">{csrf_field(csrf)}
<input type="hidden" name="credential_id" value="{e(cid)}">
<button type="submit" class="danger key-remove" data-testid="key-remove">Remove</button></form></li>"""


def account_totp_page(csrf: str, username: str, enrolment: TotpEnrolment, *, error: str | None = None,
                      admin: bool = False) -> str:
    """Enrol TOTP from the account page."""
    body = f"""<section class="card"><h1 {tid("enrol-title")}>Set up authenticator app</h1>
{enrol_fields(csrf, "/account/totp", enrolment, error, first_login=False)}</section>"""
    return layout("Set up authenticator app", body, csrf=csrf, user=username, page="account-totp", admin=admin)


def forbidden_page(csrf: str, username: str, admin_groups: tuple[str, ...]) -> str:
    """A signed-in user who is not an administrator: why, who can change that, and the way back."""
    groups = " or ".join(f"<code>{e(g)}</code>" for g in admin_groups) or "an administrators' group"
    first_group = admin_groups[0] if admin_groups else "jira-administrators"
    body = f"""<section class="card"><h1 {tid("forbidden")}>Administrators only</h1>
<p {tid("forbidden-reason")}>The administration pages (second-factor policy, user resets, activity) are for
members of {groups}. You are signed in as <strong>{e(username)}</strong>, who is not one.</p>
<p>If you need them, ask an administrator to add you, e.g. on the command line:
<code>tracker2fa verifier admin add-to-group {e(username)} {e(first_group)}</code>.</p>
<p><a href="/dashboard" {tid("forbidden-back")}>Back to your issues</a> ·
<a href="/account" {tid("forbidden-account")}>Your account security</a></p></section>"""
    return layout("Administrators only", body, csrf=csrf, user=username, page="forbidden")


def _deadline_value(policy: PolicySettings) -> str:
    deadline = policy.enrol_deadline
    return dt.datetime.fromtimestamp(deadline, dt.UTC).strftime("%Y-%m-%d") if deadline else ""


def _notices_section(csrf: str, settings: NoticeSettings, outbox: list[OutboxMail], counts: dict[str, int],
                     mail_note: str) -> str:
    """Mail to users: the admin's switches, and the outbox (each mail with its state and a preview link)."""
    kinds = "".join(
        f'<label class="check"><input type="checkbox" name="sent" value="{kind}" data-testid="notice-kind"'
        f'{"" if kind in settings.off else " checked"}> {e(NOTICE_LABELS[kind])}'
        f'{" (informational)" if kind in INFORMATIONAL else ""}</label>' for kind in KINDS)
    languages = "".join(f'<option value="{code}"{" selected" if settings.language == code else ""}>'
                        f'{LANGUAGE_LABELS[code]}</option>' for code in LANGUAGES)
    rows = "".join(
        f'<tr data-testid="outbox-row" data-status="{e(m.status)}" data-kind="{e(m.kind)}" data-id="{m.id}">'
        f'<td><a href="/admin/outbox/{m.id}" data-testid="outbox-preview">{m.id}</a></td>'
        f'<td>{e(dt.datetime.fromtimestamp(m.created, dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))}</td>'
        f'<td>{e(m.kind)}</td><td>{e(m.username)}</td><td>{e(m.status)}</td><td>{m.attempts}</td>'
        f'<td>{e(m.recipient or "")}</td><td>{e(m.last_error or "")}</td></tr>' for m in outbox)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"""<section class="card wide" id="notifications"><h2>Email notifications</h2>
<form method="post" action="/admin/notifications" {tid("notices-form")}>{csrf_field(csrf)}
<label class="check"><input type="checkbox" name="enabled" value="on" {tid("notices-enabled")}
{" checked" if settings.enabled else ""}> Mail users</label>
<fieldset><legend>Notices sent</legend>{kinds}</fieldset>
<label for="notices-language">Language of users who chose none</label>
<select name="language" {tid("notices-language")}>{languages}</select>
<label for="notices-timezone">Time zone of times in mails</label>
<input name="timezone" value="{e(settings.timezone)}" {tid("notices-timezone")}>
<label for="notices-reminder-days">Enrolment reminder, days before the deadline (0: none)</label>
<input name="reminder_days" type="number" min="0" max="90" value="{settings.reminder_days}"
 {tid("notices-reminder-days")}>
<label for="notices-account-url">Where users manage their factors (named in mails)</label>
<input name="account_url" value="{e(settings.account_url)}" {tid("notices-account-url")}>
<label for="notices-contact">Whom users tell when it was not them</label>
<input name="contact" value="{e(settings.contact)}" {tid("notices-contact")}>
<button type="submit" {tid("notices-save")}>Save notifications</button></form></section>
<section class="card wide" id="outbox"><h2>Outbox <span class="hint" {tid("outbox-counts")}>({e(summary)})</span></h2>
<p class="hint" {tid("outbox-note")}>{e(mail_note)}</p>
<table class="grid" {tid("outbox")}><thead><tr><th>#</th><th>Created (UTC)</th><th>Notice</th><th>User</th>
<th>State</th><th>Tries</th><th>Sent to</th><th>Last error</th></tr></thead><tbody>{rows}</tbody></table></section>"""


def outbox_mail_page(csrf: str, username: str, mail: OutboxMail, subject: str, recipient: str, text: str) -> str:
    """One outbox mail as its recipient reads it (the plain-text part)."""
    body = f"""<section class="card wide"><h1 {tid("mail-subject")}>{e(subject)}</h1>
<p>Notice <code>{e(mail.kind)}</code> to <strong {tid("mail-recipient")}>{e(recipient)}</strong>, {e(mail.status)}.</p>
<pre class="mail" {tid("mail-text")}>{e(text)}</pre>
<p><a href="/admin#outbox" {tid("mail-back")}>Back to the outbox</a></p></section>"""
    return layout(subject, body, csrf=csrf, user=username, page="outbox-mail", admin=True)


def admin_page(csrf: str, username: str, policy: PolicySettings, users: list[UserStatus], events: list[AuditEvent],
               *, flash: str | None = None, notices: NoticeSettings | None = None,
               outbox: list[OutboxMail] = (), outbox_counts: dict[str, int] | None = None,
               mail_note: str = "") -> str:
    """Policy, users (reset, exclude, revoke devices, mail address), group reset, email notifications and the
    outbox, and the live activity feed."""
    mode = policy.mode
    options = "".join(
        f'<option value="{m}"{" selected" if m == mode else ""}>{label}</option>'
        for m, label in (("none", "Not required"), ("all", "Required for everyone"),
                         ("groups", "Required for these groups"), ("all_except_groups", "Everyone except these groups"))
    )
    algorithms = "".join(f'<option value="{a}"{" selected" if a == policy.totp_algorithm else ""}>{a}</option>'
                         for a in ("SHA1", "SHA256", "SHA512"))
    groups = ", ".join(policy.groups)
    allow = "\n".join(policy.ip_allowlist)
    rows = "".join(_user_row(csrf, u) for u in users)
    feed = "".join(event_item(ev) for ev in events)
    body = f"""<h1 {tid("admin-title")}>Two-step verification administration</h1>
<section class="card wide"><h2>Policy</h2>
<form method="post" action="/admin/policy" {tid("policy-form")}>{csrf_field(csrf)}
<label for="policy-mode">Enforcement</label><select name="mode" {tid("policy-mode")}>{options}</select>
<label for="policy-groups">Groups (comma-separated)</label>
<input name="groups" value="{e(groups)}" {tid("policy-groups")}>
<label for="policy-ip-allowlist">IP allowlist: skip the second factor from these networks (CIDR, one a line)</label>
<textarea name="ip_allowlist" rows="3" {tid("policy-ip-allowlist")}>{e(allow)}</textarea>
<label for="policy-remember-days">Remember a device for (days, 0 = never)</label>
<input name="remember_days" type="number" min="0" max="365" value="{e(policy.remember_days)}"
 {tid("policy-remember-days")}>
<fieldset {tid("policy-totp")}><legend>Authenticator app codes</legend>
<p class="hint">Digits, period, algorithm and issuer apply to new enrolments; users enrolled before keep theirs.
The accepted window applies to every code.</p>
<label for="policy-totp-digits">Code digits (6–8)</label>
<input name="totp_digits" type="number" min="6" max="8" value="{e(policy.totp_digits)}" {tid("policy-totp-digits")}>
<label for="policy-totp-period">Code period (seconds, 15–300)</label>
<input name="totp_period" type="number" min="15" max="300" value="{e(policy.totp_period)}" {tid("policy-totp-period")}>
<label for="policy-totp-algorithm">Algorithm</label>
<select name="totp_algorithm" {tid("policy-totp-algorithm")}>{algorithms}</select>
<label for="policy-totp-window">Accepted window (periods either side of now, 0–10)</label>
<input name="totp_window" type="number" min="0" max="10" value="{e(policy.totp_window)}" {tid("policy-totp-window")}>
<label for="policy-issuer">Issuer shown in authenticator apps (empty: the tracker's name)</label>
<input name="issuer" maxlength="100" value="{e(policy.issuer)}" {tid("policy-issuer")}></fieldset>
<label for="policy-enrol-deadline">Enrolment deadline (told in mails; empty: none)</label>
<input name="enrol_deadline" type="date" value="{_deadline_value(policy)}" {tid("policy-enrol-deadline")}>
{error_line("policy-error", None)}
<button type="submit" class="primary" {tid("policy-save")}>Save policy</button></form></section>
<section class="card wide"><h2>Users</h2>
<table class="grid" {tid("users")}><thead><tr><th>User</th><th>Groups</th><th>Email</th><th>App</th><th>Keys</th>
<th>Backup codes</th><th>2FA required</th><th>Locked until</th><th></th></tr></thead><tbody>{rows}</tbody></table>
<form method="post" action="/admin/email" {tid("email-form")}>{csrf_field(csrf)}
<label for="email-username">Set a user's mail address (empty: none)</label>
<input name="username" placeholder="username" {tid("email-username")}>
<input name="email" type="email" placeholder="name@example.com" {tid("email-address")}>
<button type="submit" {tid("email-submit")}>Set address</button></form>
<form method="post" action="/admin/exclude" {tid("exclude-form")}>{csrf_field(csrf)}
<label for="exclude-username">Exclude a user from 2FA until</label>
<input name="username" placeholder="username" {tid("exclude-username")}>
<input name="until" type="date" {tid("exclude-until")}>
<button type="submit" {tid("exclude-submit")}>Exclude</button></form>
<form method="post" action="/admin/reset-group" {tid("reset-group-form")}>{csrf_field(csrf)}
<label for="reset-group-name">Reset every factor of a group</label>
<input name="group" placeholder="group" {tid("reset-group-name")}>
<button type="submit" class="danger" {tid("reset-group-submit")}>Reset group</button></form></section>
{_notices_section(csrf, notices, list(outbox), outbox_counts or {}, mail_note) if notices is not None else ""}
<section class="card wide"><h2>Activity <span class="hint" {tid("activity-live")}>(connecting…)</span></h2>
<ul class="feed" {tid("activity-feed")}>{feed}</ul></section>"""
    return layout("Administration", body, csrf=csrf, user=username, flash=flash, page="admin", admin=True)


def _user_row(csrf: str, user: UserStatus) -> str:
    name = user.username
    return f"""<tr data-username="{e(name)}" data-testid="user-row"><td>{e(name)}</td>
<td>{e(", ".join(user.groups))}</td><td data-testid="user-email">{e(user.email or "")}</td>
<td>{"on" if user.totp else "off"}</td>
<td>{user.webauthn}</td><td>{user.backup_codes_left}</td>
<td>{"yes" if user.required else "no"}</td><td>{e(user.locked_until or "")}</td><td>
<form method="post" action="/admin/reset-user" class="inline">{csrf_field(csrf)}
<input type="hidden" name="username" value="{e(name)}">
<button type="submit" class="danger user-reset" data-testid="user-reset">Reset factors</button></form>
<form method="post" action="/admin/unlock" class="inline">{csrf_field(csrf)}
<input type="hidden" name="username" value="{e(name)}">
<button type="submit" class="user-unlock" data-testid="user-unlock">Unlock</button></form>
<form method="post" action="/admin/revoke-devices" class="inline">{csrf_field(csrf)}
<input type="hidden" name="username" value="{e(name)}">
<button type="submit" class="user-revoke" data-testid="user-revoke-devices">Forget devices</button></form>
<form method="post" action="/admin/revoke-sessions" class="inline">{csrf_field(csrf)}
<input type="hidden" name="username" value="{e(name)}">
<button type="submit" class="user-revoke-sessions" data-testid="user-revoke-sessions">End gate sessions</button></form>
</td></tr>"""


def event_item(event: AuditEvent) -> str:
    """One activity-feed line (static/mock.js builds the same line from WebSocket messages)."""
    when = dt.datetime.fromtimestamp(event.ts, dt.UTC).strftime("%H:%M:%S")
    record = event.to_dict()
    parts = [when, *(str(record[f]) for f in FEED_FIELDS if record[f] not in (None, ""))]
    return (f'<li class="event" data-event="{e(event.event)}" data-testid="activity-event">'
            f'{e(" · ".join(p for p in parts if p))}</li>')
