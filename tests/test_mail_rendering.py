"""Mails as a customer's mail client reads them: the subject survives every parser, the greeting uses the
name, reminders close like a letter, the HTML part is a branded table layout with the text part kept, and
the calendar invitation speaks from the prospect's side."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from icalendar import Calendar

from activities.messages import build_email
from db.models import Contact, Message, Property, SlotRequest, User
from db.session import SessionFactory
from messaging import default_templates
from messaging.ics import CalendarEvent, calendar
from messaging.inquiry_mail import salutation_line
from messaging.mail_layout import OfficeBrand, render_html
from messaging.outbox import NewMessage, enqueue_message, readable_address
from messaging.slot_mail import SlotData, prospect_description, prospect_summary
from messaging.templating import render_mail

SUBJECTS = [
    "Erinnerung 1: Ihre Anfrage zu Helle 3-Zimmer-Altbauwohnung mit Südbalkon in Kreuzberg – Oranienstraße 12",
    "Ihre Anfrage zu Helle 3-Zimmer-Wohnung mit Balkon in Kreuzberg – bitte kurz bestätigen",
    "„Größzügige Maisonette über den Dächern“ — Schönhauser Allee 123, 10437 Berlin, 4 Zimmer, 128 m²",
    "Short ASCII subject",
]


def _message(subject: str, **values: str) -> Message:
    return Message(
        id=7,
        idempotency_key="test:7",
        sender=values.get("sender", "Anna Agent <agent@immoflow.local>"),
        recipient=values.get("recipient", "Lea Schäfer <lea@example.com>"),
        subject=subject,
        body_text=values.get("body_text", "Guten Tag Lea Schäfer,\n\nvielen Dank.\n"),
        body_html=values.get("body_html"),
        attachments=[],
    )


def _wire(message: Message, tmp_path: Path) -> bytes:
    wire: bytes = build_email(message, tmp_path).as_bytes(policy=email.policy.SMTP)
    return wire


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subject_round_trips_through_strict_and_legacy_parsers(subject: str, tmp_path: Path) -> None:
    wire = _wire(_message(subject), tmp_path)
    header_block = wire.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_line = next(line for line in header_block.split("\r\n") if line.startswith("Subject:"))
    assert subject_line != "Subject:" and not subject_line.startswith("Subject:  ")  # not folded after the name
    assert all(len(line) <= 78 for line in header_block.split("\r\n"))  # folded where it must be

    modern = email.message_from_bytes(wire, policy=email.policy.default)
    assert modern["Subject"] == subject
    legacy = email.message_from_bytes(wire)  # compat32, as older tools and many parsers read mail
    assert str(make_header(decode_header(legacy["Subject"]))) == subject


def test_to_header_carries_the_name_readable_and_encoded_on_the_wire(tmp_path: Path) -> None:
    stored = readable_address("=?utf-8?q?Lea_Sch=C3=A4fer?= <lea@example.com>")
    assert stored == "Lea Schäfer <lea@example.com>"
    wire = _wire(_message("Betreff", recipient=stored), tmp_path)
    assert b"Sch\xc3\xa4fer" not in wire.split(b"\r\n\r\n", 1)[0]  # 7-bit headers on the wire
    assert email.message_from_bytes(wire, policy=email.policy.default)["To"] == "Lea Schäfer <lea@example.com>"


def test_greeting_without_salutation_uses_the_full_name() -> None:
    assert salutation_line(None, "Fünfer", "Fritz") == "Guten Tag Fritz Fünfer,"
    assert salutation_line("", " Fünfer ", None) == "Guten Tag Fünfer,"
    assert salutation_line("Frau", "Wagner", "Sophie") == "Sehr geehrte Frau Wagner,"
    assert salutation_line("herr", "Öztürk", "Kemal") == "Sehr geehrter Herr Öztürk,"
    assert salutation_line("Divers", "Kim", "Alex") == "Guten Tag Alex Kim,"
    assert salutation_line(None, None, None) == "Guten Tag,"


def _followup_context(attempt: int) -> dict[str, object]:
    return {
        "salutation_line": salutation_line(None, "Fünfer", "Fritz"),
        "property": {"title": "Helle 3-Zimmer-Wohnung", "ref": "W-1001"},
        "confirm_link": "https://office.example/confirm/abc",
        "manager": {"name": "Anna Agent"},
        "attempts": attempt,
    }


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_reminders_close_with_a_greeting_and_no_signature_block(attempt: int) -> None:
    template = default_templates.followup(attempt)
    subject, body = render_mail(template.subject, template.body, _followup_context(attempt))
    assert subject == f"Erinnerung {attempt}: Ihre Anfrage zu Helle 3-Zimmer-Wohnung"
    assert body.startswith("Guten Tag Fritz Fünfer,\n\n")
    assert body.rstrip().endswith("Mit freundlichen Grüßen\nAnna Agent")
    assert "Tel." not in body and "@" not in body  # seed 000: no personal signature block


@pytest.mark.parametrize(("attempts", "words"), [(1, "nach einer Erinnerung"), (2, "nach 2 Erinnerungen")])
def test_manager_notice_counts_reminders_in_german(attempts: int, words: str) -> None:
    from messaging import l10n

    context = {
        **_followup_context(attempts),
        "prospect": {"name": "Fritz Fünfer", "email": "f@example.com"},
        "attempts_text": l10n.plural(attempts, "einer Erinnerung", "{n} Erinnerungen"),
        "inquiry_link": "https://office.example/dashboard/inquiries/1",
    }
    _, body = render_mail(default_templates.MANAGER_NOTICE.subject, default_templates.MANAGER_NOTICE.body, context)
    assert words in body and "(en)" not in body


class _Structure(HTMLParser):
    """What a mail client sees of the HTML: tags, their attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


