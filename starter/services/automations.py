"""Reading and changing automation rules for the API and the admin page (one place for both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from automations.rules import action_summaries, apply_definition, check_definition, rule_conditions
from automations.triggers import triggers
from db.base import utcnow
from db.models import AutomationRule, AutomationRun, Contact, Inquiry, Lead, MessageTemplate, Property, User
from messaging import default_templates
from settings import Settings
from starter.services.context import Services
from workflows.automation_models import Condition, ConditionOp, RuleDefinition

OP_LABELS = {ConditionOp.EQUALS: "ist", ConditionOp.ONE_OF: "ist eines von", ConditionOp.CONTAINS: "enthält"}
OUTCOME_LABELS = {
    "running": "läuft",
    "succeeded": "erfolgreich",
    "failed": "fehlgeschlagen",
    "cut": "abgebrochen (Schleifenschutz)",
    "stopped": "gestoppt",
}


class RuleNotFoundError(LookupError):
    pass


@dataclass
class RuleView:
    rule: AutomationRule
    trigger_label: str
    conditions: list[str]
    actions: list[str]
    last_run: AutomationRun | None = None
    run_count: int = 0


def trigger_label(kind: str) -> str:
    trigger = triggers().get(kind)
    return trigger.label if trigger else f"unbekannt ({kind})"


def condition_text(trigger: str, condition: Condition) -> str:
    known = triggers().get(trigger)
    fact = next((f for f in known.fields if f.name == condition.field), None) if known else None
    # A value with a label among the field's suggestions reads as that label ("true" → "ja").
    names = {value.casefold(): label for value, label in fact.choices} if fact else {}
    values = [condition.value] if isinstance(condition.value, str) else condition.value
    shown = ", ".join(names.get(v.casefold(), v) for v in values)
    return f"{fact.label if fact else condition.field} {OP_LABELS[condition.op]} „{shown}“"


def view(
    rule: AutomationRule,
    last_run: AutomationRun | None = None,
    run_count: int = 0,
    user_names: dict[int, str] | None = None,
) -> RuleView:
    return RuleView(
        rule=rule,
        trigger_label=trigger_label(rule.trigger),
        conditions=[condition_text(rule.trigger, c) for c in rule_conditions(rule)],
        actions=action_summaries(rule.actions, user_names),
        last_run=last_run,
        run_count=run_count,
    )


def workflow_url(settings: Settings, workflow_id: str | None) -> str | None:
    if not workflow_id:
        return None
    return settings.workflow_ui_url(workflow_id)


async def list_rules(session: AsyncSession) -> list[RuleView]:
    rules = list(await session.scalars(select(AutomationRule).order_by(AutomationRule.id)))
    latest = select(func.max(AutomationRun.id)).group_by(AutomationRun.rule_id)
    last_runs = {
        run.rule_id: run for run in await session.scalars(select(AutomationRun).where(AutomationRun.id.in_(latest)))
    }
    per_rule = await session.execute(select(AutomationRun.rule_id, func.count()).group_by(AutomationRun.rule_id))
    counts: dict[int, int] = {rule_id: count for rule_id, count in per_rule.all()}
    names = await user_names(session)
    return [view(rule, last_runs.get(rule.id), counts.get(rule.id, 0), names) for rule in rules]


async def user_names(session: AsyncSession) -> dict[int, str]:
    """Every user's name by id: an office has a handful, and rules name them in their actions."""
    return {user_id: name for user_id, name in (await session.execute(select(User.id, User.name))).all()}


async def get_rule(session: AsyncSession, rule_id: int) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise RuleNotFoundError(f"Automation #{rule_id} existiert nicht")
    return rule


async def rule_view(session: AsyncSession, rule_id: int) -> RuleView:
    rule = await get_rule(session, rule_id)
    last = await session.scalar(
        select(AutomationRun).where(AutomationRun.rule_id == rule.id).order_by(AutomationRun.id.desc()).limit(1)
    )
    count = await session.scalar(select(func.count()).where(AutomationRun.rule_id == rule.id)) or 0
    return view(rule, last, count, await user_names(session))


async def create_rule(session: AsyncSession, definition: RuleDefinition) -> AutomationRule:
    """RuleInvalidError (automations.rules) when the definition does not fit the registry."""
    rule = apply_definition(AutomationRule(), check_definition(definition))
    session.add(rule)
    await session.flush()
    return rule


async def update_rule(session: AsyncSession, rule_id: int, definition: RuleDefinition) -> AutomationRule:
    rule = await get_rule(session, rule_id)
    apply_definition(rule, check_definition(definition))
    await session.flush()
    return rule


async def set_enabled(session: AsyncSession, rule_id: int, enabled: bool) -> AutomationRule:
    rule = await get_rule(session, rule_id)
    rule.enabled = enabled
    rule.updated_at = utcnow()
    await session.flush()
    return rule


async def list_runs(session: AsyncSession, rule_id: int, limit: int = 100) -> list[AutomationRun]:
    await get_rule(session, rule_id)
    query = select(AutomationRun).where(AutomationRun.rule_id == rule_id).order_by(AutomationRun.id.desc())
    return list(await session.scalars(query.limit(limit)))


async def get_run(session: AsyncSession, run_id: int) -> AutomationRun:
    run = await session.get(AutomationRun, run_id)
    if run is None:
        raise RuleNotFoundError(f"Lauf #{run_id} existiert nicht")
    return run


