"""InquiryPayload and the JSON reader: what is accepted, how it is normalised, and the reasons for refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from starter.intake.payload import (
    InquiryPayload,
    PayloadError,
    normalise_email,
    parse_json,
    parse_received_at,
    source_slug,
    validate_payload,
)
from workflows.inquiry_models import workflow_id_for

BERLIN = "Europe/Berlin"


def minimal(**fields: Any) -> dict[str, Any]:
    return {"source": "immoscout24", "external_id": "msg-1", "email": "nina@example.com", **fields}


def rejected(data: object) -> str:
    with pytest.raises(PayloadError) as info:
        validate_payload(data, time_zone=BERLIN)
    assert info.value.status_code == 422
    return info.value.reason


def test_full_payload_is_normalised() -> None:
    payload = validate_payload(
        {
            "source": "ImmobilienScout24",
            "external_id": "  IS24 4711 ",
            "mailbox": "Anfragen@Immoflow.LOCAL",
            "property_ref": " W-1001 ",
            "salutation": "Frau",
            "first_name": "  Anna   Maria ",
            "last_name": "Schäfer",
            "email": "  Anna.Schaefer@Example.ORG ",
            "phone": "030 6912345",
            "mobile": "0171 2345678",
            "street": "Lindenstraße 12",
            "zip_code": "10969",
            "city": "Berlin",
            "message": "Guten Tag,\r\n\r\nist die Wohnung noch frei?\r\n",
            "received_at": "11.11.2011 14:30",
        },
        time_zone=BERLIN,
    )
    assert payload.source == "immobilienscout24"
    assert payload.external_id == "IS24_4711"
    assert payload.mailbox == "anfragen@immoflow.local"
    assert payload.property_ref == "W-1001"
    assert payload.first_name == "Anna Maria"
    assert payload.email == "anna.schaefer@example.org"
    assert payload.message == "Guten Tag,\n\nist die Wohnung noch frei?"
    assert payload.received_at == datetime(2011, 11, 11, 13, 30, tzinfo=UTC)  # 14:30 in Berlin, winter time
    assert payload.prospect_data() == {
        "salutation": "Frau",
        "first_name": "Anna Maria",
        "last_name": "Schäfer",
        "email": "anna.schaefer@example.org",
        "phone": "030 6912345",
        "mobile": "0171 2345678",
        "street": "Lindenstraße 12",
        "zip_code": "10969",
        "city": "Berlin",
    }


def test_optional_fields_may_be_missing_or_blank_and_received_at_defaults_to_now() -> None:
    before = datetime.now(UTC)
    payload = validate_payload(minimal(first_name="", phone="   ", mailbox=""), time_zone=BERLIN)
    assert payload.first_name is None and payload.phone is None and payload.mailbox is None
    assert before <= payload.received_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2011-11-11", datetime(2011, 11, 10, 23, 0, tzinfo=UTC)),
        ("11.11.2011", datetime(2011, 11, 10, 23, 0, tzinfo=UTC)),
        ("1.7.2011", datetime(2011, 6, 30, 22, 0, tzinfo=UTC)),  # summer time: UTC+2
        ("11.11.2011 14:30", datetime(2011, 11, 11, 13, 30, tzinfo=UTC)),
        ("11.11.2011 14:30:15", datetime(2011, 11, 11, 13, 30, 15, tzinfo=UTC)),
        ("2011-11-11T14:30:00", datetime(2011, 11, 11, 13, 30, tzinfo=UTC)),
        ("2011-11-11T14:30:00+00:00", datetime(2011, 11, 11, 14, 30, tzinfo=UTC)),
        ("2011-11-11T14:30:00Z", datetime(2011, 11, 11, 14, 30, tzinfo=UTC)),
        ("2011-11-11 14:30:00-05:00", datetime(2011, 11, 11, 19, 30, tzinfo=UTC)),
    ],
)
def test_received_at_formats(text: str, expected: datetime) -> None:
    assert parse_received_at(text, BERLIN) == expected
    assert validate_payload(minimal(received_at=text), time_zone=BERLIN).received_at == expected


def test_naive_times_use_the_given_office_time_zone() -> None:
    assert parse_received_at("11.11.2011 14:30", "UTC") == datetime(2011, 11, 11, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("value", ["31.02.2011", "11/11/2011", "yesterday", "2011-13-01", "11.11.11", ""])
def test_invalid_dates_are_refused_with_the_accepted_formats(value: str) -> None:
    reason = rejected(minimal(received_at=value))
    assert "received_at" in reason and "11.11.2011 14:30" in reason


def test_numbers_are_not_dates() -> None:
    assert "received_at must be a date string" in rejected(minimal(received_at=1321018200))


@pytest.mark.parametrize(
    ("given_address", "stored"),
    [
        ("Max.Mustermann@Example.DE", "max.mustermann@example.de"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'connor@example.ie", "o'connor@example.ie"),
        ("mailto:info@example.com", "info@example.com"),
        ("j.weiss@müller-immobilien.de", "j.weiss@müller-immobilien.de"),
        ("x@xn--mller-kva.de", "x@müller.de"),  # one form per address, so duplicates are found
        ("anfragen@immoflow.local", "anfragen@immoflow.local"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
)
def test_valid_emails(given_address: str, stored: str) -> None:
    assert normalise_email(given_address) == stored


@pytest.mark.parametrize(
    "address",
    [
        "plainaddress",
        "nina@",
        "@example.com",
        "nina@example",
        "nina@@example.com",
        "nina@exa@mple.com",
        "nina..neu@example.com",
        ".nina@example.com",
        "nina.@example.com",
        "nina neu@example.com",
        "nina@-example.com",
        "nina@example-.com",
        "nina@example.c",
        "nina@example..com",
        "nina@exam_ple.com",
        "nina@example.123",
        "Nina Neu <nina@example.com>",
        "<nina@example.com>",
        "jürgen@example.com",
        "a" * 65 + "@example.com",
        "nina@" + "a" * 64 + ".com",
        "n@" + ("a" * 63 + ".") * 3 + "b" * 57 + ".com",  # 255 characters
        "nina@example.com\nBcc: victim@example.com",
    ],
)
def test_invalid_emails_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(address)
    assert rejected(minimal(email=address)).startswith("Invalid inquiry: email ")


@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_every_rfc_address_hypothesis_generates_is_accepted(address: str) -> None:
    if len(address) > 254:
        return
    stored = normalise_email(address)
    assert stored == stored.lower()
    assert stored.count("@") == 1


def test_missing_email_is_named() -> None:
    assert rejected({"source": "immoscout24", "external_id": "1"}) == "Invalid inquiry: email is required."
    assert rejected(minimal(email=None)) == "Invalid inquiry: email is required."
    assert rejected(minimal(email="  ")) == "Invalid inquiry: email is required."


def test_unknown_fields_and_wrong_types_are_listed_together() -> None:
    reason = rejected(minimal(phone=301234567, first_name=["Anna"], prospect_id=7))
    assert "phone must be a string (got int)" in reason
    assert "first_name must be a string (got list)" in reason
    assert "prospect_id is not a known field" in reason


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("first_name", 120),
        ("last_name", 120),
        ("salutation", 40),
        ("street", 200),
        ("city", 120),
        ("zip_code", 20),
        ("phone", 40),
        ("property_ref", 64),
        ("external_id", 200),
        ("message", 10_000),
    ],
)
def test_texts_are_length_limited(field: str, limit: int) -> None:
    validate_payload(minimal(**{field: "x" * limit}), time_zone=BERLIN)
    assert f"{field} is too long (at most {limit} characters)" in rejected(minimal(**{field: "x" * (limit + 1)}))


@pytest.mark.parametrize("field", ["first_name", "message", "external_id", "city"])
def test_control_characters_are_refused(field: str) -> None:
    assert f"{field} contains control characters" in rejected(minimal(**{field: "Anna\x00Schäfer"}))


def test_required_keys_must_not_be_empty() -> None:
    reason = rejected(minimal(source="", external_id=" "))
    assert "source must not be empty" in reason
    assert "external_id must not be empty" in reason


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("ImmobilienScout24", "immobilienscout24"),
        ("immowelt.de", "immowelt_de"),
        ("Kleinanzeigen - Immobilien", "kleinanzeigen_immobilien"),
        ("Süddeutsche Immobilien", "sueddeutsche_immobilien"),
        ("  IMMONET ", "immonet"),
    ],
)
def test_source_becomes_a_lower_case_slug(name: str, slug: str) -> None:
    assert source_slug(name) == slug
    assert validate_payload(minimal(source=name), time_zone=BERLIN).source == slug


def test_source_without_letters_is_refused() -> None:
    assert "source '---' has no letters or digits" in rejected(minimal(source="---"))


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_source_slugs_keep_workflow_ids_unambiguous(a: str, b: str) -> None:
    # inquiry-<source>-<external id>: with hyphen-free sources the split after "inquiry-" is unique.
    slug = source_slug(a)
    assert "-" not in slug
    if slug:
        workflow_id = workflow_id_for(slug, b)
        assert workflow_id.removeprefix("inquiry-").split("-", 1)[0] == slug


def test_schema_documents_fields_and_forbids_extras() -> None:
    schema = InquiryPayload.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"source", "external_id", "email"}
    assert "format" not in schema["properties"]["received_at"]  # German dates are valid input


# --- the JSON reader -------------------------------------------------------------------------------------


def test_parse_json_reads_a_utf8_object() -> None:
    body = json.dumps(minimal(last_name="Weiß"), ensure_ascii=False).encode("utf-8")
    assert parse_json(body).last_name == "Weiß"
    assert parse_json(b"\xef\xbb\xbf" + body).last_name == "Weiß"  # with a BOM


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"", 400, "The body is empty"),
        (b"   \n", 400, "The body is empty"),
        (b'{"source": "x",', 400, "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        (b"source=x&email=y", 400, "not valid JSON"),
        (b'{"email": "j\xfcrgen@example.com"}', 400, "not UTF-8 (byte 0xfc at offset 12)"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "not usable JSON"),
        (b"[]", 422, "Expected a JSON object with the inquiry's fields, got list"),
        (b"null", 422, "got NoneType"),
        (b'"nina@example.com"', 422, "got str"),
    ],
)
def test_parse_json_refusals(body: bytes, status: int, needle: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_json(body)
    assert info.value.status_code == status
    assert needle in info.value.reason


def test_far_future_or_past_dates_are_kept_as_sent() -> None:
    # A portal's wrong clock must not cost an inquiry: the date is informational, the intake time is in the row.
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert validate_payload(minimal(received_at=future), time_zone=BERLIN).received_at > datetime.now(UTC)
