"""The seed's seven automations, shipped switched off: the office reviews one and turns it on.

Plain data (no imports), because the data migration `0003_automations` inserts them: every database has
them after `immoflow db upgrade`, production included, and none of them does anything until enabled.
`ensure_builtin_rules` in automations/rules.py adds any that are missing (tests, a deleted one).
"""

from __future__ import annotations

from typing import Any

NO_CONTACT_WANTED = "Kein Kontakt mehr gewünscht"

BUILTIN_RULES: list[dict[str, Any]] = [
    {
        "builtin_key": "inquiry_creates_contact",
        "name": "Bei neuen Anfragen den Interessenten automatisch als Kontakt anlegen",
        "description": "Auslöser: eine neue Anfrage (optional nur von einem Absender oder Portal: Bedingung "
        "„Portal / Quelle“ oder „Absender“ ergänzen). Aktion: den Interessenten anlegen, Status „Interessent“, "
        "Newsletter „Ja“, Betreuer = Objekt-Ansprechpartner.",
        "trigger": "inquiry.received",
        "conditions": [],
        "actions": [
            {
                "kind": "create_contact",
                "params": {"status": "prospect", "newsletter": True, "owner": "property_contact_person"},
            }
        ],
    },
    {
        "builtin_key": "first_email",
        "name": "Nachdem ein Interessent automatisch angelegt wurde, eine Erst-E-Mail verschicken",
        "description": "Auslöser: ein Kontakt wurde von einer Automation angelegt. Aktion: die Vorlage "
        "„Erst-E-Mail“ an den Kontakt senden.",
        "trigger": "contact.created",
        "conditions": [{"field": "created_by_automation", "op": "equals", "value": "true"}],
        "actions": [{"kind": "send_email", "params": {"template_key": "automation.first_email", "to": "contact"}}],
    },
    {
        "builtin_key": "birthday_mail",
        "name": "Wenn ein Kunde Geburtstag hat, ihm eine automatische Geburtstagsmail senden",
        "description": "Auslöser: der tägliche Geburtstagslauf (29. Februar: in anderen Jahren am 28.). "
        "Aktion: die Vorlage „Geburtstagsgruß“ an den Kontakt senden, einmal pro Jahr.",
        "trigger": "birthday",
        "conditions": [],
        "actions": [{"kind": "send_email", "params": {"template_key": "automation.birthday", "to": "contact"}}],
    },
    {
        "builtin_key": "cancellation_archives_contact",
        "name": "Beim Hinterlegen einer Absage mit einem bestimmten Absagegrund den Kontakt archivieren",
        "description": f"Auslöser: Absage mit Absagegrund „{NO_CONTACT_WANTED}“ wurde angelegt. "
        "Aktion: den Status des Kontakts auf archiviert setzen.",
        "trigger": "activity.created",
        "conditions": [
            {"field": "kind", "op": "equals", "value": "absage"},
            {"field": "reason", "op": "equals", "value": NO_CONTACT_WANTED},
        ],
        "actions": [{"kind": "archive_contact", "params": {}}],
    },
    {
        "builtin_key": "note_archives_property",
        "name": "Beim Hinterlegen einer bestimmten Notiz das verknüpfte Objekt archivieren",
        "description": "Auslöser: eine Notiz, die „Objekt archivieren“ enthält (Text nach Bedarf ändern). "
        "Aktion: das verknüpfte Objekt auf archiviert setzen.",
        "trigger": "note.created",
        "conditions": [{"field": "text", "op": "contains", "value": "Objekt archivieren"}],
        "actions": [{"kind": "archive_property", "params": {}}],
    },
    {
        "builtin_key": "viewing_confirmation",
        "name": "Nach dem Anlegen eines Besichtigungstermins eine Terminbestätigung an den Interessenten senden",
        "description": "Auslöser: ein Termin der Art „Besichtigung“ wurde angelegt. Aktion: die Vorlage "
        "„Terminbestätigung“ an den Kontakt des Termins senden.",
        "trigger": "appointment.created",
        "conditions": [{"field": "kind", "op": "equals", "value": "viewing"}],
        "actions": [
            {"kind": "send_email", "params": {"template_key": "automation.appointment_confirmation", "to": "contact"}}
        ],
    },
    {
        "builtin_key": "reserved_deal_task",
        "name": "Beim Verschieben eines Deals auf „Reserviert“ eine Aufgabe für den Objektansprechpartner anlegen",
        "description": "Auslöser: ein Deal wechselt in die Phase „Reserviert“. Aktion: eine Aufgabe für den "
        "Ansprechpartner des Objekts.",
        "trigger": "deal.stage_changed",
        "conditions": [{"field": "stage", "op": "equals", "value": "Reserviert"}],
        "actions": [
            {
                "kind": "create_task",
                "params": {
                    "title": "Reservierung: {{ property.title }} – {{ contact.name }}",
                    "body": "Der Deal #{{ deal.id }} steht jetzt auf „Reserviert“. Bitte Reservierungsvereinbarung "
                    "vorbereiten und den Interessenten kontaktieren.",
                    "assignee": "property_contact_person",
                    "due_in_days": 1,
                },
            }
        ],
    },
]
