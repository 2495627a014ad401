"""Rendering an edited mail template on demo data: the live preview, and the check before it is saved.

A template is refused when it does not parse, reaches for internals (`{{ ''.__class__.__mro__ }}`), or fails
to render with the variables its mails really get. Those come from a demo context per template family:
inquiry mails use the inquiry composer's own context builder on demo records, so the preview cannot drift
from what is sent. A family without one (each family is listed in DEMO_CONTEXTS) is
rendered with placeholders (‹name›) for whatever it uses: syntax, sandbox and work budget still count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import TemplateSyntaxError, meta, nodes

from db.base import utcnow
from db.models import Inquiry
from domain.links import lead_link
from messaging.inquiry_mail import InquiryMailComposer
from messaging.templating import TemplateRenderError, parse, render_mail
from settings import Settings
from starter.services.showcase import AGENT_NAME, sample_agent, sample_property
from web.pages.slot_preview import slot_demo_context
from web.texts import t
from workflows.inquiry_models import MailRequest

if TYPE_CHECKING:  # only the composers' parameter type: the preview itself opens no database session
    from db.session import SessionFactory

# None from a factory: this key is not one it knows (the placeholders are used instead).
DemoContext = Callable[[str, Settings, "SessionFactory"], dict[str, Any] | None]


@dataclass
class Preview:
    subject: str = ""
    body: str = ""
    error: str | None = None
    generic: bool = False
    variables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def preview(key: str, subject: str, body: str, settings: Settings, sessions: SessionFactory) -> Preview:
    """SUBJECT and BODY rendered for template KEY on demo data, or the reason they cannot be."""
    try:
        used = _check_source(subject) | _check_source(body)
    except TemplateRenderError as exc:
        return Preview(error=str(exc))
    factory = next((f for prefix, f in sorted(DEMO_CONTEXTS.items(), reverse=True) if key.startswith(prefix)), None)
    context = factory(key, settings, sessions) if factory else None
    generic = context is None
    if context is None:
        context = {name: Placeholder(name) for name in used}
    try:
        rendered_subject, rendered_body = render_mail(subject, body, context)
    except TemplateRenderError as exc:
        return Preview(error=str(exc), generic=generic, variables=_names(context))
    return Preview(rendered_subject, rendered_body, None, generic, _names(context))


def _check_source(source: str) -> set[str]:
    """The template's free variables; refuses syntax errors and any `_name` attribute or item access."""
    try:
        # The guarded environment's parser: a plain one lets the compiler fold `'x' * 10**9` into a constant.
        tree = parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"TemplateSyntaxError: {exc.message} (Zeile {exc.lineno})") from exc
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name: object
        if isinstance(node, nodes.Getattr):
            name = node.attr
        else:
            assert isinstance(node, nodes.Getitem)
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateRenderError(t("templates.unsafe", name=name))
    return set(meta.find_undeclared_variables(tree))


class Placeholder:
    """Stands in for a variable without demo data: prints as ‹name›, any attribute or item is another one."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __str__(self) -> str:
        return f"‹{self._name}›"

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("_"):
            raise AttributeError(name)
        return Placeholder(f"{self._name}.{name}")

    def __getitem__(self, key: object) -> Placeholder:
        return Placeholder(f"{self._name}.{key}")

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True


def _names(context: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the variables a template can use (for the help list next to the editor)."""
    names: list[str] = []
    for name, value in sorted(context.items()):
        if isinstance(value, Mapping):
            names.extend(_names(value, f"{prefix}{name}."))
        else:
            names.append(prefix + name)
    return names


# --- the demo office ------------------------------------------------------------------------------------


_INQUIRY_KINDS: dict[str, Literal["confirmation", "followup", "expose", "manager_notice"]] = {
    "confirmation": "confirmation",
    "expose": "expose",
    "manager_notice": "manager_notice",
}


def _inquiry_context(key: str, settings: Settings, sessions: SessionFactory) -> dict[str, Any] | None:
    name = key.removeprefix("inquiry.")
    attempt = 2  # the manager notice counts the reminders sent
    kind = _INQUIRY_KINDS.get(name)
    if name.startswith("followup.") and name.removeprefix("followup.").isdigit():
        kind, attempt = "followup", int(name.removeprefix("followup."))
    if kind is None:
        return None
    manager, prop = sample_agent(), sample_property()
    inquiry = Inquiry(
        id=4711,
        property_ref="W-1001",
        email="nina.neu@example.com",
        prospect={"salutation": "Frau", "first_name": "Nina", "last_name": "Neu"},
    )
    request = MailRequest(inquiry_id=4711, kind=kind, attempt=attempt, idempotency_key="preview")
    composer = InquiryMailComposer(sessions, settings)
    # The composer's own builder (private, but the point is to share it): the preview gets exactly the
    # variables a real mail gets. Links are filled in by hand: real ones need a workflow and a database row.
    context = composer.template_context(request, inquiry, prop, manager, None)
    valid_until = utcnow() + timedelta(days=6)
    context["confirm_link"] = f"{settings.public_base_url}/confirm/BEISPIEL"
    context["link_valid_until"] = f"{valid_until:%d.%m.%Y} 09:00"
    context["time_slot_link"] = f"{settings.public_base_url}/slots/BEISPIEL"
    return context


def _lead_context(key: str, settings: Settings, sessions: SessionFactory) -> dict[str, Any] | None:
    # The variables activities.leads gives the overdue-lead reminder (seed 004).
    return {
        "lead": {"id": 42, "title": "Familie Neu sucht 3 Zimmer"},
        "phase": {"name": "Besichtigung"},
        "process": {"name": "Vermietung"},
        "taker": {"name": AGENT_NAME},
        "overdue_since": "Dienstag, 24.11.2026, 08:00 Uhr",
        "reminder_number": 1,
        "lead_link": lead_link(settings.public_base_url, 42),
    }


# FACTORY(template key, settings, sessions) builds the variables of the templates whose key starts with the
# prefix; a family without one previews with placeholders.
DEMO_CONTEXTS: dict[str, DemoContext] = {
    "inquiry.": _inquiry_context,
    "lead.": _lead_context,
    "slots.": slot_demo_context,
}
