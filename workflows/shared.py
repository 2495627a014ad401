"""What every workflow shares with the processes that start and watch it: the task queue, the search attributes."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "immoflow"

# Typed search attributes: IDs and states only, never names or emails.
IMMOFLOW_KIND = SearchAttributeKey.for_keyword("ImmoflowKind")
INQUIRY_STATUS = SearchAttributeKey.for_keyword("InquiryStatus")
PROPERTY_REF = SearchAttributeKey.for_keyword("PropertyRef")
PORTAL = SearchAttributeKey.for_keyword("Portal")
LEAD_PHASE = SearchAttributeKey.for_keyword("LeadPhase")
LEAD_OVERDUE = SearchAttributeKey.for_bool("LeadOverdue")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str] | SearchAttributeKey[bool], ...] = (
    IMMOFLOW_KIND,
    INQUIRY_STATUS,
    PROPERTY_REF,
    PORTAL,
    LEAD_PHASE,
    LEAD_OVERDUE,
)
