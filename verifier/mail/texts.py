"""What the notices say, in English and German (the extension's languages). Pure data: templates.py fills them in.

Each kind has a subject, a lead (what happened) and an advice (what to do if it was not the user); some have
variants, chosen by templates.py from the notice's params. Placeholders are filled with values made safe for
the medium (text, or HTML-escaped); no subject has a placeholder a user or an attacker chooses, except a count.
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello {username},",
        "when": "When",
        "address": "IP address",
        "browser": "Browser",
        "by_admin": "By",
        "an_admin": "an administrator",
        "if_not_you": "What to do",
        "contact_default": "your administrator",
        "account_at": "your account settings ({url})",
        "account": "your account settings",
        "footer_security": "This security notice was sent automatically by the two-step verification of {site}. "
                           "Security notices cannot be switched off. Please do not reply.",
        "footer_info": "This notice was sent automatically by the two-step verification of {site}. You can switch "
                       "off notices like this one in your account settings. Please do not reply.",
        "factor_totp": "an authenticator app",
        "factor_totp_removed": "the authenticator app",
        "factor_security_key": "the security key “{name}”",
        "method_totp": "a code from the authenticator app",
        "method_backup": "a backup code",
        "method_webauthn": "a security key",
        "key_added.subject": "A sign-in method was added to your account",
        "key_added.lead": "{factor_cap} was added to your account as a second factor.",
        "key_added.lead_admin": "An administrator added {factor} to your account as a second factor.",
        "key_added.advice": "If you did not add it, someone else may know your password and have signed in: change "
                            "your password, remove it in {account} and tell {contact} at once.",
        "key_removed.subject": "A sign-in method was removed from your account",
        "key_removed.lead": "{factor_cap} was removed from your account.",
        "key_removed.lead_admin": "An administrator removed {factor} from your account.",
        "key_removed.advice": "If you did not remove it, someone else may have access to your account: change your "
                              "password and tell {contact} at once.",
        "backup_codes_regenerated.subject": "New backup codes were created for your account",
        "backup_codes_regenerated.lead": "A new set of {count} backup codes was created for your account. The "
                                         "codes you had before no longer work.",
        "backup_codes_regenerated.advice": "If you did not create them, someone else may have access to your "
                                           "account: change your password, create new codes yourself in {account} "
                                           "and tell {contact}.",
        "backup_codes_low.subject": "Your backup codes are running out",
        "backup_codes_low.lead": "A backup code was just used to sign in to your account. {left} unused backup "
                                 "codes remain.",
        "backup_codes_low.lead_none": "A backup code was just used to sign in to your account. It was your last "
                                      "one: no unused backup codes remain.",
        "backup_codes_low.advice": "Create a new set in {account} before you run out. If you did not sign in with "
                                   "a backup code, change your password and tell {contact}.",
        "account_locked.subject": "Sign-ins to your account are paused after failed attempts",
        "account_locked.lead": "After {failures} failed sign-in attempts in a row, sign-ins to your account are "
                               "paused for {minutes} minutes. The pause lifts by itself.",
        "account_locked.lead_attack": "Your account has had {failures} failed sign-in attempts in a row: someone "
                                      "may be trying to guess your second factor. Sign-ins are paused for "
                                      "{minutes} minutes at a time while this goes on.",
        "account_locked.advice": "If these attempts were not yours, someone may know your password: change it and "
                                 "tell {contact}.",
        "devices_revoked.subject": "Your remembered devices were signed out",
        "devices_revoked.lead": "{count} remembered device(s) were forgotten: each asks for your second factor at "
                                "its next sign-in.",
        "devices_revoked.lead_admin": "An administrator made your account forget {count} remembered device(s): "
                                      "each asks for your second factor at its next sign-in.",
        "devices_revoked.advice": "If you did not do this, tell {contact}.",
        "user_reset.subject": "Your two-step verification was reset",
        "user_reset.lead": "An administrator removed every second factor of your account: authenticator app, "
                           "security keys, backup codes and remembered devices. You will set up a second factor "
                           "again at your next sign-in.",
        "user_reset.advice": "If you did not ask for this, tell {contact} at once.",
        "new_device.subject": "A new device was remembered for your account",
        "new_device.lead": "After a sign-in to your account, a device was remembered for {days} day(s): it will not "
                           "be asked for a second factor during that time.",
        "new_device.advice": "If this was not you, forget all remembered devices in {account}, change your "
                             "password and tell {contact}.",
        "new_network.subject": "Sign-in to your account from a new network",
        "new_network.lead": "Someone signed in to your account with {method} from a network your account has not "
                            "been used from before.",
        "new_network.advice": "If this was you, there is nothing to do. If it was not, change your password, remove "
                              "any second factor you do not know in {account} and tell {contact}.",
        "policy_enforced.subject": "Two-step verification is now required for your account",
        "policy_enforced.lead": "Your administrator now requires two-step verification for your account. You "
                                "already have a second factor: nothing changes for you.",
        "policy_enforced.lead_enrol": "Your administrator now requires two-step verification for your account. At "
                                      "your next sign-in you will be asked to set up an authenticator app or a "
                                      "security key.",
        "policy_enforced.lead_deadline": "Your administrator now requires two-step verification for your account. "
                                         "Please set up an authenticator app or a security key at your next "
                                         "sign-in, by {deadline} at the latest.",
        "policy_enforced.advice": "If you have questions, ask {contact}.",
        "enrol_reminder.subject": "Reminder: set up two-step verification",
        "enrol_reminder.lead": "Two-step verification is required for your account from {deadline}, and you have "
                               "not set up a second factor yet. Sign in and follow the steps: it takes about two "
                               "minutes.",
        "enrol_reminder.advice": "If you have questions, ask {contact}.",
    },
    "de": {
        "greeting": "Hallo {username},",
        "when": "Wann",
        "address": "IP-Adresse",
        "browser": "Browser",
        "by_admin": "Durch",
        "an_admin": "die Administration",
        "if_not_you": "Was zu tun ist",
        "contact_default": "Ihre Administration",
        "account_at": "Ihren Kontoeinstellungen ({url})",
        "account": "Ihren Kontoeinstellungen",
        "footer_security": "Dieser Sicherheitshinweis wurde automatisch von der Zwei-Faktor-Anmeldung von {site} "
                           "verschickt. Sicherheitshinweise lassen sich nicht abbestellen. Bitte antworten Sie "
                           "nicht auf diese Nachricht.",
        "footer_info": "Dieser Hinweis wurde automatisch von der Zwei-Faktor-Anmeldung von {site} verschickt. "
                       "Hinweise wie diesen können Sie in Ihren Kontoeinstellungen abbestellen. Bitte antworten Sie "
                       "nicht auf diese Nachricht.",
        "factor_totp": "eine Authenticator-App",
        "factor_totp_removed": "die Authenticator-App",
        "factor_security_key": "der Sicherheitsschlüssel „{name}“",
        "method_totp": "einem Code der Authenticator-App",
        "method_backup": "einem Backup-Code",
        "method_webauthn": "einem Sicherheitsschlüssel",
        "key_added.subject": "Ein Anmeldeverfahren wurde Ihrem Konto hinzugefügt",
        "key_added.lead": "{factor_cap} wurde Ihrem Konto als zweiter Faktor hinzugefügt.",
        "key_added.lead_admin": "Die Administration hat Ihrem Konto als zweiten Faktor hinzugefügt: {factor}.",
        "key_added.advice": "Falls Sie das nicht waren, kennt womöglich jemand Ihr Passwort und hat sich angemeldet: "
                            "Ändern Sie Ihr Passwort, entfernen Sie den Faktor in {account} und informieren Sie "
                            "sofort {contact}.",
        "key_removed.subject": "Ein Anmeldeverfahren wurde aus Ihrem Konto entfernt",
        "key_removed.lead": "{factor_cap} wurde aus Ihrem Konto entfernt.",
        "key_removed.lead_admin": "Die Administration hat aus Ihrem Konto entfernt: {factor}.",
        "key_removed.advice": "Falls Sie das nicht waren, hat womöglich jemand anderes Zugriff auf Ihr Konto: "
                              "Ändern Sie Ihr Passwort und informieren Sie sofort {contact}.",
        "backup_codes_regenerated.subject": "Für Ihr Konto wurden neue Backup-Codes erstellt",
        "backup_codes_regenerated.lead": "Für Ihr Konto wurden {count} neue Backup-Codes erstellt. Ihre bisherigen "
                                         "Codes gelten nicht mehr.",
        "backup_codes_regenerated.advice": "Falls Sie das nicht waren, hat womöglich jemand anderes Zugriff auf Ihr "
                                           "Konto: Ändern Sie Ihr Passwort, erstellen Sie selbst neue Codes in "
                                           "{account} und informieren Sie {contact}.",
        "backup_codes_low.subject": "Ihre Backup-Codes gehen zur Neige",
        "backup_codes_low.lead": "Soeben wurde ein Backup-Code zur Anmeldung an Ihrem Konto verwendet. Es sind noch "
                                 "{left} unbenutzte Backup-Codes übrig.",
        "backup_codes_low.lead_none": "Soeben wurde ein Backup-Code zur Anmeldung an Ihrem Konto verwendet. Es war "
                                      "Ihr letzter: Es sind keine unbenutzten Backup-Codes mehr übrig.",
        "backup_codes_low.advice": "Erstellen Sie rechtzeitig neue Codes in {account}. Falls Sie sich nicht mit "
                                   "einem Backup-Code angemeldet haben, ändern Sie Ihr Passwort und informieren Sie "
                                   "{contact}.",
        "account_locked.subject": "Anmeldungen an Ihrem Konto nach Fehlversuchen pausiert",
        "account_locked.lead": "Nach {failures} fehlgeschlagenen Anmeldeversuchen in Folge sind Anmeldungen an "
                               "Ihrem Konto für {minutes} Minuten pausiert. Die Pause endet von selbst.",
        "account_locked.lead_attack": "An Ihrem Konto gab es {failures} fehlgeschlagene Anmeldeversuche in Folge: "
                                      "Womöglich versucht jemand, Ihren zweiten Faktor zu erraten. Solange das "
                                      "anhält, werden Anmeldungen jeweils für {minutes} Minuten pausiert.",
        "account_locked.advice": "Falls diese Versuche nicht von Ihnen stammen, kennt womöglich jemand Ihr Passwort: "
                                 "Ändern Sie es und informieren Sie {contact}.",
        "devices_revoked.subject": "Ihre gemerkten Geräte wurden abgemeldet",
        "devices_revoked.lead": "{count} gemerkte(s) Gerät(e) wurden vergessen: Jedes fragt bei der nächsten "
                                "Anmeldung wieder nach Ihrem zweiten Faktor.",
        "devices_revoked.lead_admin": "Die Administration hat {count} gemerkte(s) Gerät(e) Ihres Kontos vergessen "
                                      "lassen: Jedes fragt bei der nächsten Anmeldung wieder nach Ihrem zweiten "
                                      "Faktor.",
        "devices_revoked.advice": "Falls Sie das nicht waren, informieren Sie {contact}.",
        "user_reset.subject": "Ihre Zwei-Faktor-Anmeldung wurde zurückgesetzt",
        "user_reset.lead": "Die Administration hat alle zweiten Faktoren Ihres Kontos entfernt: Authenticator-App, "
                           "Sicherheitsschlüssel, Backup-Codes und gemerkte Geräte. Bei der nächsten Anmeldung "
                           "richten Sie wieder einen zweiten Faktor ein.",
        "user_reset.advice": "Falls Sie das nicht veranlasst haben, informieren Sie sofort {contact}.",
        "new_device.subject": "Ein neues Gerät wurde für Ihr Konto gemerkt",
        "new_device.lead": "Nach einer Anmeldung an Ihrem Konto wurde ein Gerät für {days} Tag(e) gemerkt: Es wird "
                           "in dieser Zeit nicht nach einem zweiten Faktor gefragt.",
        "new_device.advice": "Falls Sie das nicht waren, lassen Sie in {account} alle gemerkten Geräte vergessen, "
                             "ändern Sie Ihr Passwort und informieren Sie {contact}.",
        "new_network.subject": "Anmeldung an Ihrem Konto aus einem neuen Netz",
        "new_network.lead": "Jemand hat sich mit {method} an Ihrem Konto angemeldet, aus einem Netz, aus dem Ihr "
                            "Konto bisher nicht genutzt wurde.",
        "new_network.advice": "Falls Sie das waren, ist nichts zu tun. Falls nicht, ändern Sie Ihr Passwort, "
                              "entfernen Sie unbekannte zweite Faktoren in {account} und informieren Sie {contact}.",
        "policy_enforced.subject": "Die Zwei-Faktor-Anmeldung ist für Ihr Konto jetzt Pflicht",
        "policy_enforced.lead": "Ihre Administration verlangt für Ihr Konto jetzt die Zwei-Faktor-Anmeldung. Sie "
                                "haben bereits einen zweiten Faktor: Für Sie ändert sich nichts.",
        "policy_enforced.lead_enrol": "Ihre Administration verlangt für Ihr Konto jetzt die Zwei-Faktor-Anmeldung. "
                                      "Bei Ihrer nächsten Anmeldung werden Sie gebeten, eine Authenticator-App oder "
                                      "einen Sicherheitsschlüssel einzurichten.",
        "policy_enforced.lead_deadline": "Ihre Administration verlangt für Ihr Konto jetzt die "
                                         "Zwei-Faktor-Anmeldung. Bitte richten Sie bei Ihrer nächsten Anmeldung, "
                                         "spätestens bis {deadline}, eine Authenticator-App oder einen "
                                         "Sicherheitsschlüssel ein.",
        "policy_enforced.advice": "Bei Fragen wenden Sie sich an {contact}.",
        "enrol_reminder.subject": "Erinnerung: Richten Sie die Zwei-Faktor-Anmeldung ein",
        "enrol_reminder.lead": "Ab {deadline} ist die Zwei-Faktor-Anmeldung für Ihr Konto Pflicht, und Sie haben "
                               "noch keinen zweiten Faktor eingerichtet. Melden Sie sich an und folgen Sie den "
                               "Schritten: Es dauert etwa zwei Minuten.",
        "enrol_reminder.advice": "Bei Fragen wenden Sie sich an {contact}.",
    },
}

WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
}
DATE_FORMAT = {"en": "{weekday}, {day} {month} {year}", "de": "{weekday}, {day}. {month} {year}"}
