"""German default texts of every mail immoflow sends; the office edits copies in the database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultTemplate:
    key: str
    name: str
    subject: str
    body: str


_GREETING = "{{ salutation_line }}\n\n"

CONFIRMATION = DefaultTemplate(
    key="inquiry.confirmation",
    name="Anfrage: Bestätigung der E-Mail-Adresse",
    subject="Ihre Anfrage zu {{ property.title }} – bitte kurz bestätigen",
    body=_GREETING + "vielen Dank für Ihre Anfrage zur Immobilie „{{ property.title }}“ ({{ property.ref }}).\n\n"
    "Damit wir Ihnen das Exposé senden können, bestätigen Sie bitte Ihre E-Mail-Adresse und ergänzen "
    "Sie Ihre Kontaktdaten:\n\n{{ confirm_link }}\n\n"
    "Der Link ist bis {{ link_valid_until }} gültig.\n\n"
    "Mit freundlichen Grüßen\n{{ manager.name }}\n",
)

EXPOSE = DefaultTemplate(
    key="inquiry.expose",
    name="Anfrage: Exposé-Versand",
    subject="Ihr Exposé: {{ property.title }}",
    body=_GREETING + "vielen Dank für Ihr Interesse an „{{ property.title }}“. Die wichtigsten Daten:\n\n"
    "{% for label, value in property.key_facts %}- {{ label }}: {{ value }}\n{% endfor %}\n"
    "{% if property.expose_url %}Das vollständige Exposé finden Sie hier: {{ property.expose_url }}\n"
    "{% else %}Das vollständige Exposé finden Sie im Anhang.\n{% endif %}\n"
    "Für Rückfragen oder einen Besichtigungstermin antworten Sie einfach auf diese E-Mail.\n\n"
    "Mit freundlichen Grüßen\n{{ manager.name }}\n",
)

MANAGER_NOTICE = DefaultTemplate(
    key="inquiry.manager_notice",
    name="Anfrage: Hinweis an den Objektbetreuer",
    subject="Keine Reaktion auf Anfrage zu {{ property.ref }}",
    body="Hallo {{ manager.name }},\n\n"
    "{{ prospect.name }} ({{ prospect.email }}) hat auf die Anfrage zu „{{ property.title }}“ "
    "nach {{ attempts_text }} nicht reagiert. Die Automatisierung ist beendet.\n\n"
    "Anfrage: {{ inquiry_link }}\n",
)

_FOLLOWUP_OPENINGS = (
    "wir haben Ihnen vor kurzem einen Link zur Bestätigung Ihrer Anfrage gesendet und noch keine Antwort erhalten.",
    "wir möchten Sie noch einmal an Ihre Anfrage erinnern – das Exposé liegt für Sie bereit.",
    "ein letztes Mal erinnern wir Sie an Ihre Anfrage. Danach schließen wir den Vorgang.",
)


def followup(attempt: int) -> DefaultTemplate:
    """Reminder n of the follow-up process; each attempt reads differently (seed 000)."""
    opening = _FOLLOWUP_OPENINGS[min(attempt, len(_FOLLOWUP_OPENINGS)) - 1]
    return DefaultTemplate(
        key=f"inquiry.followup.{attempt}",
        name=f"Anfrage: Nachfassmail Nr. {attempt}",
        subject=f"Erinnerung {attempt}: Ihre Anfrage zu {{{{ property.title }}}}",
        body=_GREETING + opening + "\n\nBitte bestätigen Sie Ihre Anfrage hier:\n\n{{ confirm_link }}\n\n"
        "Falls Sie kein Interesse mehr haben, ignorieren Sie diese E-Mail einfach.\n\n"
        # Seed 000 "without signature": no personal signature block (title, phone, address), but a
        # closing line and the sender's name, as any letter has.
        "Mit freundlichen Grüßen\n{{ manager.name }}\n",
    )


LEAD_REMINDER = DefaultTemplate(
    key="lead.reminder",
    name="Lead: Nachfassmail an den Leadnehmer",
    subject="Überfälliger Lead: {{ lead.title }} ({{ phase.name }})",
    body="Hallo {{ taker.name }},\n\n"
    "der Lead „{{ lead.title }}“ ist in der Phase „{{ phase.name }}“ (Vertriebsprozess „{{ process.name }}“) "
    "seit {{ overdue_since }} überfällig.\n\n"
    "Zum Lead: {{ lead_link }}\n\n"
    "Die Erinnerung endet, sobald Sie die Phase wechseln, einen Termin in der Zukunft eintragen oder eine "
    "Aufgabe zum Lead anlegen.\n\n"
    "(Nachfassmail Nr. {{ reminder_number }})\n",
)


SLOTS_INVITATION = DefaultTemplate(
    key="slots.invitation",
    name="Terminvorschläge: Einladung an den Interessenten",
    subject="{% if is_viewing %}Besichtigung „{{ property.title }}“: Ihre Terminvorschläge"
    "{% else %}Ihre Terminvorschläge{% endif %}",
    body=_GREETING + "{% if is_viewing %}gerne zeigen wir Ihnen die Immobilie „{{ property.title }}“ "
    "({{ property.ref }}).{% else %}gerne vereinbaren wir einen Termin mit Ihnen.{% endif %} "
    "Bitte schlagen Sie uns bis zu fünf Termine vor, die Ihnen passen:\n\n{{ time_slot_link }}\n\n"
    "Der Link ist bis {{ link_valid_until }} gültig.\n\n"
    "Mit freundlichen Grüßen\n{{ agent.name }}\n",
)

SLOTS_RESPONSE = DefaultTemplate(
    key="slots.response",
    name="Terminvorschläge: Antwort an den Empfänger (E-Mail und Aufgabe)",
    subject="Terminvorschläge von {{ prospect.name }}{% if is_viewing %} zu {{ property.ref }}{% endif %}",
    body="Hallo {{ recipient.name }},\n\n"
    "{{ prospect.name }} ({{ prospect.email }}{% if prospect.phone %}, {{ prospect.phone }}{% endif %}) "
    "schlägt {% if is_viewing %}für eine Besichtigung von „{{ property.title }}“ ({{ property.ref }}) {% endif %}"
    "folgende Termine vor:\n\n"
    "{% for slot in slots %}{{ loop.index }}. {{ slot }}\n{% endfor %}"
    "{% if comment %}\nKommentar:\n{{ comment }}\n{% endif %}\n"
    "Sobald ein Termin ausgewählt ist, erhält {{ prospect.name }} die Bestätigung mit Kalendereinladung. "
    "(Terminanfrage #{{ request_id }})\n"
    "{% if fallback_note %}\nHinweis: {{ fallback_note }}\n{% endif %}",
)

SLOTS_SMS = DefaultTemplate(
    key="slots.sms",
    name="Terminvorschläge: SMS an den Empfänger (höchstens 160 Zeichen)",
    subject="SMS",
    body="Terminvorschläge von {{ prospect.name }}{% if is_viewing %} zu {{ property.ref }}{% endif %}: "
    "{{ slots | join('; ') }}",
)

SLOTS_CONFIRMATION = DefaultTemplate(
    key="slots.confirmation",
    name="Terminvorschläge: Terminbestätigung an den Interessenten",
    subject="Terminbestätigung: {{ appointment.text }}",
    body=_GREETING + "vielen Dank für Ihre Vorschläge. Gerne bestätigen wir "
    "{% if is_viewing %}die Besichtigung von „{{ property.title }}“{% if property.address %} "
    "({{ property.address }}){% endif %}{% else %}unseren Termin{% endif %}:\n\n"
    "{{ appointment.text }}\n\nDie Kalendereinladung finden Sie im Anhang.\n\n"
    "Mit freundlichen Grüßen\n{{ agent.name }}\n",
)


# Automations (seed 003): what the shipped rules send; `is defined` keeps them working for events that
# have no property or appointment.
AUTOMATION_FIRST_EMAIL = DefaultTemplate(
    key="automation.first_email",
    name="Automation: Erst-E-Mail an neue Interessenten",
    subject="Willkommen bei {{ agent.name }}",
    body=_GREETING + "vielen Dank für Ihr Interesse{% if property is defined %} an „{{ property.title }}“{% endif %}. "
    "Wir haben Sie als Interessent:in aufgenommen und melden uns, sobald wir passende Angebote für Sie haben.\n\n"
    "Sie können uns jederzeit antworten, wenn Sie Fragen haben oder eine Besichtigung wünschen.\n\n"
    "Mit freundlichen Grüßen\n{{ agent.name }}\n",
)

AUTOMATION_BIRTHDAY = DefaultTemplate(
    key="automation.birthday",
    name="Automation: Geburtstagsgruß",
    subject="Alles Gute zum Geburtstag!",
    body=_GREETING + "zu Ihrem Geburtstag wünschen wir Ihnen alles Gute, Gesundheit und viel Freude im neuen "
    "Lebensjahr.\n\nHerzliche Grüße\n{{ agent.name }}\n",
)

AUTOMATION_APPOINTMENT_CONFIRMATION = DefaultTemplate(
    key="automation.appointment_confirmation",
    name="Automation: Terminbestätigung an den Interessenten",
    subject="Terminbestätigung: {{ appointment.date }} um {{ appointment.time }} Uhr",
    body=_GREETING + "hiermit bestätigen wir Ihren Termin{% if property is defined %} zur Besichtigung von "
    "„{{ property.title }}“{% if property.street %}, {{ property.street }}, {{ property.zip_code }} "
    "{{ property.city }}{% endif %}{% endif %} am {{ appointment.date }} von {{ appointment.time }} bis "
    "{{ appointment.end_time }} Uhr.\n\n"
    "Falls Sie den Termin nicht wahrnehmen können, geben Sie uns bitte kurz Bescheid.\n\n"
    "Mit freundlichen Grüßen\n{{ agent.name }}\n",
)


def defaults(followup_attempts: int = 2) -> list[DefaultTemplate]:
    return [
        CONFIRMATION,
        EXPOSE,
        MANAGER_NOTICE,
        *(followup(n) for n in range(1, followup_attempts + 1)),
        LEAD_REMINDER,
        SLOTS_INVITATION,
        SLOTS_RESPONSE,
        SLOTS_SMS,
        SLOTS_CONFIRMATION,
        AUTOMATION_FIRST_EMAIL,
        AUTOMATION_BIRTHDAY,
        AUTOMATION_APPOINTMENT_CONFIRMATION,
    ]
