"""Every text of the office UI, by language; German is the default.

Pages call `t("key", name=value)` (a Jinja global) and Python code calls `t(...)` directly. A second
language is a second dict under MESSAGES with the same keys; `test_office_texts` checks that every key a
template uses exists. Missing keys render as the key itself, so a gap is visible instead of a crash.
"""

from __future__ import annotations

import logging
from typing import Any

from babel import Locale

from messaging import l10n
from web.texts_team import TEAM_DE

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "de"

_DE: dict[str, str] = {
    # layout and login
    "nav.dashboard": "Anfragen",
    "nav.settings": "Anfragemanager",
    "nav.templates": "Mailvorlagen",
    "layout.logout": "Abmelden",
    "layout.signed_in_as": "Angemeldet als {name}",
    "login.title": "Anmelden",
    "login.heading": "Anmeldung für das Büro",
    "login.intro": "Melden Sie sich mit Ihrer E-Mail-Adresse und Ihrem Passwort an.",
    "login.email": "E-Mail-Adresse",
    "login.password": "Passwort",
    "login.submit": "Anmelden",
    "login.failed": "E-Mail-Adresse oder Passwort ist falsch.",
    "login.throttled": "Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es in {minutes} Minuten erneut.",
    "login.throttled_seconds": "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {seconds} Sekunden und "
    "versuchen Sie es dann erneut.",
    "login.logged_out": "Sie sind abgemeldet.",
    "layout.sessions": "Sitzungen",
    "account.sessions.title": "Ihre angemeldeten Sitzungen",
    "account.sessions.intro": "Eine Sitzung endet nach {idle} Minuten ohne Aktivität und spätestens {absolute} "
    "Stunden nach der Anmeldung. Beenden Sie hier Sitzungen, die Sie nicht mehr brauchen oder nicht kennen.",
    "account.sessions.since": "Angemeldet seit",
    "account.sessions.last_seen": "Zuletzt aktiv",
    "account.sessions.ends": "Endet spätestens",
    "account.sessions.client": "Adresse",
    "account.sessions.browser": "Browser",
    "account.sessions.this_one": "diese Sitzung",
    "account.sessions.end_others": "Alle anderen Sitzungen beenden",
    "account.sessions.end_all": "Alle Sitzungen beenden (auch diese)",
    "account.sessions.ended_others": "Andere Sitzungen beendet: {count}.",
    "account.sessions.ended_all": "Alle Ihre Sitzungen sind beendet.",
    "error.rate_limited_title": "Zu viele Anfragen",
    "error.too_large_title": "Zu viel auf einmal",
    "error.too_large_cap": "Die Anfrage ist zu groß (höchstens {kib} KiB). Bitte kürzen Sie Ihre Eingaben.",
    "error.rate_limited": "Zu viele Anfragen. Bitte versuchen Sie es in {seconds} Sekunden erneut.",
    "login.required": "Bitte melden Sie sich an.",
    "auth.api_required": "Anmeldung erforderlich: eine Sitzung oder Authorization: Bearer <IMMOFLOW_API_TOKEN>.",
    "auth.intake_required": "Für die Übergabe von Anfragen ist Authorization: Bearer <IMMOFLOW_INTAKE_TOKEN> nötig.",
    "auth.token_invalid": "Das Zugriffstoken ist ungültig.",
    "csrf.title": "Formular abgelaufen",
    "csrf.message": "Das Formular war nicht mehr gültig (Sicherheitsprüfung). Bitte laden Sie die Seite neu "
    "und senden Sie es noch einmal.",
    "csrf.api": "CSRF-Token fehlt oder ist falsch (Feld csrf_token oder Header X-CSRF-Token).",
    "error.too_large": "Die Anfrage ist zu groß.",
    "error.back": "Zurück",
    "error.not_found": "Nicht gefunden",
    "error.inquiry_missing": "Diese Anfrage gibt es nicht.",
    "error.message_missing": "Diese Mail gehört nicht zu dieser Anfrage.",
    "error.template_missing": "Diese Vorlage gibt es nicht.",
    # statuses
    "status.received": "Eingegangen",
    "status.processing": "In Bearbeitung",
    "status.ignored": "Nicht verarbeitet",
    "status.skipped": "Übersprungen",
    "status.waiting_for_confirmation": "Wartet auf Bestätigung",
    "status.completed": "Abgeschlossen",
    "status.aborted": "Abgebrochen",
    "status.duplicate_review": "Dublette – wartet auf Prüfung",
    "dashboard.needs_attention.one": "Braucht Aufmerksamkeit: {n} Workflow kommt nicht von selbst weiter "
    "(fehlschlagende Workflow-Tasks oder Zustellungen nach 5 und mehr Versuchen); Details im Temporal UI.",
    "dashboard.needs_attention.other": "Braucht Aufmerksamkeit: {n} Workflows kommen nicht von selbst weiter "
    "(fehlschlagende Workflow-Tasks oder Zustellungen nach 5 und mehr Versuchen); Details im Temporal UI.",
    "status.expired": "Abgelaufen",
    "status.cancelled": "Manuell beendet",
    "status.failed": "Fehler",
    "message_status.pending": "wartet",
    "message_status.sending": "wird gesendet",
    "message_status.retrying": "neuer Versuch",
    "message_status.sent": "gesendet",
    "message_status.failed": "fehlgeschlagen",
    "message_status.bounced": "unzustellbar",
    "message_status.withdrawn": "nicht gesendet (überholt)",
    "message_status.suppressed": "nicht gesendet (gesperrt)",
    # dashboard list
    "dashboard.title": "Anfragen",
    "dashboard.all": "Alle",
    "dashboard.filter_status": "Status",
    "dashboard.filter_portal": "Portal",
    "dashboard.filter_any": "alle",
    "dashboard.search": "Objektnummer",
    "dashboard.search_placeholder": "z. B. W-1001",
    "dashboard.apply": "Filtern",
    "dashboard.reset": "Zurücksetzen",
    "dashboard.refresh": "Aktualisieren",
    "dashboard.col_received": "Eingang",
    "dashboard.col_portal": "Portal",
    "dashboard.col_property": "Immobilie",
    "dashboard.col_prospect": "Interessent",
    "dashboard.col_status": "Status",
    "dashboard.col_next": "Nächster Schritt",
    "dashboard.open": "Vorschau öffnen",
    "dashboard.next_step": "{step} am {at}",
    "dashboard.empty": "Keine Anfragen gefunden.",
    "dashboard.empty_hint": "Neue Portalanfragen erscheinen hier, sobald sie eingehen.",
    "dashboard.page": "Seite {page} von {pages} · {total}",
    "dashboard.total.one": "{n} Anfrage",
    "dashboard.total.other": "{n} Anfragen",
    "dashboard.previous": "← Zurück",
    "dashboard.next": "Weiter →",
    "dashboard.as_of": "Stand {at}",
    "dashboard.today": "Heute, {time}",
    "dashboard.yesterday": "Gestern, {time}",
    # inquiry preview
    "inquiry.back": "← Alle Anfragen",
    "inquiry.title": "Anfrage #{id}",
    "inquiry.reason": "Grund",
    "inquiry.next_step": "Nächster Schritt",
    "inquiry.section_inquiry": "Anfrage",
    "inquiry.received": "Eingegangen",
    "inquiry.portal": "Portal",
    "inquiry.mailbox": "Postfach",
    "inquiry.external_id": "Nachrichten-ID",
    "inquiry.message": "Nachricht",
    "inquiry.contact_privacy": "Datenschutz: Einwilligungen, Widersprüche, Auskunft, Löschung",
    "inquiry.section_prospect": "Interessent (wie vom Portal übermittelt)",
    "inquiry.section_contact": "Angelegte Adresse",
    "inquiry.section_duplicate": "Dublette: vorhandene Adresse",
    "inquiry.no_contact": "Noch keine Adresse angelegt.",
    "inquiry.section_property": "Immobilie",
    "inquiry.no_property": "Die Immobilie ist im Bestand nicht bekannt.",
    "inquiry.manager": "Objektbetreuer",
    "inquiry.marketing": "Vermarktung",
    "inquiry.expose": "Exposé ansehen",
    "marketing.active": "aktiv",
    "marketing.reserved": "reserviert",
    "marketing.sold": "verkauft",
    "marketing.inactive": "nicht in Vermarktung",
    "inquiry.section_mails": "Gesendete Mails",
    "inquiry.no_mails": "Noch keine Mails.",
    "inquiry.mail_subject": "Betreff",
    "inquiry.mail_to": "An",
    "inquiry.mail_status": "Status",
    "inquiry.mail_time": "Zeit",
    "inquiry.section_timeline": "Verlauf",
    "inquiry.no_timeline": "Noch keine Schritte.",
    "inquiry.temporal": "Workflow im Temporal UI ↗",
    "inquiry.section_actions": "Aktionen",
    "inquiry.no_actions": "Für diese Anfrage ist keine Aktion mehr möglich.",
    "field.name": "Name",
    "field.salutation": "Anrede",
    "field.first_name": "Vorname",
    "field.last_name": "Nachname",
    "field.email": "E-Mail",
    "field.phone": "Telefon",
    "field.mobile": "Mobil",
    "field.street": "Straße",
    "field.zip_code": "PLZ",
    "field.city": "Ort",
    "field.address": "Adresse",
    "field.status": "Status",
    # actions
    "action.resend": "Bestätigungsmail erneut senden",
    "action.resend_hint": "Sendet einen neuen Bestätigungslink; die Erinnerungen laufen weiter.",
    "action.not_duplicate": "Keine Dublette – fortsetzen",
    "action.not_duplicate_hint": "Legt die Adresse trotzdem an und setzt die Automatisierung fort.",
    "action.cancel": "Automatisierung beenden",
    "action.cancel_reason": "Grund",
    "action.cancel_placeholder": "z. B. Interessent hat telefonisch abgesagt",
    "action.cancel_hint": "Es werden keine weiteren Mails gesendet.",
    "action.reason_required": "Bitte geben Sie einen Grund an (höchstens 500 Zeichen).",
    "action.resend_done": "Der Bestätigungslink wurde erneut gesendet.",
    "action.cancel_done": "Die Automatisierung wurde beendet.",
    "action.cancel_too_late": "Die Anfrage war bereits zu weit, um sie zu beenden; Status: {status}.",
    "action.not_duplicate_done": "Die Automatisierung wird fortgesetzt.",
    "action.in_progress": "Der Workflow hat den Auftrag angenommen und führt ihn aus.",
    "action.refused": "Nicht möglich: {reason}",
    "action.finished": "Nicht möglich: Der Workflow dieser Anfrage ist bereits beendet.",
    "action.unavailable": "Der Workflow-Dienst ist gerade nicht erreichbar. Bitte später erneut versuchen.",
    "action.no_answer": "Der Workflow hat nicht rechtzeitig geantwortet (läuft der Worker?).",
    # mail view
    "mail.back": "← Zur Anfrage",
    "mail.from": "Von",
    "mail.to": "An",
    "mail.reply_to": "Antwort an",
    "mail.created": "Erstellt",
    "mail.sent": "Gesendet",
    "mail.status": "Status",
    "mail.error": "Fehler",
    "mail.template": "Vorlage",
    "mail.text": "Text",
    "mail.html": "HTML-Ansicht",
    "mail.html_source": "HTML-Quelltext",
    "mail.attachments": "Anhänge",
    "mail.no_subject": "(ohne Betreff)",
    # inquiry manager settings
    "settings.title": "Anfragemanager",
    "settings.intro": "Diese Einstellungen gelten für Anfragen, die ab jetzt eingehen; laufende Anfragen "
    "behalten die Einstellungen, mit denen sie begonnen haben.",
    "settings.saved": "Die Einstellungen wurden gespeichert.",
    "settings.invalid": "Bitte prüfen Sie die markierten Felder.",
    "settings.save": "Speichern",
    "settings.section_process": "Ablauf",
    "settings.confirmation_enabled": "Bestätigung der E-Mail-Adresse anfordern",
    "settings.confirmation_enabled_hint": "Unbekannte Interessenten bekommen einen Link, um ihre Adresse zu "
    "bestätigen und zu ergänzen. Aus: die Adresse wird sofort mit den Daten der Anfrage angelegt.",
    "settings.duplicate_check": "Dublettenprüfung",
    "settings.duplicate_check.email": "nach E-Mail-Adresse",
    "settings.duplicate_check.name_zip": "nach Name und PLZ",
    "settings.duplicate_check.off": "aus",
    "settings.task_on_duplicate": "Bei einer Dublette eine Aufgabe für den Objektbetreuer anlegen",
    "settings.duplicate_review_window": "Zeit für „Keine Dublette – fortsetzen“",
    "settings.send_expose": "Exposé automatisch senden",
    "settings.section_followup": "Nachfassen (ohne Reaktion des Interessenten)",
    "settings.followup_interval": "Abstand zwischen den Erinnerungen",
    "settings.duration_hint": "z. B. „2 Tage“, „1 Tag 12 Stunden“, „36h“, „P2D“ oder Sekunden",
    "settings.followup_attempts": "Anzahl Erinnerungen",
    "settings.followup_attempts_hint": "0 bis 10; jede Erinnerung hat ihre eigene Mailvorlage.",
    "settings.final_notice": "Nach der letzten Erinnerung ohne Reaktion",
    "settings.final_notice.task": "Aufgabe für den Objektbetreuer",
    "settings.final_notice.email": "E-Mail an den Objektbetreuer",
    "settings.final_notice.none": "nichts",
    "settings.stop_activity_kinds": "Nachfassen beenden bei einer Aktivität der Art",
    "settings.stop_activity_kinds_hint": "geprüft vor jeder Erinnerung, über den letzten Abstand zurück",
    "settings.section_exceptions": "Ausnahmen",
    "settings.exceptions_intro": "Anfragen, auf die eine Ausnahme zutrifft, werden nicht oder nur teilweise "
    "automatisiert. Die erste passende Ausnahme gilt.",
    "settings.exception_label": "Bezeichnung",
    "settings.exception_field": "Wenn",
    "settings.exception_value": "gleich",
    "settings.exception_action": "dann",
    "settings.exception_remove": "entfernen",
    "settings.exception_new": "Neue Ausnahme (leer lassen, um keine hinzuzufügen)",
    "settings.no_exceptions": "Keine Ausnahmen eingerichtet.",
    "exception_field.portal": "Portal",
    "exception_field.property": "Objektnummer",
    "exception_field.email_domain": "E-Mail-Domain",
    "exception_field.mailbox": "Postfach",
    "exception_action.no_automation": "keine Automatisierung",
    "exception_action.address_only": "nur Adresse anlegen",
    "activity_kind.absage": "Absage",
    "activity_kind.zusage": "Zusage",
    "activity_kind.warteliste": "Warteliste",
    "activity_kind.besichtigung": "Besichtigung",
    "activity_kind.telefonat": "Telefonat",
    "activity_kind.antwort": "Antwort per E-Mail",
    "activity_kind.email": "E-Mail",
    "activity_kind.notiz": "Notiz",
    "activity_kind.sonstige": "Sonstige",
    "validation.duration": "Bitte eine Dauer angeben, z. B. „2 Tage“ oder „36 Stunden“.",
    "validation.duration_positive": "Die Dauer muss größer als null sein.",
    "validation.attempts": "Bitte eine ganze Zahl von 0 bis 10.",
    "validation.required": "Bitte ausfüllen.",
    "validation.choice": "Bitte eine der angebotenen Möglichkeiten wählen.",
    "validation.too_long": "Zu lang.",
    "validation.interval_bounds": "Bitte eine Dauer von 1 Sekunde bis 365 Tage angeben.",
    "validation.window_bounds": "Bitte eine Dauer von 0 bis 365 Tage angeben.",
    "validation.interval_production": "Im Produktivbetrieb beträgt der Abstand mindestens 1 Stunde.",
    "validation.invalid": "Ungültiger Wert.",
    "validation.lone_surrogate": "Der Text enthält ein ungültiges Zeichen (ein einzelnes UTF-16-Surrogat wie \\ud800).",
    "settings.stored_invalid": "Die gespeicherten Einstellungen waren ungültig ({fields}); angezeigt werden die "
    "Standardwerte. Bitte prüfen und speichern.",
    "duration.day.one": "{n} Tag",
    "duration.day.other": "{n} Tage",
    "duration.hour.one": "{n} Stunde",
    "duration.hour.other": "{n} Stunden",
    "duration.minute.one": "{n} Minute",
    "duration.minute.other": "{n} Minuten",
    "duration.second.one": "{n} Sekunde",
    "duration.second.other": "{n} Sekunden",
    "duration.zero": "0 Sekunden",
    # templates
    "templates.title": "Mailvorlagen",
    "templates.intro": "Die Texte der Mails, die immoflow sendet. Platzhalter in {{ doppelten Klammern }} "
    "werden beim Versand ersetzt; Änderungen gelten ab der nächsten Mail.",
    "templates.col_name": "Vorlage",
    "templates.col_key": "Schlüssel",
    "templates.col_subject": "Betreff",
    "templates.col_updated": "Geändert",
    "templates.edit": "Bearbeiten",
    "templates.empty": "Noch keine Vorlagen vorhanden.",
    "templates.back": "← Alle Vorlagen",
    "templates.name": "Name",
    "templates.subject": "Betreff",
    "templates.body": "Text",
    "templates.save": "Speichern",
    "templates.saved": "Die Vorlage „{name}“ wurde gespeichert.",
    "templates.refused": "Nicht gespeichert: Die Vorlage lässt sich nicht erzeugen.",
    "templates.preview": "Vorschau mit Beispieldaten",
    "templates.preview_hint": "Aktualisiert sich beim Tippen.",
    "templates.preview_failed": "Fehler",
    "templates.preview_generic": "Für diese Art Vorlage gibt es keine Beispieldaten; Platzhalter erscheinen "
    "als ‹Name›.",
    "templates.variables": "Verfügbare Platzhalter",
    "templates.unsafe": "Zugriff auf interne Attribute („{name}“) ist in Vorlagen nicht erlaubt.",
    # office mailbox (issue 15)
    "nav.mailboxes": "Postfächer",
    "nav.unrecognised": "Nicht erkannte E-Mails",
    "mailboxes.saved": "Postfach gespeichert.",
    "mailboxes.invalid": "Nicht gespeichert: Bitte die markierten Felder prüfen.",
    "unrecognised.assigned": "Anfrage angelegt.",
    "unrecognised.discarded": "E-Mail verworfen.",
    "unrecognised.invalid": "Keine Anfrage angelegt: {reason}",
    "unrecognised.done": "Diese E-Mail wurde bereits bearbeitet.",
}

# Users, roles, tasks, sales processes, appointments: their own catalogue module, same keys rule.
_DE.update(TEAM_DE)

MESSAGES: dict[str, dict[str, str]] = {"de": _DE}


def t(key: str, language: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """The text KEY in LANGUAGE (falling back to German), with {name} placeholders filled from PARAMS."""
    text = MESSAGES.get(language, _DE).get(key) or _DE.get(key)
    if text is None:
        log.warning("missing UI text %r", key)
        return key
    return text.format(**params) if params else text


def tn(key: str, count: int, language: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """The plural form of KEY for COUNT (KEY.one / KEY.other, by the language's CLDR rule), {n} the number."""
    locale = l10n.LOCALE if language == DEFAULT_LANGUAGE else Locale.parse(language)
    form = "one" if locale.plural_form(count) == "one" else "other"
    return t(f"{key}.{form}", language, **{"n": l10n.number(count), **params})


def has_text(key: str, language: str = DEFAULT_LANGUAGE) -> bool:
    return key in MESSAGES.get(language, _DE) or key in _DE