EXPOSE_TEXT = (
    "Sehr geehrte Frau Schäfer,\n\n"
    "vielen Dank für Ihr Interesse an „Helle 3-Zimmer-Wohnung“. Die wichtigsten Daten:\n\n"
    "- Objektart: Wohnung\n- Zimmer: 3\n- Kaltmiete: 1.250 €\n\n"
    "Bitte bestätigen Sie hier:\n\nhttps://office.example/confirm/abc.def\n\n"
    "Fragen? Schreiben Sie an <script>alert(1)</script> oder https://office.example/kontakt.\n\n"
    "Mit freundlichen Grüßen\nAnna Agent\n"
)


def test_html_part_is_a_branded_table_layout_made_from_the_text() -> None:
    brand = OfficeBrand(
        name="Hausverwaltung Müller & Söhne",
        address_lines=("Oranienstraße 12", "10999 Berlin"),
        imprint_url="https://office.example/impressum",
        privacy_url="https://office.example/datenschutz",
    )
    html = render_html(EXPOSE_TEXT, brand=brand, subject="Ihr Exposé", cover_url="https://office.example/c.jpg")
    page = _Structure()
    page.feed(html)

    assert page.all("html")[0]["lang"] == "de"
    assert not page.all("script") and not page.all("style") and not page.all("link")  # clients strip them
    assert all("class" not in attrs for _, attrs in page.tags)  # inline styles only
    layout = page.all("table")
    assert layout and all(t.get("role") == "presentation" for t in layout)
    assert any("max-width:600px" in (t.get("style") or "") for t in layout)  # one column that shrinks
    assert any(name == "meta" and attrs.get("name") == "viewport" for name, attrs in page.tags)
    assert page.text[:2] == ["Ihr Exposé", brand.name] or brand.name in page.text  # the office on top
    assert page.all("img")[0]["src"] == "https://office.example/c.jpg" and page.all("img")[0]["alt"] == ""
    # Paragraphs keep the text; "- Label: Wert" lines become a table of facts, not dashes.
    assert "Sehr geehrte Frau Schäfer," in page.text
    facts = ["Objektart", "Wohnung", "Zimmer", "3", "Kaltmiete", "1.250 €"]
    assert [t for t in page.text if t in facts] == facts
    assert not any(t.startswith("- ") for t in page.text)
    # A line that is a link becomes a button, with the address spelled out for clients that block it.
    links = [attrs["href"] for attrs in page.all("a")]
    assert links.count("https://office.example/confirm/abc.def") == 2
    assert "Anfrage bestätigen" in page.text
    assert "https://office.example/kontakt" in links  # inline link, without the full stop
    assert "<script>alert(1)</script>" in "".join(page.text) and "<script>" not in html  # escaped, not markup
    assert "https://office.example/impressum" in links and "https://office.example/datenschutz" in links
    assert all((attrs.get("style") or "") for attrs in page.all("p"))  # no browser-default serif paragraphs


