"""Which domain event goes to which workflow: the dispatcher's routing table, in one place.

Handlers are listed here, not registered by importing their modules, so the table is read in one screen
and a handler module cannot be forgotten. A handler must be idempotent (events can be redelivered).
"""

from __future__ import annotations

from collections import defaultdict

from automations.triggers import triggers
from db.events import MailboxChanged, MailReaction
from db.slot_store import CREATED_EVENT as SLOT_REQUEST_CREATED
from settings import get_settings
from starter.events.accounts import PASSWORD_LINK_EVENT, password_link_handler
from starter.events.automations import AutomationEventHandler
from starter.events.dispatcher import EventHandler
from starter.events.inquiries import inquiry_received_handler
from starter.events.leads import LeadEventHandlers
from starter.events.mail import handle_mailbox_changed, handle_reaction
from starter.events.privacy import consent_requested_handler, stop_after_objection
from starter.events.slots import slot_request_created_handler
from starter.intake.service import RECEIVED_EVENT as INQUIRY_RECEIVED
from starter.services.privacy import CONSENT_REQUESTED, CONTACT_OBJECTED


def routing_table() -> dict[str, list[EventHandler]]:
    """Every event kind with its handlers, called in this order. Settings are read when an event arrives."""
    table: defaultdict[str, list[EventHandler]] = defaultdict(list)
    automation = AutomationEventHandler(lambda: get_settings().task_queue, lambda: get_settings().automation_max_depth)
    # Every trigger's event may start automation runs; among them `mail.reply_received`, the reply event that
    # names the inquiry, leads and time-slot request it concerns. Leads hear of a reply through the lead task
    # written with it (`task.created` below), the inquiry through `inquiry.mail_reaction`.
    for kind in triggers():
        table[kind].append(automation)
    table[INQUIRY_RECEIVED].append(inquiry_received_handler())
    for kind, handler in LeadEventHandlers(lambda: get_settings().task_queue).routes().items():
        table[kind].append(handler)
    table[SLOT_REQUEST_CREATED].append(slot_request_created_handler())
    table[PASSWORD_LINK_EVENT].append(password_link_handler(lambda: get_settings().task_queue))
    table[CONSENT_REQUESTED].append(consent_requested_handler())
    table[CONTACT_OBJECTED].append(stop_after_objection)
    table[MailReaction.KIND].append(handle_reaction)
    table[MailboxChanged.KIND].append(handle_mailbox_changed)
    return dict(table)
