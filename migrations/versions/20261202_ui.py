"""ui: stored default mail texts get a closing line (reminders) and a German plural (manager notice)

Data only. Offices keep the templates they edited: a reminder gets the closing line only when it still
ends as the shipped text did, and the manager notice's "Erinnerung(en)" is replaced only where the
shipped sentence is still there.

Revision ID: ui
Revises: 0003_automations
Create Date: 2026-12-02 06:45:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ui"
down_revision: str | None = "legal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_templates = sa.table("message_templates", sa.column("id", sa.Integer), sa.column("key"), sa.column("body"))

# The shipped texts as they were before this revision (never import them: the code moves on).
REMINDER_END = "Falls Sie kein Interesse mehr haben, ignorieren Sie diese E-Mail einfach.\n"
CLOSING = "\nMit freundlichen Grüßen\n{{ manager.name }}\n"
OLD_NOTICE = "nach {{ attempts }} Erinnerung(en) nicht reagiert"
NEW_NOTICE = "nach {{ attempts_text }} nicht reagiert"


def _update(keys: sa.ColumnElement[bool], change: Callable[[str], str | None]) -> None:
    """Apply CHANGE to the body of each template matching KEYS; None leaves a body as it is."""
    connection = op.get_bind()
    for row_id, body in connection.execute(sa.select(_templates.c.id, _templates.c.body).where(keys)).all():
        new = change(body)
        if new is not None and new != body:
            connection.execute(sa.update(_templates).where(_templates.c.id == row_id).values(body=new))


def upgrade() -> None:
    _update(_templates.c.key.like("inquiry.followup.%"), lambda b: b + CLOSING if b.endswith(REMINDER_END) else None)
    _update(_templates.c.key == "inquiry.manager_notice", lambda b: b.replace(OLD_NOTICE, NEW_NOTICE))


def downgrade() -> None:
    ending = REMINDER_END + CLOSING
    _update(
        _templates.c.key.like("inquiry.followup.%"), lambda b: b.removesuffix(CLOSING) if b.endswith(ending) else None
    )
    _update(_templates.c.key == "inquiry.manager_notice", lambda b: b.replace(NEW_NOTICE, OLD_NOTICE))
