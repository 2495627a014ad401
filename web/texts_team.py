"""UI texts of the office's team features (users and roles, tasks, sales processes, appointments).

Merged into web.texts' German catalogue; a second language adds the same keys there.
"""

from __future__ import annotations

TEAM_DE: dict[str, str] = {
    "nav.users": "Benutzer",
    "nav.tasks": "Aufgaben",
    "nav.appointments": "Termine",
    "nav.sales_processes": "Vertriebsprozesse",
    "roles.forbidden_title": "Keine Berechtigung",
    "roles.admin_required": "Diese Seite ist Admins vorbehalten (Einstellungen, Vorlagen, Automationen, Benutzer). "
    "Bitten Sie einen Admin Ihres Büros, die Änderung vorzunehmen oder Ihnen die Rolle Admin zu geben.",
    "roles.admin_required_api": "Nur Admins dürfen das (Rolle admin).",
    "role.admin": "Admin",
    "role.agent": "Makler",
    "tasks.nav_badge_title": "offene Aufgaben",
    "visibility.not_found": "Diesen Eintrag gibt es nicht, oder er gehört zu einer Immobilie, die Sie nicht sehen.",
}
