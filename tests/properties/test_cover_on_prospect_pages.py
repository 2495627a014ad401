"""An uploaded cover picture reaches the prospects: the viewing page shows it, anyone may load it."""

from __future__ import annotations

from datetime import timedelta

from db.base import utcnow
from db.models import Property, SlotRequest
from db.session import SessionFactory
from db.slot_store import slot_link
from settings import Settings
from tests import factories
from tests.http import app_client
from tests.properties.support import fixture
from workflows.slot_models import slot_workflow_id


async def test_the_viewing_page_shows_the_uploaded_cover(sessions: SessionFactory, settings: Settings) -> None:
    office = await factories.office(sessions)
    prop_id = office["active"].id
    klara = await factories.contact(sessions)
    async with app_client(settings) as http:
        uploaded = await http.post(
            f"/properties/{prop_id}/cover", files={"file": ("titel.png", fixture("nb-12-kueche.png"), "image/png")}
        )
        assert uploaded.status_code == 303
    async with sessions.begin() as session:
        prop = await session.get(Property, prop_id)
        assert prop is not None and prop.cover_image_url is not None
        cover = prop.cover_image_url
        request = SlotRequest(
            contact_id=klara.id,
            property_id=prop_id,
            recipient_kind="user",
            recipient_user_id=office["agent"].id,
            response_types=["email"],
            # The link's own expiry, relative to now: the page checks it against the wall clock too.
            expires_at=utcnow() + timedelta(days=14),
            link_nonce="n" * 32,
            send_invitation=True,
        )
        session.add(request)
        await session.flush()
        request.workflow_id = slot_workflow_id(request.id)
    async with app_client(settings, auth=None) as prospect:
        page = await prospect.get(slot_link(settings, request).removeprefix(settings.public_base_url))
        assert page.status_code == 200, page.text
        assert f'src="{cover}"' in page.text
        picture = await prospect.get(cover)
        assert picture.status_code == 200 and picture.content == fixture("nb-12-kueche.png")
