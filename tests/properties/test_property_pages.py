"""Property pages and APIs over HTTP: list and filters, detail, create/edit, uploads, archive, import."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Contact, Property, PropertyContactPerson, PropertyImport, PropertyVisibility, UserRole
from db.session import SessionFactory
from domain.passwords import hash_password
from settings import Settings
from tests import factories
from tests.http import app_client, csrf_from, login
from tests.properties.support import export_zip, fixture

pytestmark = pytest.mark.one_backend

JPEG = fixture("nb-12-titel.jpg")
PDF = fixture("expose-nb-12.pdf")


async def _office(sessions: SessionFactory, *, admin: bool = False) -> dict[str, Any]:
    office = await factories.office(sessions)
    async with sessions.begin() as session:
        agent = office["agent"]
        row = await session.get(type(agent), agent.id)
        assert row is not None
        row.password_hash = hash_password("geheim")
        if admin:  # the import is admin work (issue 21)
            row.role = UserRole.ADMIN
    return office


async def test_list_search_and_filters(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    async with app_client(settings) as http:
        page = await http.get("/properties")
        assert page.status_code == 200
        assert all(ref in page.text for ref in ("W-1001", "W-1002", "W-1003"))
        found = await http.get("/properties", params={"q": "park"})
        assert "W-1001" in found.text and "W-1002" not in found.text
        sold = await http.get("/properties", params={"status": "sold"})
        assert "W-1002" in sold.text and "W-1001" not in sold.text
        managed = await http.get("/properties", params={"manager": str(office["other"].id)})
        assert "W-1003" in managed.text and "W-1001" not in managed.text
        api = (await http.get("/api/properties", params={"q": "10115"})).json()
        assert [item["external_ref"] for item in api["items"]] == ["W-1001"] and api["total"] == 1
        assert (await http.get("/api/properties", params={"status": "bogus"})).status_code == 422


async def test_visible_to_me_follows_the_visibility_rule(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    async with sessions.begin() as session:
        session.add(Property(external_ref="ALL-1", title="Für alle", visible_to_all=True))
    async with app_client(settings, auth=None) as http:
        await login(http, "anna@office.example", "geheim")
        mine = await http.get("/properties", params={"mine": "true"})
        refs = set(re.findall(r'data-property-ref="([^"]+)"', mine.text))
        assert refs == {"W-1001", "ALL-1"}  # W-1001 by visibility row, ALL-1 for everyone; not W-1002/3
    async with app_client(settings) as http:
        api = await http.get("/api/properties", params={"visible_to_user_id": office["other"].id})
        assert [item["external_ref"] for item in api.json()["items"]] == ["ALL-1"]


async def test_detail_page_and_api(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    prop_id = office["active"].id
    async with app_client(settings) as http:
        page = await http.get(f"/properties/{prop_id}")
        assert page.status_code == 200
        assert "Helle 3-Zimmer-Wohnung am Park" in page.text and "78 m²" in page.text
        assert 'src="/static/demo/w-1001.jpg"' in page.text
        assert "Anna Agent" in page.text
        body = (await http.get(f"/api/properties/{prop_id}")).json()
        assert body["external_ref"] == "W-1001" and body["visible_user_ids"] == [office["agent"].id]
        missing = await http.get("/properties/999999")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
        assert "Objekt #999999 existiert nicht." in missing.text
        assert (await http.get("/api/properties/999999")).status_code == 404
        assert (await http.get(f"/properties/{prop_id}/expose.pdf")).status_code == 404


async def test_create_and_edit_with_ordered_contact_persons(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    agent, other = office["agent"], office["other"]
    klara = await factories.contact(sessions)
    async with app_client(settings) as http:
        assert (await http.get("/properties/new")).status_code == 200
        form = {
            "external_ref": "H-7",
            "title": "Stadthaus mit Garten",
            "marketing_status": "active",
            "visible_user_ids": [str(other.id)],
            "manager_user_id": str(agent.id),
            "contact_persons": [f"contact:{klara.id}", f"user:{other.id}", ""],
            "property_type": "Haus",
            "rooms": "5,5",
            "living_area": "142",
            "price": "689.000",
            "zip_code": "14482",
            "city": "Potsdam",
            "key_data": "Grundstücksfläche: 610 m²\nBaujahr: 1928",
            "text_0": "Ein Haus mit Geschichte.",
        }
        created = await http.post("/properties/new", data=form)
        assert created.status_code == 303, created.text
        prop_id = int(created.headers["location"].rsplit("/", 1)[1])
        page = await http.get(f"/properties/{prop_id}")
        assert "Baujahr" in page.text and "1928" in page.text and "Ein Haus mit Geschichte." in page.text
        persons = page.text.split('id="contact-persons"', 1)[1].split("</ol>", 1)[0]
        assert persons.index("Klara Bekannt") < persons.index("Otto Other")
        klara_page = await http.get(f"/contacts/{klara.id}")
        assert "H-7" in klara_page.text.split('id="contact-person-of"', 1)[1].split("</section>", 1)[0]

        edit = await http.get(f"/properties/{prop_id}/edit")
        assert edit.status_code == 200 and 'value="5,5"' in edit.text
        form.update(title="Stadthaus mit großem Garten", contact_persons=[f"user:{other.id}"], visible_to_all="true")
        assert (await http.post(f"/properties/{prop_id}/edit", data=form)).status_code == 303
    async with sessions() as session:
        prop = await session.get(Property, prop_id)
        assert prop is not None and prop.title == "Stadthaus mit großem Garten" and prop.visible_to_all
        assert str(prop.rooms) == "5.5" and int(prop.price or 0) == 689000
        rows = await session.execute(select(PropertyContactPerson.contact_id, Contact.user_id).join(Contact))
        assert [user_id for _, user_id in rows] == [other.id]
        visible = list(
            await session.scalars(select(PropertyVisibility.user_id).where(PropertyVisibility.property_id == prop_id))
        )
        assert visible == [other.id]


async def test_bad_form_input_is_shown_not_saved(sessions: SessionFactory, settings: Settings) -> None:
    await _office(sessions)
    async with app_client(settings) as http:
        for form, reason in (
            ({"external_ref": "W-1001", "title": "Doppelt"}, "Die Objektnummer W-1001 hat schon Objekt"),
            ({"external_ref": "N-1", "title": "X", "price": "viel"}, "Preis: „viel“ ist keine Zahl."),
            ({"external_ref": "N-1", "title": "X", "key_data": "ohne Doppelpunkt"}, "Eckdaten, Zeile 1"),
            ({"external_ref": "N-1", "title": ""}, "Titel: bitte angeben"),
            ({"external_ref": "N 1", "title": "X"}, "Objektnummer: enthält nicht erlaubte Zeichen"),
            ({"external_ref": "N-1", "title": "X" * 301}, "Titel: höchstens 300 Zeichen"),
            ({"external_ref": "N-1", "title": "X", "expose_url": "javascript:alert(1)"}, "Exposé-Link"),
            (
                {"external_ref": "N-1", "title": "X", "contact_persons": "user:999999"},
                "Benutzer #999999 existiert nicht.",
            ),
        ):
            response = await http.post("/properties/new", data=form)
            assert response.status_code == 422, form
            assert reason in response.text, (reason, response.text[-2000:])
    async with sessions() as session:
        assert await session.scalar(select(Property).where(Property.external_ref == "N-1")) is None


async def test_cover_and_expose_uploads_are_checked_stored_and_served(
    sessions: SessionFactory, settings: Settings
) -> None:
    office = await _office(sessions)
    prop_id = office["hidden"].id
    async with app_client(settings) as http:
        bad = await http.post(
            f"/properties/{prop_id}/cover", files={"file": ("titel.jpg", b"<svg onload=alert(1)>", "image/jpeg")}
        )
        assert bad.status_code == 422 and "kein JPEG-, PNG-, GIF- oder WebP-Bild" in bad.text
        missing = await http.post(f"/properties/{prop_id}/cover", files={"file": ("", b"", "application/octet-stream")})
        assert missing.status_code == 400 and "Bitte eine Datei auswählen." in missing.text
        ok = await http.post(f"/properties/{prop_id}/cover", files={"file": ("titel.jpg", JPEG, "image/jpeg")})
        assert ok.status_code == 303
        not_pdf = await http.post(
            f"/properties/{prop_id}/expose", files={"file": ("x.pdf", b"MZ\x90", "application/pdf")}
        )
        assert not_pdf.status_code == 422 and "keine PDF-Datei" in not_pdf.text
        assert (
            await http.post(f"/properties/{prop_id}/expose", files={"file": ("e.pdf", PDF, "application/pdf")})
        ).status_code == 303
        download = await http.get(f"/properties/{prop_id}/expose.pdf")
        assert download.status_code == 200 and download.content == PDF
        edit_page = await http.get(f"/properties/{prop_id}/edit")
        assert f'href="/properties/{prop_id}/expose.pdf"' in edit_page.text
    async with sessions() as session:
        prop = await session.get(Property, prop_id)
        assert prop is not None and prop.cover_image_url is not None and prop.expose_file is not None
    # The picture is public (prospect pages and mails show it); guessing other files of the data dir is not.
    async with app_client(settings, auth=None) as anonymous:
        picture = await anonymous.get(prop.cover_image_url)
        assert picture.status_code == 200 and picture.content == JPEG
        assert (
            picture.headers["content-type"] == "image/jpeg" and picture.headers["x-content-type-options"] == "nosniff"
        )
        assert (await anonymous.get(f"/media/properties/{prop_id}/..%2F..%2Fsecret_key")).status_code == 404
        assert (await anonymous.get(f"/media/properties/{prop_id}/0000000000000000.jpg")).status_code == 404
        assert (await anonymous.get(f"/properties/{prop_id}/expose.pdf")).status_code == 303  # office only


async def test_an_oversized_upload_is_refused_before_it_is_read(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    prop_id = office["hidden"].id
    async with app_client(settings) as http:
        big = JPEG + b"\0" * (11 * 1024 * 1024)
        response = await http.post(f"/properties/{prop_id}/cover", files={"file": ("gross.jpg", big, "image/jpeg")})
        assert response.status_code == 413 and "größer als 10 MB" in response.text


async def test_archive_and_restore(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    prop_id = office["active"].id
    async with app_client(settings) as http:
        assert (await http.post(f"/properties/{prop_id}/archive")).status_code == 303
        listed = await http.get("/properties")
        assert 'data-property-ref="W-1001"' not in listed.text
        assert 'data-property-ref="W-1001"' in (await http.get("/properties", params={"archived": "true"})).text
        async with sessions() as session:
            prop = await session.get(Property, prop_id)
            assert prop is not None and prop.archived and prop.marketing_status == "inactive"
        assert (await http.post(f"/properties/{prop_id}/restore")).status_code == 303
        assert (await http.post("/properties/999999/archive")).status_code == 404


async def test_import_page_report_and_api(sessions: SessionFactory, settings: Settings) -> None:
    await _office(sessions)
    async with app_client(settings) as http:
        assert (await http.get("/properties/import")).status_code == 200
        uploaded = await http.post(
            "/properties/import",
            data={"visible_to_all": "true"},
            files={"file": ("export.zip", export_zip(), "application/zip")},
        )
        assert uploaded.status_code == 303
        report = await http.get(uploaded.headers["location"])
        assert report.status_code == 200
        assert "NB-12" in report.text and "GW-5" in report.text and "bilder/fehlt.jpg" in report.text
        refused = await http.post(
            "/properties/import", files={"file": ("kaputt.xml", fixture("entities.xml"), "text/xml")}
        )
        page = await http.get(refused.headers["location"])
        assert "Die Datei wurde abgelehnt" in page.text and "DTD" in page.text
        api = await http.post("/api/properties/import?filename=delete.xml", content=fixture("delete.xml"))
        assert api.status_code == 200
        assert [entry["ref"] for entry in api.json()["report"]["archived"]] == ["GW-5"]
        bad = await http.post("/api/properties/import", content=b"<nope/>")
        assert bad.status_code == 422 and "Kein OpenImmo-Export" in bad.json()["error"]
        assert (await http.get("/properties/imports/999999")).status_code == 404
        listing = await http.get("/properties/import")
        assert "kaputt.xml" in listing.text and "abgelehnt" in listing.text
    async with sessions() as session:
        assert len(list(await session.scalars(select(PropertyImport)))) == 4  # every upload kept, refused ones too


async def test_a_browser_session_needs_the_csrf_token_to_import(sessions: SessionFactory, settings: Settings) -> None:
    await _office(sessions, admin=True)
    async with app_client(settings, auth=None) as http:
        token = await login(http, "anna@office.example", "geheim")
        files = {"file": ("export.xml", fixture("export-1.2.7.xml"), "text/xml")}
        assert (await http.post("/properties/import", files=files)).status_code == 403
        page = await http.get("/properties/import")
        ok = await http.post("/properties/import", files=files, headers={"X-CSRF-Token": csrf_from(page.text)})
        assert ok.status_code == 303, ok.text
        assert token


async def test_saving_the_form_keeps_texts_it_does_not_show(sessions: SessionFactory) -> None:
    from starter.services.properties import PropertyInput, save_property

    async with sessions.begin() as session:
        prop = Property(
            external_ref="T-1",
            title="Mit Texten",
            texts={"Kurzbeschreibung": "Balkon", "Energieausweis": "B, 75 kWh"},
        )
        session.add(prop)
    data = PropertyInput(external_ref="T-1", title="Mit Texten", texts={"Kurzbeschreibung": "Balkon, EBK", "Lage": ""})
    async with sessions.begin() as session:
        saved = await save_property(session, data, prop.id)
        assert saved.texts == {"Energieausweis": "B, 75 kWh", "Kurzbeschreibung": "Balkon, EBK"}


async def test_hand_edited_list_urls_get_the_list(sessions: SessionFactory, settings: Settings) -> None:
    await _office(sessions)
    async with app_client(settings) as http:
        for path in ("/properties?page=abc&mine=vielleicht&archived=2", "/contacts?page=-1&archived=ja&status=x"):
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "text/html" in response.headers["content-type"]


async def test_the_expose_pdf_can_be_removed(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    prop_id = office["hidden"].id
    async with app_client(settings) as http:
        await http.post(f"/properties/{prop_id}/expose", files={"file": ("e.pdf", PDF, "application/pdf")})
        assert (await http.post(f"/properties/{prop_id}/expose/remove")).status_code == 303
        assert (await http.get(f"/properties/{prop_id}/expose.pdf")).status_code == 404
        assert (await http.post("/properties/999999/expose/remove")).status_code == 404


async def test_the_write_api(sessions: SessionFactory, settings: Settings) -> None:
    office = await _office(sessions)
    agent = office["agent"]
    body = {
        "external_ref": "API-1",
        "title": "Per API",
        "marketing_status": "reserved",
        "visible_user_ids": [agent.id],
        "manager_user_id": agent.id,
        "contact_persons": [f"user:{agent.id}"],
        "rooms": "2.5",
        "key_data": {"Baujahr": "1999"},
    }
    async with app_client(settings) as http:
        created = await http.post("/api/properties", json=body)
        assert created.status_code == 201, created.text
        out = created.json()
        assert out["marketing_status"] == "reserved" and out["visible_user_ids"] == [agent.id]
        assert [person["user_id"] for person in out["contact_persons"]] == [agent.id]
        assert (await http.post("/api/properties", json=body)).status_code == 409
        assert (
            await http.post("/api/properties", json={**body, "external_ref": "API-2", "manager_user_id": 999999})
        ).status_code == 422
        assert (await http.post("/api/properties", json={**body, "external_ref": "A B"})).status_code == 422
        replaced = await http.put(f"/api/properties/{out['id']}", json={**body, "title": "Neu", "contact_persons": []})
        assert (
            replaced.status_code == 200
            and replaced.json()["title"] == "Neu"
            and replaced.json()["contact_persons"] == []
        )
        assert (await http.put("/api/properties/999999", json=body)).status_code == 404
        archived = await http.post(f"/api/properties/{out['id']}/archive")
        assert archived.json()["archived"] is True and archived.json()["marketing_status"] == "inactive"
        assert (await http.post(f"/api/properties/{out['id']}/restore")).json()["archived"] is False
        assert (await http.post("/api/properties/999999/archive")).status_code == 404
