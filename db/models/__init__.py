"""All models, importable from one place (Alembic's autogenerate sees them through this module)."""

from db.base import Base
from db.models.automations import AutomationRule, AutomationRun, BirthdayGreeting, RunOutcome
from db.models.crm import (
    Activity,
    ActivityKind,
    Appointment,
    Contact,
    ContactStatus,
    Deal,
    Mailbox,
    MarketingStatus,
    Note,
    Property,
    PropertyContactPerson,
    PropertyVisibility,
    Task,
    User,
    UserRole,
)
from db.models.imports import ContactImport, ImportStatus, PropertyImport
from db.models.inquiries import Inquiry, InquiryStatus, InquiryStep, QuarantinedPayload, RawPayload
from db.models.leads import Lead, SalesPhase, SalesProcess
from db.models.mail_intake import InboundKind, InboundMail, InboundStatus
from db.models.messaging import AppSetting, DomainEvent, Message, MessageStatus, MessageTemplate
from db.models.privacy import (
    ConsentPurpose,
    ConsentRecord,
    ConsentStatus,
    Objection,
    ObjectionScope,
    PrivacyAudit,
)
from db.models.security import LoginFailure, RateCounter, WebSession
from db.models.slots import SlotProposal, SlotRequest, SlotRequestStatus

__all__ = [
    "Activity",
    "ActivityKind",
    "AppSetting",
    "Appointment",
    "AutomationRule",
    "AutomationRun",
    "Base",
    "BirthdayGreeting",
    "ConsentPurpose",
    "ConsentRecord",
    "ConsentStatus",
    "Contact",
    "ContactImport",
    "ContactStatus",
    "Deal",
    "DomainEvent",
    "ImportStatus",
    "InboundKind",
    "InboundMail",
    "InboundStatus",
    "Inquiry",
    "InquiryStatus",
    "InquiryStep",
    "Lead",
    "LoginFailure",
    "Mailbox",
    "MarketingStatus",
    "Message",
    "MessageStatus",
    "MessageTemplate",
    "Note",
    "Objection",
    "ObjectionScope",
    "PrivacyAudit",
    "Property",
    "PropertyContactPerson",
    "PropertyImport",
    "PropertyVisibility",
    "QuarantinedPayload",
    "RateCounter",
    "RawPayload",
    "RunOutcome",
    "SalesPhase",
    "SalesProcess",
    "SlotProposal",
    "SlotRequest",
    "SlotRequestStatus",
    "Task",
    "User",
    "UserRole",
    "WebSession",
]
