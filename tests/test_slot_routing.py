"""Seed 001's routing rules as an exhaustive decision table.

Every combination of recipient kind × user assigned × mobile × billing account × SMS permission × contact
email × chosen response types (all 7 non-empty subsets) is checked against the seed's rules, written out
below independently of the implementation; a few named rows spell out the seed's own examples.
"""

from __future__ import annotations

import itertools

import pytest

from domain.slot_routing import (
    Delivery,
    RecipientFacts,
    RecipientKind,
    ResponseType,
    Target,
    UserFacts,
    describe,
    route_response,
    sms_problem,
)

EMAIL, TASK, SMS = ResponseType.EMAIL, ResponseType.TASK, ResponseType.SMS
Chosen = frozenset[ResponseType]
USER_ID, CONTACT_ID = 7, 42
SUBSETS = [frozenset(combo) for size in (1, 2, 3) for combo in itertools.combinations((EMAIL, TASK, SMS), size)]
ROWS = list(
    itertools.product(
        RecipientKind,  # recipient kind
        (True, False),  # a user is there (kind user: the user exists; contact person: a user is assigned)
        (True, False),  # mobile number
        (True, False),  # billing account
        (True, False),  # SMS permission
        (True, False),  # the contact person's record has an email address
        SUBSETS,  # chosen response types
    )
)


def facts(kind: RecipientKind, user: bool, mobile: bool, account: bool, allowed: bool, email: bool) -> RecipientFacts:
    user_facts = UserFacts(
        user_id=USER_ID, has_mobile=mobile, sms_allowed=allowed, billing_account="K-1" if account else None
    )
    return RecipientFacts(
        kind=kind,
        user=user_facts if user else None,
        contact_id=CONTACT_ID if kind == RecipientKind.CONTACT_PERSON else None,
        contact_has_email=email and kind == RecipientKind.CONTACT_PERSON,
    )


def expected(
    kind: RecipientKind, user: bool, mobile: bool, account: bool, allowed: bool, email: bool, chosen: Chosen
) -> set[tuple[str, str]]:
    """The seed, rule by rule: (channel, target) pairs the answer must produce."""
    result: set[tuple[str, str]] = set()
    needs_email = EMAIL in chosen
    if TASK in chosen:
        if user:  # tasks only for users
            result.add(("task", "user"))
        else:
            needs_email = True
    if SMS in chosen:
        if user and mobile and account and allowed:  # all three SMS conditions
            result.add(("sms", "user"))
        else:
            needs_email = True
    if needs_email:  # one email, however many channels fell back
        if user:
            result.add(("email", "user"))
        elif kind == RecipientKind.CONTACT_PERSON and email:
            result.add(("email", "contact"))
        else:
            result.add(("email", "office"))
    return result


@pytest.mark.parametrize(
    ("kind", "user", "mobile", "account", "allowed", "email", "chosen"),
    ROWS,
    ids=[
        f"{k.value}-{'user' if u else 'nouser'}-m{int(m)}a{int(a)}p{int(p)}e{int(e)}-{'+'.join(sorted(c))}"
        for k, u, m, a, p, e, c in ROWS
    ],
)
def test_decision_table(
    kind: RecipientKind, user: bool, mobile: bool, account: bool, allowed: bool, email: bool, chosen: Chosen
) -> None:
    plan = route_response(facts(kind, user, mobile, account, allowed, email), chosen)
    channels = [(d.channel.value, d.target.value) for d in plan]
    assert set(channels) == expected(kind, user, mobile, account, allowed, email, chosen)
    assert len(channels) == len(set(channels))
    assert sum(1 for d in plan if d.channel == EMAIL) <= 1
    assert plan, "an answer is never dropped"
    for delivery in plan:
        if delivery.channel in (TASK, SMS):
            assert delivery.target == Target.USER and delivery.user_id == USER_ID
        if delivery.channel == SMS:
            assert delivery.billing_account == "K-1"  # the cost is billed to the recipient's account
        if delivery.channel == EMAIL:
            fell_back = {kind for kind in (TASK, SMS) if kind in chosen} - {d.channel for d in plan}
            assert set(delivery.replaces) == fell_back
            assert len(delivery.reasons) >= len(fell_back)


def test_table_covers_every_combination() -> None:
    assert len(ROWS) == 2 * 2**5 * 7 == 448


def _plan(kind: RecipientKind = RecipientKind.USER, *, chosen: set[ResponseType], **user: bool) -> list[Delivery]:
    values = {"user": True, "mobile": True, "account": True, "allowed": True, "email": True, **user}
    return route_response(
        facts(kind, values["user"], values["mobile"], values["account"], values["allowed"], values["email"]), chosen
    )


def test_seed_example_email_and_impossible_sms_is_one_email() -> None:
    plan = _plan(chosen={EMAIL, SMS}, mobile=False)
    assert [(d.channel, d.target) for d in plan] == [(EMAIL, Target.USER)]
    assert plan[0].replaces == [SMS]
    assert plan[0].reasons == ["SMS nicht möglich: keine Mobilnummer"]


def test_everything_possible_for_a_user() -> None:
    plan = _plan(chosen={EMAIL, TASK, SMS})
    assert [(d.channel, d.target) for d in plan] == [(EMAIL, Target.USER), (TASK, Target.USER), (SMS, Target.USER)]
    assert plan[0].replaces == []


def test_contact_person_without_user_gets_one_email_at_their_address() -> None:
    plan = _plan(RecipientKind.CONTACT_PERSON, chosen={TASK, SMS}, user=False)
    assert [(d.channel, d.target, d.contact_id) for d in plan] == [(EMAIL, Target.CONTACT, CONTACT_ID)]
    assert plan[0].replaces == [TASK, SMS]


def test_contact_person_with_user_is_answered_as_that_user() -> None:
    plan = _plan(RecipientKind.CONTACT_PERSON, chosen={TASK, SMS})
    assert [(d.channel, d.user_id) for d in plan] == [(TASK, USER_ID), (SMS, USER_ID)]


def test_sms_needs_all_three_conditions() -> None:
    user = UserFacts(user_id=1, has_mobile=False, sms_allowed=False, billing_account="")
    assert (
        sms_problem(user) == "SMS nicht möglich: keine Mobilnummer, kein SMS-Abrechnungskonto, keine SMS-Berechtigung"
    )
    assert sms_problem(UserFacts(user_id=1, has_mobile=True, sms_allowed=True, billing_account="K")) is None


def test_no_response_type_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        route_response(facts(RecipientKind.USER, True, True, True, True, False), [])


def test_describe_reads_like_the_office_talks() -> None:
    sms, email = _plan(chosen={SMS})[0], _plan(chosen={SMS}, allowed=False)[0]
    assert describe(sms) == "SMS an Benutzer #7 (Konto K-1)"
    assert describe(email) == "E-Mail an Benutzer #7 statt SMS"
