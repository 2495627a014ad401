"""The office's legal pages and APIs: identity and texts at /settings/legal, the public Impressum and
privacy notice, and a contact's privacy page (retention, erasure) — bad input refused with a reason."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from db.models import Contact, PrivacyAudit
from db.session import SessionFactory
from settings import Settings
from tests import factories
from tests.http import app_client

pytestmark = pytest.mark.one_backend


async def test_legal_settings_page_saves_valid_input_and_refuses_bad_input(
    sessions: SessionFactory, settings: Settings
) -> None:
    async with app_client(settings) as http:
        page = await http.get("/settings/legal")
        assert page.status_code == 200 and "Beispiele" in page.text and "Widerrufsbelehrung" in page.text
        current = (await http.get("/api/settings/legal")).json()
        form = {f"identity.{k}": v or "" for k, v in current["identity"].items()}
        form.update({k: current[k] for k in ("consent_text", "commission_note", "widerruf_text", "withdrawal_form")})
        form.update(early_start_text=current["early_start_text"], retention_notice_days="14")
        form.update(unconfirmed_retention_days="30", without_early_start="wait")
        bad = await http.post("/settings/legal", data={**form, "withdrawal_days": "3", "identity.name": "Büro Nord"})
        assert bad.status_code == 422 and "withdrawal_days" in bad.text
        assert (await http.get("/api/settings/legal")).json()["identity"]["name"] == current["identity"]["name"]
        good = await http.post(
            "/settings/legal",
            data={
                **form,
                "withdrawal_days": "14",
                "identity.name": "Büro Nord",
                "identity.impressum_text": "Büro Nord\nHRB 1",
            },
        )
        assert good.status_code == 303
        saved = (await http.get("/api/settings/legal")).json()
        assert saved["identity"]["name"] == "Büro Nord" and saved["widerruf_enabled"] is False
        api_bad = await http.put(
            "/api/settings/legal", json={**saved, "identity": {**saved["identity"], "logo_url": "nope"}}
        )
        assert api_bad.status_code == 422

    async with app_client(settings, auth=None) as public:
        impressum = await public.get("/impressum")
        assert impressum.status_code == 200 and "HRB 1" in impressum.text and "Büro Nord" in impressum.text
        privacy = await public.get("/datenschutz")
        assert privacy.status_code == 200 and "Art. 6" in privacy.text


async def test_impressum_redirects_to_the_offices_own_page(settings: Settings, sessions: SessionFactory) -> None:
    async with app_client(settings) as http:
        current = (await http.get("/api/settings/legal")).json()
        current["identity"]["impressum_url"] = "https://makler.example/impressum"
        assert (await http.put("/api/settings/legal", json=current)).status_code == 200
    async with app_client(settings, auth=None) as public:
        response = await public.get("/impressum")
        assert response.status_code == 303 and response.headers["location"] == "https://makler.example/impressum"


async def test_privacy_page_sets_retention_and_erases_only_when_confirmed(
    sessions: SessionFactory, settings: Settings
) -> None:
    klara = await factories.contact(sessions, phone="+49 30 123")
    async with app_client(settings) as http:
        page = await http.get(f"/contacts/{klara.id}/privacy")
        assert page.status_code == 200 and "Keine Einwilligungen" in page.text
        assert (await http.get("/contacts/999999/privacy")).status_code == 404
        bad = await http.put(
            f"/api/contacts/{klara.id}/retention", json={"retain_until": "2031-01-31", "retention_reason": "weil"}
        )
        assert bad.status_code == 422
        refused = await http.post(f"/contacts/{klara.id}/privacy/retention", data={"retain_until": "31.01.2031"})
        assert refused.status_code == 303
        saved = await http.post(
            f"/contacts/{klara.id}/privacy/retention",
            data={"retain_until": "2031-01-31", "retention_reason": "contract"},
        )
        assert saved.status_code == 303
        not_confirmed = await http.post(f"/contacts/{klara.id}/privacy/erase", data={"confirm": "ja"})
        assert not_confirmed.status_code == 303
        async with sessions() as session:
            row = await session.get(Contact, klara.id)
            assert row is not None and row.retain_until == date(2031, 1, 31) and row.retention_reason == "contract"
            assert row.email == "klara@example.com" and row.erased_at is None
        erased = await http.post(f"/contacts/{klara.id}/privacy/erase", data={"confirm": "LÖSCHEN"})
        assert erased.status_code == 303
        after = await http.get(f"/contacts/{klara.id}/privacy")
        assert "wurden am" in after.text and "Löschung" in after.text
    async with sessions() as session:
        row = await session.get(Contact, klara.id)
        assert row is not None and row.erased_at is not None and row.email is None and row.phone is None
        assert list(await session.scalars(select(PrivacyAudit.action))) == ["erase"]


async def test_a_legal_duty_to_keep_holds_the_erasure_until_forced(
    sessions: SessionFactory, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    far = datetime.now(UTC).date() + timedelta(days=400)  # a year away on any day and at any hour
    kept = await factories.contact(sessions, retain_until=far, retention_reason="legal_duty")
    async with app_client(settings) as http:
        held = await http.post(f"/api/contacts/{kept.id}/erase")
        assert held.status_code == 409 and "Aufbewahrungspflicht" in held.json()["detail"]
        forced = await http.post(f"/api/contacts/{kept.id}/erase", params={"force": "true"})
        assert forced.status_code == 200, forced.text


async def test_the_widerruf_setting_per_property_overrides_the_office(
    sessions: SessionFactory, settings: Settings
) -> None:
    from db.legal_settings import LegalSettings
    from db.models import Property
    from messaging.widerruf import widerruf_applies

    office = await factories.office(sessions)
    prop_id = office["active"].id
    async with app_client(settings) as http:
        assert (await http.put(f"/api/properties/{prop_id}/widerruf", json={"mode": "on"})).status_code == 200
        assert (await http.put(f"/api/properties/{prop_id}/widerruf", json={"mode": "vielleicht"})).status_code == 422
        assert (await http.put("/api/properties/999999/widerruf", json={"mode": "on"})).status_code == 404
    async with sessions() as session:
        prop = await session.get(Property, prop_id)
    assert prop is not None and prop.widerruf_mode == "on"
    assert widerruf_applies(prop, LegalSettings(widerruf_enabled=False)) is True
    prop.widerruf_mode = "off"
    assert widerruf_applies(prop, LegalSettings(widerruf_enabled=True)) is False
    prop.widerruf_mode = None
    assert widerruf_applies(prop, LegalSettings(widerruf_enabled=True)) is True


async def test_every_prospect_page_shows_the_offices_identity(sessions: SessionFactory, settings: Settings) -> None:
    from db.app_settings import save_section
    from db.legal_settings import SECTION, LegalSettings, OfficeIdentity

    async with sessions.begin() as session:
        identity = OfficeIdentity(name="Makler Süd KG", address="Am Markt 2, 80331 München")
        await save_section(session, SECTION, LegalSettings(identity=identity))
    async with app_client(settings, auth=None) as public:
        for path in ("/slots/forged-token", "/confirm/forged-token", "/unsubscribe/forged", "/consent/x", "/impressum"):
            page = await public.get(path)
            assert "Makler Süd KG" in page.text and "Am Markt 2, 80331 München" in page.text, path
            assert 'href="/datenschutz"' in page.text, path


async def test_the_office_asks_for_consent_by_double_opt_in(sessions: SessionFactory, settings: Settings) -> None:
    from db.models import ConsentRecord, DomainEvent

    klara = await factories.contact(sessions)
    nobody = await factories.contact(sessions, email=None, last_name="Ohnemail")
    async with app_client(settings) as http:
        asked = await http.post(f"/api/contacts/{klara.id}/consents", json={"note": "am Telefon"})
        assert asked.status_code == 201 and asked.json()["status"] == "pending"
        assert (await http.post(f"/api/contacts/{nobody.id}/consents", json={})).status_code == 422
        assert (await http.post("/api/contacts/999999/consents", json={})).status_code == 404
    async with sessions() as session:
        record = await session.get(ConsentRecord, asked.json()["consent_id"])
        assert record is not None and record.contact_id == klara.id and "am Telefon" in (record.page or "")
        kinds = list(await session.scalars(select(DomainEvent.kind)))
    assert kinds == ["consent.requested"]  # the dispatcher starts the opt-in mail


async def test_the_office_records_an_objection_it_received_by_phone(
    sessions: SessionFactory, settings: Settings
) -> None:
    from db.models import DomainEvent, Objection

    klara = await factories.contact(sessions)
    async with app_client(settings) as http:
        bad = await http.post(f"/api/contacts/{klara.id}/objections", json={"scope": "manches"})
        assert bad.status_code == 422
        form_bad = await http.post(f"/contacts/{klara.id}/privacy/objection", data={"scope": "x"})
        assert form_bad.status_code == 303
        made = await http.post(f"/api/contacts/{klara.id}/objections", json={"scope": "advertising"})
        assert made.status_code == 201
        page = await http.get(f"/contacts/{klara.id}/privacy")
        assert "gegen Werbung (durch das Büro)" in page.text
    async with sessions() as session:
        [objection] = list(await session.scalars(select(Objection)))
        assert (objection.scope, objection.source, objection.contact_id) == ("advertising", "office", klara.id)
        assert await session.scalar(select(DomainEvent.kind)) == "contact.objected"
