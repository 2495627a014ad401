"""Each portal parser on its fixtures (tests/data/mail): encodings, HTML-only, forwards, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from starter.intake.mail import parse_mail, read_mail
from starter.intake.mail.message import html_to_text

DATA = Path(__file__).parent.parent / "data" / "mail"
MAILBOX = "anfragen@immoflow.local"


def parse(name: str) -> tuple[str | None, dict[str, object] | None, str | None]:
    outcome = parse_mail(read_mail((DATA / name).read_bytes()), mailbox=MAILBOX, time_zone="Europe/Berlin")
    data = outcome.payload.model_dump() if outcome.payload else None
    return outcome.parser, data, outcome.problem


def test_openimmo_attachment_wins_over_the_portal_text() -> None:
    parser, data, _ = parse("openimmo_attachment.eml")
    assert parser == "openimmo"
    assert data is not None
    assert data["source"] == "immobilienscout24"
    assert data["property_ref"] == "W-1001"
    assert data["mailbox"] == MAILBOX
    assert "@" in str(data["email"])


def test_immoscout24_quoted_printable_utf8() -> None:
    parser, data, _ = parse("immoscout24_qp_utf8.eml")
    assert parser == "immoscout24"
    assert data is not None
    assert data["external_id"] == "IS24-88001"
    assert data["property_ref"] == "W-1001"
    assert (data["salutation"], data["first_name"], data["last_name"]) == ("Frau", "Erika", "Müller-Lüdenscheidt")
    assert data["email"] == "erika.mustermann@example.org"
    assert (data["zip_code"], data["city"], data["street"]) == ("10115", "Berlin", "Große Straße 5")
    message = str(data["message"])
    assert message.startswith("Guten Tag, ich interessiere mich für die Wohnung")
    assert "Wäre nächste Woche möglich?" in message
    assert str(data["received_at"]).startswith("2026-12-01 09:01:02")  # +01:00 -> UTC


def test_immoscout24_html_only_base64_without_inquiry_id_uses_scout_id_and_message_id() -> None:
    parser, data, _ = parse("immoscout24_html_only_base64.eml")
    assert parser == "immoscout24"
    assert data is not None
    assert data["external_id"] == "987654321-html-only-77@immobilienscout24.de"
    assert (data["first_name"], data["last_name"]) == ("Jörg", "Weiß")
    assert data["email"] == "joerg.weiss@example.net"
    assert data["message"] == "Ist die Wohnung noch frei? Ich habe einen Hund & eine Katze."


def test_immowelt_html_only_iso_8859_1_table() -> None:
    parser, data, _ = parse("immowelt_html_latin1.eml")
    assert parser == "immowelt"
    assert data is not None
    assert (data["source"], data["external_id"], data["property_ref"]) == ("immowelt", "IW-55123", "W-1001")
    assert (data["salutation"], data["first_name"], data["last_name"]) == ("Frau", "Björk", "Säger")
    assert data["message"] == "Grüß Gott, gibt es einen Stellplatz? Preis ca. 1.200 EUR?"


def test_immonet_declared_latin1_but_windows_1252() -> None:
    parser, data, _ = parse("immonet_cp1252.eml")
    assert parser == "immowelt"
    assert data is not None
    assert data["source"] == "immonet"
    assert data["external_id"] == "in-2026-3344@immonet.de"  # no inquiry number: the Message-ID
    assert (data["first_name"], data["last_name"]) == ("Dr. Hans", "Grüner")
    assert data["message"] == "„Ist die Wohnung ruhig gelegen?“ – Das wäre mir wichtig. Kosten ca. 950 €."


def test_kleinanzeigen_relay_address_and_ref_from_the_subject() -> None:
    parser, data, _ = parse("kleinanzeigen_alternative.eml")
    assert parser == "kleinanzeigen"
    assert data is not None
    assert data["email"] == "interessent-x7k2p9@mail.kleinanzeigen.de"
    assert data["property_ref"] == "W-1001"
    assert data["last_name"] == "Lena"
    assert str(data["external_id"]).startswith("2345678901-")
    assert "Samstag vorbeischauen" in str(data["message"])


def test_website_form_8bit_utf8() -> None:
    parser, data, _ = parse("website_form.eml")
    assert parser == "website"
    assert data is not None
    assert (data["property_ref"], data["first_name"], data["last_name"]) == ("W-1001", "Paula", "Päßler")
    assert data["phone"] == "+49 40 123456"
    assert str(data["message"]).startswith("Ich hätte gern das Exposé.")


def test_forward_inline_by_an_agent_is_read_as_the_portal_mail() -> None:
    parser, data, _ = parse("forwarded_inline_immoscout24.eml")
    assert parser == "immoscout24"
    assert data is not None
    assert (data["external_id"], data["email"], data["last_name"]) == (
        "IS24-88002",
        "tom.schaefer@example.com",
        "Schäfer",
    )


def test_forward_as_attachment_is_read_as_the_portal_mail() -> None:
    parser, data, _ = parse("forwarded_attachment_immowelt.eml")
    assert parser == "immowelt"
    assert data is not None
    assert (data["external_id"], data["email"], data["last_name"]) == ("IW-99", "ole.oeztuerk@example.com", "Öztürk")


def test_a_mail_no_parser_knows_is_not_guessed() -> None:
    parser, data, problem = parse("unrecognised_newsletter.eml")
    assert (parser, data) == (None, None)
    assert problem == "Kein Parser hat die E-Mail erkannt."


def test_a_recognised_portal_mail_without_address_says_why() -> None:
    raw = (DATA / "immowelt_html_latin1.eml").read_bytes().replace(b"bjoerk.saeger@example.com", b"kaputt")
    outcome = parse_mail(read_mail(raw), mailbox=MAILBOX, time_zone="Europe/Berlin")
    assert outcome.parser == "immowelt"
    assert outcome.payload is None
    assert outcome.problem is not None and "email" in outcome.problem


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<style>x{}</style><b>fett</b> &amp; gut<br>neu", "fett & gut\nneu"),
        ("<table><tr><td>Name:</td><td>X</td></tr></table>", "Name: X"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
