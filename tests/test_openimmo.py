"""OpenImmo-Feedback parsing: real-world samples become the right payloads; hostile or broken documents don't."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from starter.intake.openimmo import parse_feedback
from starter.intake.payload import PayloadError

DATA = Path(__file__).parent / "data" / "openimmo"
MAILBOX = "anfragen@immoflow.local"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def refusal(body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse_feedback(body, mailbox=MAILBOX)
    return info.value


def feedback(interessent: str, *, objekt: str = "<oobj_id>W-1001</oobj_id>", sender: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<openimmo_feedback><sender><name>Immonet</name>{sender}</sender>"
        f"<objekt>{objekt}<interessent>{interessent}</interessent></objekt></openimmo_feedback>"
    ).encode()


def test_immoscout24_sample_with_mobile_and_iso_date() -> None:
    payload = parse_feedback(sample("feedback_immoscout24.xml"), mailbox=MAILBOX)
    assert payload.model_dump() == {
        "source": "immobilienscout24",
        "external_id": "IS24-a7f3c9e1-2b44",
        "mailbox": MAILBOX,
        "property_ref": "W-1001",
        "salutation": "Frau",
        "first_name": "Anna",
        "last_name": "Schäfer",
        "email": "anna.schaefer@example.org",
        "phone": "030 6912345",
        "mobile": "0171 2345678",
        "street": "Lindenstraße 12",
        "zip_code": "10969",
        "city": "Berlin",
        "message": (
            "Guten Tag,\n\nich interessiere mich sehr für die Wohnung und würde sie gern besichtigen.\n"
            "Wir sind zu zweit, beide berufstätig, keine Haustiere.\n\nViele Grüße\nAnna Schäfer"
        ),
        "received_at": datetime(2011, 11, 10, 23, 0, tzinfo=UTC),  # 2011-11-11 00:00 in Berlin
    }


def test_immowelt_sample_in_latin1_with_german_date_and_time_without_mobile() -> None:
    payload = parse_feedback(sample("feedback_immowelt_latin1.xml"), mailbox=MAILBOX)
    assert payload.source == "immowelt_de"
    assert (payload.salutation, payload.first_name, payload.last_name) == ("Herr", "Jürgen", "Weiß")
    assert (payload.street, payload.zip_code, payload.city) == ("Hohenzollernring 7", "50672", "Köln")
    assert payload.email == "j.weiss@t-online.de"
    assert payload.phone == "0221/9876543"
    assert payload.mobile is None
    assert payload.property_ref == "W-1001"
    assert payload.message is not None and payload.message.endswith("Mit freundlichen Grüßen")
    assert payload.received_at == datetime(2011, 11, 11, 13, 30, tzinfo=UTC)
    # No int_id: the portal's unique ID plus a fingerprint of the inquiry.
    assert payload.external_id.startswith("2F7KQ4X.")


def test_minimal_website_sample_falls_back_to_the_providers_object_number() -> None:
    payload = parse_feedback(sample("feedback_website_minimal.xml"))
    assert payload.source == "homepage_mueller_immobilien"
    assert payload.property_ref == "H-2040"  # oobj_id is empty, anbieter_id is set
    assert payload.mailbox is None
    assert (payload.first_name, payload.last_name, payload.email) == ("Lukas", "Becker", "lukas.becker@web.de")
    assert payload.phone is None and payload.mobile is None and payload.salutation is None
    assert payload.received_at == datetime(2011, 11, 10, 23, 0, tzinfo=UTC)
    assert payload.external_id.startswith("oi.")


def test_property_ref_prefers_oobj_id_then_anbieter_id_then_portal_obj_id() -> None:
    person = "<email>a@example.org</email>"
    both = "<portal_obj_id>P-9</portal_obj_id><anbieter_id>A-7</anbieter_id><oobj_id>W-1</oobj_id>"
    assert parse_feedback(feedback(person, objekt=both)).property_ref == "W-1"
    assert parse_feedback(feedback(person, objekt="<portal_obj_id>P-9</portal_obj_id>")).property_ref == "P-9"
    assert parse_feedback(feedback(person, objekt="")).property_ref is None


def test_the_same_document_always_gets_the_same_external_id() -> None:
    body = sample("feedback_immowelt_latin1.xml")
    assert parse_feedback(body).external_id == parse_feedback(body).external_id
    # The same document re-encoded as UTF-8 is still the same inquiry.
    utf8 = body.decode("iso-8859-1").replace("ISO-8859-1", "UTF-8").encode()
    assert parse_feedback(utf8).external_id == parse_feedback(body).external_id


def test_different_prospects_on_the_same_listing_get_different_external_ids() -> None:
    objekt = "<portal_unique_id>148372615</portal_unique_id><oobj_id>W-1001</oobj_id>"
    first = parse_feedback(feedback("<email>anna@example.org</email>", objekt=objekt))
    second = parse_feedback(feedback("<email>bernd@example.org</email>", objekt=objekt))
    assert first.external_id != second.external_id
    assert first.external_id.startswith("148372615.")


def test_int_id_is_the_external_id_when_present() -> None:
    payload = parse_feedback(feedback("<int_id>REQ 77</int_id><email>a@example.org</email>"))
    assert payload.external_id == "REQ_77"


def test_source_and_mailbox_parameters() -> None:
    payload = parse_feedback(feedback("<email>a@example.org</email>"), source="Kleinanzeigen", mailbox="Info@Office.de")
    assert (payload.source, payload.mailbox) == ("kleinanzeigen", "info@office.de")
    unnamed = b"<openimmo_feedback><objekt><interessent><email>a@example.org</email></interessent></objekt>"
    unnamed += b"</openimmo_feedback>"
    assert parse_feedback(unnamed).source == "openimmo"


def test_namespaced_documents_are_read() -> None:
    body = (
        b'<openimmo_feedback xmlns="http://www.openimmo.de"><sender><name>Immonet</name></sender>'
        b"<objekt><oobj_id>W-1001</oobj_id><interessent><email>a@example.org</email></interessent></objekt>"
        b"</openimmo_feedback>"
    )
    payload = parse_feedback(body)
    assert (payload.source, payload.property_ref, payload.email) == ("immonet", "W-1001", "a@example.org")


def test_billion_laughs_is_refused() -> None:
    error = refusal(sample("billion_laughs.xml"))
    assert error.status_code == 400
    assert "entity declarations are refused" in error.reason and "billion laughs" in error.reason


def test_external_entities_are_refused_without_being_read() -> None:
    error = refusal(sample("external_entity.xml"))
    assert error.status_code == 400
    assert "external entities are refused" in error.reason and "file:///etc/passwd" in error.reason
    assert "root:" not in error.reason


def test_malformed_xml_says_where() -> None:
    error = refusal(sample("malformed.xml"))
    assert (error.status_code, error.reason) == (400, "Malformed XML: mismatched tag: line 10, column 2.")


def test_bytes_in_the_wrong_encoding_are_explained() -> None:
    error = refusal(sample("wrong_encoding.xml"))
    assert error.status_code == 400
    assert "declares 'UTF-8', but byte 0xfc (line 17) is not valid utf-8" in error.reason
    assert 'encoding="ISO-8859-1"' in error.reason


def test_undeclared_latin1_is_explained() -> None:
    body = b"<openimmo_feedback><objekt><interessent><nachname>M\xfcller</nachname></interessent></objekt>"
    body += b"</openimmo_feedback>"
    error = refusal(body)
    assert error.status_code == 400
    assert "declares no encoding, so UTF-8 applies, but byte 0xfc (line 1)" in error.reason


def test_unknown_encoding_is_explained() -> None:
    error = refusal(b'<?xml version="1.0" encoding="klingon-8"?><openimmo_feedback/>')
    assert (error.status_code, error.reason) == (
        400,
        "The XML declares the unknown encoding 'klingon-8'; use UTF-8 (or e.g. ISO-8859-1).",
    )


def test_missing_email_names_the_xml_element() -> None:
    error = refusal(sample("missing_email.xml"))
    assert (error.status_code, error.reason) == (422, "Invalid inquiry: interessent/email is required.")


def test_invalid_values_name_the_xml_elements() -> None:
    error = refusal(
        feedback("<email>kein-at-zeichen</email><vorname>" + "x" * 121 + "</vorname>", sender="<datum>gestern</datum>")
    )
    assert error.status_code == 422
    assert "interessent/email 'kein-at-zeichen' is not an email address" in error.reason
    assert "interessent/vorname is too long (at most 120 characters)" in error.reason
    assert "sender/datum 'gestern' is not a valid date" in error.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            sample("wrong_root.xml"),
            "Expected an OpenImmo-Feedback document with root <openimmo_feedback>, got <openimmo>.",
        ),
        (
            b"<openimmo_feedback><sender/></openimmo_feedback>",
            "The document contains no <objekt> with an <interessent>",
        ),
        (
            b"<openimmo_feedback><objekt><interessent><email>a@example.org</email></interessent>"
            b"<interessent><email>b@example.org</email></interessent></objekt></openimmo_feedback>",
            "The document contains 2 inquiries (<interessent>); send one per document.",
        ),
    ],
)
def test_documents_without_exactly_one_inquiry(body: bytes, reason: str) -> None:
    error = refusal(body)
    assert error.status_code == 422
    assert error.reason.startswith(reason)


@pytest.mark.parametrize("body", [b"", b"  \n", b"not xml at all", b'{"email": "a@example.org"}', b"\x00\x01\x02"])
def test_non_xml_bodies_are_400(body: bytes) -> None:
    assert refusal(body).status_code == 400
