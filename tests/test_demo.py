"""The demo office: complete, idempotent, and shaped for the inquiry manager's decisions (seed 002)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from db.models import (
    Contact,
    Mailbox,
    MarketingStatus,
    MessageTemplate,
    Property,
    PropertyContactPerson,
    PropertyVisibility,
    SalesProcess,
    User,
)
from db.session import SessionFactory
from domain.passwords import verify_password
from messaging.default_templates import defaults
from starter.dev.demo import AGENT_PASSWORD, KNOWN_PROSPECT_EMAIL, MAILBOX, has_users, load_demo_data
from starter.services.showcase import AGENT_EMAIL
from web.templating import STATIC_DIR


async def _count(sessions: SessionFactory, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_loading_twice_creates_everything_once(sessions: SessionFactory) -> None:
    assert not await has_users(sessions)

    first = await load_demo_data(sessions)
    counts = {model: await _count(sessions, model) for model in (User, Mailbox, Contact, Property, SalesProcess)}
    second = await load_demo_data(sessions)

    assert first.changed and not second.changed
    assert second.created == []
    assert counts == {User: 2, Mailbox: 1, Contact: 3, Property: 3, SalesProcess: 1}
    assert {model: await _count(sessions, model) for model in counts} == counts
    assert await _count(sessions, MessageTemplate) == len(list(defaults()))
    assert await has_users(sessions)


async def test_demo_office_shape(sessions: SessionFactory) -> None:
    await load_demo_data(sessions)
    async with sessions() as session:
        anna = await session.scalar(select(User).where(User.email == AGENT_EMAIL))
        assert anna is not None and anna.name == "Anna Agent"
        assert verify_password(AGENT_PASSWORD, anna.password_hash)
        assert not verify_password("wrong", anna.password_hash)

        sms_user = await session.scalar(select(User).where(User.sms_allowed.is_(True)))
        assert sms_user is not None and sms_user.mobile and sms_user.sms_billing_account

        mailbox = await session.scalar(select(Mailbox).where(Mailbox.address == MAILBOX))
        assert mailbox is not None and mailbox.main_user_id == anna.id

        props = {p.external_ref: p for p in await session.scalars(select(Property))}
        visible_to_anna = set(
            await session.scalars(select(PropertyVisibility.property_id).where(PropertyVisibility.user_id == anna.id))
        )
        w1001, w1002, w1003 = props["W-1001"], props["W-1002"], props["W-1003"]
        # W-1001 is processed; W-1002 fails "active marketing"; W-1003 fails "visible to the main user".
        assert w1001.marketing_status == MarketingStatus.ACTIVE and w1001.id in visible_to_anna
        assert w1002.marketing_status == MarketingStatus.INACTIVE
        assert w1003.marketing_status == MarketingStatus.ACTIVE and w1003.id not in visible_to_anna
        assert not w1003.visible_to_all
        assert w1001.manager_user_id == anna.id
        assert w1001.rooms and w1001.living_area and w1001.price and w1001.city and w1001.key_data
        assert w1001.expose_url
        assert w1001.cover_image_url == "/static/demo/w-1001.jpg"
        assert (STATIC_DIR / w1001.cover_image_url.removeprefix("/static/")).is_file()

        first_person = await session.scalar(
            select(PropertyContactPerson)
            .where(PropertyContactPerson.property_id == w1001.id)
            .order_by(PropertyContactPerson.position)
        )
        assert first_person is not None and first_person.position == 0

        known = await session.scalar(select(Contact).where(Contact.email == KNOWN_PROSPECT_EMAIL))
        assert known is not None and known.last_name

        process = await session.scalar(select(SalesProcess).where(SalesProcess.name == "Vermietung"))
        assert process is not None
        assert [phase.position for phase in process.phases] == [0, 1, 2]


async def test_reloading_keeps_edits(sessions: SessionFactory) -> None:
    await load_demo_data(sessions)
    async with sessions.begin() as session:
        prop = await session.scalar(select(Property).where(Property.external_ref == "W-1001"))
        assert prop is not None
        prop.title = "Vom Makler geändert"
        await session.execute(delete(PropertyVisibility))

    await load_demo_data(sessions)

    async with sessions() as session:
        assert await session.scalar(select(Property.title).where(Property.external_ref == "W-1001")) == (
            "Vom Makler geändert"
        )
        assert await _count(sessions, PropertyVisibility) == 0