# Facts that are IDs: what they are called on the run page, and how the row they point at reads.
_ID_FACTS = {
    "inquiry_id": "Anfrage",
    "contact_id": "Kontakt",
    "property_id": "Immobilie",
    "lead_id": "Lead",
    "appointment_id": "Termin",
    "deal_id": "Deal",
    "user_id": "Benutzer",
    "note_id": "Notiz",
    "activity_id": "Aktivität",
}


@dataclass(frozen=True)
class FactRow:
    label: str
    value: str
    href: str | None = None


async def fact_rows(session: AsyncSession, trigger: str, facts: dict[str, Any]) -> list[FactRow]:
    """The event's data as the office reads it: German labels, names and links instead of keys and IDs."""
    known = triggers().get(trigger)
    labels = {field.name: field.label for field in known.fields} if known else {}
    rows: list[FactRow] = []
    for name, value in facts.items():
        label = labels.get(name) or _ID_FACTS.get(name) or name.replace("_", " ").capitalize()
        if value is None or value == "":
            rows.append(FactRow(label, "—"))
        elif name in _ID_FACTS and isinstance(value, int):
            rows.append(await _id_fact(session, name, label, value))
        elif isinstance(value, bool):
            rows.append(FactRow(label, "ja" if value else "nein"))
        else:
            rows.append(FactRow(label, str(value)))
    return rows


async def _id_fact(session: AsyncSession, name: str, label: str, value: int) -> FactRow:
    if name == "inquiry_id":
        inquiry = await session.get(Inquiry, value)
        text = f"{inquiry.property_ref or 'Anfrage'} von {inquiry.email}" if inquiry else "gelöscht"
        return FactRow(label, text, f"/dashboard/inquiries/{value}" if inquiry else None)
    if name == "contact_id":
        contact = await session.get(Contact, value)
        return FactRow(label, contact.display_name if contact else "gelöscht")
    if name == "property_id":
        prop = await session.get(Property, value)
        return FactRow(label, f"{prop.external_ref} · {prop.title}" if prop else "gelöscht")
    if name == "lead_id":
        lead = await session.get(Lead, value)
        return FactRow(label, lead.title if lead else "gelöscht", f"/leads/{value}" if lead else None)
    if name == "user_id":
        user = await session.get(User, value)
        return FactRow(label, user.name if user else "gelöscht")
    return FactRow(label, f"Nr. {value}")


# --- use cases with their own session (the API and the admin page call these) ---------------------------


async def rules_overview(services: Services) -> list[RuleView]:
    """Every rule with its last run and run count, for the list page and `GET /api/automations`."""
    async with services.sessions() as session:
        return await list_rules(session)


async def show_rule(services: Services, rule_id: int) -> RuleView:
    """One rule with its last run; RuleNotFoundError for an unknown id."""
    async with services.sessions() as session:
        return await rule_view(session, rule_id)


async def load_rule(services: Services, rule_id: int) -> AutomationRule:
    """The stored rule, to fill the edit form; RuleNotFoundError for an unknown id."""
    async with services.sessions() as session:
        return await get_rule(session, rule_id)


async def add_rule(services: Services, definition: RuleDefinition) -> RuleView:
    """Store a new rule; RuleInvalidError (automations.rules) when it does not fit the registry."""
    async with services.sessions.begin() as session:
        rule = await create_rule(session, definition)
        return view(rule, user_names=await user_names(session))


async def change_rule(services: Services, rule_id: int, definition: RuleDefinition) -> RuleView:
    """Replace a rule's definition; RuleNotFoundError or RuleInvalidError when refused."""
    async with services.sessions.begin() as session:
        await update_rule(session, rule_id, definition)
        return await rule_view(session, rule_id)


async def switch_rule(services: Services, rule_id: int, enabled: bool) -> RuleView:
    """Turn a rule on or off; RuleNotFoundError for an unknown id."""
    async with services.sessions.begin() as session:
        await set_enabled(session, rule_id, enabled)
        return await rule_view(session, rule_id)


async def rule_runs(services: Services, rule_id: int, limit: int = 100) -> tuple[RuleView, list[AutomationRun]]:
    """A rule and its latest runs, newest first; RuleNotFoundError for an unknown id."""
    async with services.sessions() as session:
        item = await rule_view(session, rule_id)
        return item, await list_runs(session, rule_id, limit)


async def find_run(services: Services, run_id: int) -> AutomationRun:
    """One run; RuleNotFoundError for an unknown id."""
    async with services.sessions() as session:
        return await get_run(session, run_id)


@dataclass(frozen=True)
class RunDetail:
    run: AutomationRun
    item: RuleView
    facts: list[FactRow]


async def run_detail(services: Services, run_id: int) -> RunDetail:
    """A run with its rule and the event's facts as the office reads them; RuleNotFoundError when unknown."""
    async with services.sessions() as session:
        run = await get_run(session, run_id)
        item = await rule_view(session, run.rule_id)
        return RunDetail(run, item, await fact_rows(session, item.rule.trigger, run.facts))


async def form_options(services: Services) -> dict[str, list[tuple[str, str]]]:
    """Options of the rule form's selects whose values live in the database: users and mail templates."""
    async with services.sessions() as session:
        users = [(str(u.id), f"{u.name} ({u.email})") for u in await session.scalars(select(User).order_by(User.name))]
        stored = {t.key: t.name for t in await session.scalars(select(MessageTemplate).order_by(MessageTemplate.key))}
    for template in default_templates.defaults():
        stored.setdefault(template.key, template.name)
    return {"users": users, "templates": sorted(stored.items(), key=lambda item: item[1])}
