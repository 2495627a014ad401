"""What an automation can do: one module per action, each defining `ACTION`.

An action has typed parameters (a pydantic model, what the rule stores), a German one-line summary for
the admin list, the form fields the admin page renders, and `run`, which does the work inside the
activity's transaction. Runs must be idempotent: a retried activity calls `run` again only if the first
attempt rolled back, and anything leaving the building (mail) goes through the outbox with a stable key.
Adding an action is adding one module here; the registry finds it by itself.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel

from automations.actions._support import ActionContext, ActionError
from workflows.automation_models import ActionOutcome

__all__ = ["Action", "ActionContext", "ActionError", "FormField", "actions", "get_action"]

P = TypeVar("P", bound=BaseModel)

# Where a select's options come from: fixed pairs, or lists the page loads (users, templates).
ChoiceSource = tuple[tuple[str, str], ...] | Literal["users", "templates"]


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: Literal["text", "textarea", "select", "checkbox", "number"] = "text"
    choices: ChoiceSource = ()
    help: str = ""


# Settings that name a user; their summaries say "Benutzer #<id>" when no names are at hand.
USER_FIELDS = ("user_id", "owner_user_id")


class Action(ABC, Generic[P]):
    kind: ClassVar[str]
    label: ClassVar[str]
    form: ClassVar[tuple[FormField, ...]] = ()
    params_model: type[P]

    @abstractmethod
    def summary(self, params: P) -> str:
        """One German line for the rule list, e.g. "E-Mail „Geburtstag“ an den Kontakt"."""

    @abstractmethod
    async def run(self, ctx: ActionContext, params: P) -> ActionOutcome:
        """Do it in CTX.session (committed by the caller); raise ActionError when it cannot be done."""

    def parse(self, raw: dict[str, Any]) -> P:
        return self.params_model.model_validate(raw)

    def describe(self, raw: dict[str, Any], user_names: Mapping[int, str] | None = None) -> str:
        """The summary; with USER_NAMES, a chosen user reads as their name instead of "Benutzer #2"."""
        try:
            params = self.parse(raw)
        except ValueError:
            return f"{self.label} (ungültige Einstellungen)"
        text = self.summary(params)
        for field in USER_FIELDS:
            user_id = getattr(params, field, None)
            if user_names and isinstance(user_id, int) and user_id in user_names:
                text = text.replace(f"Benutzer #{user_id}", user_names[user_id])
        return text

    async def execute(self, ctx: ActionContext, raw: dict[str, Any]) -> ActionOutcome:
        return await self.run(ctx, self.parse(raw))


@cache
def actions() -> dict[str, Action[Any]]:
    found: dict[str, Action[Any]] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        action = importlib.import_module(f"{__name__}.{module.name}").ACTION
        if not isinstance(action, Action):
            raise TypeError(f"{module.name}.ACTION is not an Action")
        found[action.kind] = action
    return dict(sorted(found.items(), key=lambda item: item[1].label))


def get_action(kind: str) -> Action[Any]:
    try:
        return actions()[kind]
    except KeyError:
        raise KeyError(f"unbekannte Aktion {kind!r}") from None