def test_html_part_falls_back_to_a_sender_name_without_office_identity() -> None:
    html = render_html("Guten Tag,\n\nkurz: alles gut.")
    assert "Ihr Immobilienbüro" in html and "kurz: alles gut." in html


async def test_every_mail_gets_html_and_keeps_its_text_part(sessions: SessionFactory, tmp_path: Path) -> None:
    async with sessions.begin() as session:
        stored = await enqueue_message(
            session,
            NewMessage(
                idempotency_key="test:html:1",
                sender="=?utf-8?q?Anna_B=C3=B6hm?= <anna@office.example>",
                recipient="Lea Schäfer <lea@example.com>",
                subject=SUBJECTS[0],
                body_text="Guten Tag Lea Schäfer,\n\nbitte bestätigen:\n\nhttps://office.example/confirm/x\n",
            ),
        )
        await session.flush()
        message_id = stored.id
    async with sessions() as session:
        row = await session.get(Message, message_id)
        assert row is not None
    assert row.sender == "Anna Böhm <anna@office.example>"  # people read this row under "Gesendete Mails"
    assert row.body_html is not None and "https://office.example/confirm/x" in row.body_html

    parsed = email.message_from_bytes(_wire(row, tmp_path), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = (parsed.get_body(("plain",)), parsed.get_body(("html",)))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == row.body_text  # the text part, as written
    assert "<table" in html.get_content()


def _slot_data(prop: Property | None) -> SlotData:
    agent = User(id=1, name="Anna Agent", email="anna@office.example")
    contact = Contact(id=2, first_name="Bernd", last_name="Bekannt", email="bekannt@example.com")
    return SlotData(request=SlotRequest(id=3), contact=contact, prop=prop, agent=agent, proposals=[])


def test_calendar_entry_is_written_from_the_prospects_side() -> None:
    prop = Property(
        id=4, external_ref="W-1001", title="Helle 3-Zimmer-Wohnung", street="Oranienstraße 12", zip_code="10999",
        city="Berlin",
    )  # fmt: skip
    data = _slot_data(prop)
    start = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    event = CalendarEvent(
        uid="slots-3-appointment-5@office.example",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        created_at=start - timedelta(days=2),
        summary=prospect_summary(data),
        description=prospect_description(data),
        location="Oranienstraße 12, 10999 Berlin",
        organizer_name='Anna "die Maklerin" Agent',
        organizer_email="anna@office.example",
        attendee_name="Bernd Bekannt",
        attendee_email="bekannt@example.com",
    )
    text = calendar(event)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))  # folded by octets, CRLF line ends
    parsed = Calendar.from_ical(text)
    [entry] = parsed.walk("VEVENT")
    assert str(entry["SUMMARY"]) == "Besichtigung Helle 3-Zimmer-Wohnung, Oranienstraße 12"
    assert "W-1001:" not in str(entry["SUMMARY"]) and "Bekannt" not in str(entry["SUMMARY"])
    description = str(entry["DESCRIPTION"])
    assert "Adresse: Oranienstraße 12, 10999 Berlin" in description and "Anna Agent" in description
    assert "im Anhang" not in description
    assert entry.decoded("DTSTART") == start and str(parsed["METHOD"]) == "REQUEST"
    assert str(entry["ORGANIZER"]) == "mailto:anna@office.example"
    assert '"' not in str(entry["ORGANIZER"].params["CN"])


def test_calendar_entry_without_property_names_the_agent() -> None:
    assert prospect_summary(_slot_data(None)) == "Termin mit Anna Agent"
