"""Where the prospect's answer goes (seed 001's routing rules), as one pure function the workflow calls.

- The recipient is a user, or the property's contact person (the first one). A contact person with a user
  assigned is answered as that user; without one, only their own email address is left.
- Response types: any non-empty combination of email, task and SMS. Tasks and SMS exist only for users;
  an SMS also needs the user's mobile number, an SMS billing account and the SMS permission.
- Whatever is impossible falls back to email, but one answer sends **at most one email**: email + SMS
  chosen with the SMS impossible is one email, not two.
- Beyond the seed: when nobody is reachable by email (a contact person without user and without address,
  or a user who no longer exists), the office gets the email, so an answer is never dropped.

No I/O and no clock: the facts come from an activity, the plan is replayed deterministically.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ResponseType(StrEnum):
    EMAIL = "email"
    TASK = "task"
    SMS = "sms"


class RecipientKind(StrEnum):
    USER = "user"
    CONTACT_PERSON = "contact_person"


LABELS = {ResponseType.EMAIL: "E-Mail", ResponseType.TASK: "Aufgabe", ResponseType.SMS: "SMS"}


class Target(StrEnum):
    USER = "user"
    CONTACT = "contact"  # the contact person's own address record
    OFFICE = "office"  # nobody else is reachable by email


class UserFacts(BaseModel):
    """What the SMS rule needs to know about a user (no phone number: only whether there is one)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    has_mobile: bool
    sms_allowed: bool
    billing_account: str | None = None


class RecipientFacts(BaseModel):
    """The recipient as the database describes it when the answer arrives (activity result)."""

    model_config = ConfigDict(frozen=True)

    kind: RecipientKind
    user: UserFacts | None = Field(
        None, description="kind=user: that user (None if gone); contact_person: the user assigned to them, if any."
    )
    contact_id: int | None = Field(None, description="The contact person (kind=contact_person).")
    contact_has_email: bool = False


class Delivery(BaseModel):
    """One thing to do with the answer: an email, a task or an SMS, and to whom."""

    model_config = ConfigDict(frozen=True)

    channel: ResponseType
    target: Target
    user_id: int | None = None
    contact_id: int | None = None
    billing_account: str | None = Field(None, description="SMS only: the account the SMS is billed to.")
    replaces: list[ResponseType] = Field(
        default_factory=list, description="Email only: the chosen types it stands in for (fallback)."
    )
    reasons: list[str] = Field(default_factory=list, description="Why channels fell back, for the office.")


def sms_problem(user: UserFacts) -> str | None:
    """Why this user cannot get an SMS, or None when all three conditions of seed 001 hold."""
    missing = [
        label
        for ok, label in (
            (user.has_mobile, "keine Mobilnummer"),
            (bool(user.billing_account), "kein SMS-Abrechnungskonto"),
            (user.sms_allowed, "keine SMS-Berechtigung"),
        )
        if not ok
    ]
    return f"SMS nicht möglich: {', '.join(missing)}" if missing else None


def route_response(facts: RecipientFacts, chosen: Collection[ResponseType]) -> list[Delivery]:
    """The deliveries of one answer: email first, then task, then SMS; never more than one email."""
    wanted = {ResponseType(value) for value in chosen}
    if not wanted:
        raise ValueError("at least one response type is required")
    user = facts.user
    deliveries: list[Delivery] = []
    fallbacks: list[tuple[ResponseType, str]] = []

    if user is None:
        no_user = (
            "Ansprechpartner ist keinem Benutzer zugeordnet"
            if facts.kind == RecipientKind.CONTACT_PERSON
            else "Benutzer nicht verfügbar"
        )
        fallbacks.extend(
            (kind, f"{LABELS[kind]} nicht möglich: {no_user}") for kind in _order(wanted - {ResponseType.EMAIL})
        )
    else:
        if ResponseType.TASK in wanted:
            deliveries.append(Delivery(channel=ResponseType.TASK, target=Target.USER, user_id=user.user_id))
        if ResponseType.SMS in wanted:
            problem = sms_problem(user)
            if problem is None:
                deliveries.append(
                    Delivery(
                        channel=ResponseType.SMS,
                        target=Target.USER,
                        user_id=user.user_id,
                        billing_account=user.billing_account,
                    )
                )
            else:
                fallbacks.append((ResponseType.SMS, problem))

    if ResponseType.EMAIL in wanted or fallbacks:
        deliveries.insert(0, _email(facts, fallbacks))
    return deliveries


def email_after_failure(facts: RecipientFacts, plan: list[Delivery], failed: Delivery, reason: str) -> Delivery | None:
    """A delivery that failed for good (the gateway refused the SMS) falls back to email as well, unless the
    answer already sends one: still at most one email."""
    if any(delivery.channel == ResponseType.EMAIL for delivery in plan):
        return None
    return _email(facts, [(failed.channel, reason)])


def _email(facts: RecipientFacts, fallbacks: list[tuple[ResponseType, str]]) -> Delivery:
    reasons = [reason for _, reason in fallbacks]
    replaces = [kind for kind, _ in fallbacks]
    if facts.user is not None:
        return Delivery(
            channel=ResponseType.EMAIL,
            target=Target.USER,
            user_id=facts.user.user_id,
            replaces=replaces,
            reasons=reasons,
        )
    if facts.kind == RecipientKind.CONTACT_PERSON and facts.contact_has_email:
        return Delivery(
            channel=ResponseType.EMAIL,
            target=Target.CONTACT,
            contact_id=facts.contact_id,
            replaces=replaces,
            reasons=reasons,
        )
    nobody = (
        "Ansprechpartner ohne E-Mail-Adresse"
        if facts.kind == RecipientKind.CONTACT_PERSON
        else "Benutzer nicht verfügbar"
    )
    return Delivery(
        channel=ResponseType.EMAIL,
        target=Target.OFFICE,
        contact_id=facts.contact_id,
        replaces=replaces,
        reasons=[*reasons, f"E-Mail an das Büro: {nobody}"],
    )


def _order(kinds: set[ResponseType]) -> list[ResponseType]:
    return [kind for kind in ResponseType if kind in kinds]


def describe(delivery: Delivery) -> str:
    """One German line for timelines and the office: "SMS an Benutzer #3 (Konto K-1)"."""
    channel = LABELS[delivery.channel]
    if delivery.target == Target.USER:
        whom = f"Benutzer #{delivery.user_id}"
    elif delivery.target == Target.CONTACT:
        whom = f"Ansprechpartner #{delivery.contact_id}"
    else:
        whom = "das Büro"
    text = f"{channel} an {whom}"
    if delivery.billing_account:
        text += f" (Konto {delivery.billing_account})"
    if delivery.replaces:
        text += " statt " + ", ".join(LABELS[kind] for kind in delivery.replaces)
    return text
