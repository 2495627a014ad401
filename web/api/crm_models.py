"""Request and response bodies of the CRM API (web/api/crm.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from db.models import ContactStatus
from domain.instants import BoundedInstant, bounded


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactIn(_In):
    salutation: str | None = Field(None, max_length=40)
    first_name: str | None = Field(None, max_length=120)
    last_name: str = Field(min_length=1, max_length=120)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    mobile: str | None = Field(None, max_length=40)
    street: str | None = Field(None, max_length=200)
    zip_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=120)
    birthday: date | None = None
    status: ContactStatus = ContactStatus.PROSPECT
    newsletter: bool = False
    owner_user_id: int | None = None
    source: str = Field("api", min_length=1, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.lower()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(c.isspace() for c in value):
            raise ValueError("keine gültige E-Mail-Adresse")
        return value

    @field_validator("source")
    @classmethod
    def _not_automation(cls, value: str) -> str:
        # "automation…" marks contacts made by automations (contact.created's created_by_automation).
        if value.lower().startswith("automation"):
            raise ValueError("„automation…“ ist Automationen vorbehalten")
        return value


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    salutation: str | None
    first_name: str | None
    last_name: str
    email: str | None
    birthday: date | None
    status: str
    newsletter: bool
    owner_user_id: int | None
    source: str | None
    created_at: datetime


class ActivityIn(_In):
    kind: str = Field(min_length=1, max_length=32, description="absage, zusage, warteliste, besichtigung, …")
    reason: str | None = Field(None, max_length=200, description="e.g. the cancellation reason")
    text: str | None = Field(None, max_length=10_000)
    contact_id: int | None = None
    property_id: int | None = None
    inquiry_id: int | None = None
    user_id: int | None = None
    occurred_at: BoundedInstant | None = Field(None, description="Default: now.")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return value.lower()


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    reason: str | None
    text: str | None
    contact_id: int | None
    property_id: int | None
    inquiry_id: int | None
    user_id: int | None
    occurred_at: datetime


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=10_000)
    contact_id: int | None = None
    property_id: int | None = None
    user_id: int | None = None

    @model_validator(mode="after")
    def _linked(self) -> NoteIn:
        if self.contact_id is None and self.property_id is None:
            raise ValueError("eine Notiz gehört zu einem Kontakt oder einem Objekt")
        return self


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    text: str
    contact_id: int | None
    property_id: int | None
    user_id: int | None
    created_at: datetime


class DealIn(_In):
    contact_id: int
    property_id: int | None = None
    stage: str = Field(min_length=1, max_length=60)


class StageIn(_In):
    stage: str = Field(min_length=1, max_length=60)


class DealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    property_id: int | None
    stage: str
    created_at: datetime
    updated_at: datetime | None
    changed: bool = True


class AppointmentIn(_In):
    kind: str = Field("viewing", pattern="^(viewing|general)$")
    title: str = Field(min_length=1, max_length=300)
    starts_at: Annotated[datetime, AfterValidator(bounded)]
    ends_at: Annotated[datetime, AfterValidator(bounded)]
    contact_id: int | None = None
    property_id: int | None = None
    user_id: int | None = None

    @model_validator(mode="after")
    def _order(self) -> AppointmentIn:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("Zeiten mit Zeitzone angeben (z. B. 2026-12-01T10:00:00+01:00)")
        if self.ends_at <= self.starts_at:
            raise ValueError("das Ende liegt vor dem Beginn")
        return self


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    contact_id: int | None
    property_id: int | None
    user_id: int | None
