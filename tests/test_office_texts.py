"""Every UI text the office pages ask for exists in the catalogue (so a second language has a complete list)."""

from __future__ import annotations

import re
from pathlib import Path

from web.texts import MESSAGES, has_text, t

WEB = Path(__file__).resolve().parents[1] / "web"
OFFICE_TEMPLATES = ["base.html", "office", "dashboard", "settings"]
OFFICE_MODULES = [
    "security/auth.py", "pages/dashboard.py", "pages/inquiry_actions.py", "pages/login.py", "pages/settings_forms.py",
    "pages/settings.py", "pages/mail_templates.py", "pages/template_preview.py",
]  # fmt: skip
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9_])["']\s*[,)]""")
# Keys built at run time from a value: every value they can take needs a text.
DYNAMIC_PREFIXES = {
    "status.": ["received", "processing", "ignored", "skipped", "waiting_for_confirmation", "completed", "aborted",
                "expired", "cancelled", "failed"],
    "message_status.": ["pending", "sending", "retrying", "sent", "failed"],
    "marketing.": ["active", "reserved", "sold", "inactive"],
    "exception_field.": ["portal", "property", "email_domain", "mailbox"],
    "exception_action.": ["no_automation", "address_only"],
    "settings.duplicate_check.": ["email", "name_zip", "off"],
    "settings.final_notice.": ["task", "email", "none"],
}  # fmt: skip


def _sources() -> list[Path]:
    files: list[Path] = []
    for name in OFFICE_TEMPLATES:
        path = WEB / "templates" / name
        files += sorted(path.rglob("*.html")) if path.is_dir() else [path]
    return files + [WEB / name for name in OFFICE_MODULES]


def test_every_literal_key_exists() -> None:
    used = {key for path in _sources() for key in LITERAL_KEY.findall(path.read_text())}
    assert len(used) > 100
    assert sorted(key for key in used if not has_text(key)) == []


def test_every_key_built_from_a_value_exists() -> None:
    missing = [prefix + value for prefix, values in DYNAMIC_PREFIXES.items() for value in values]
    assert [key for key in missing if not has_text(key)] == []


def test_texts_fill_placeholders_and_fall_back_to_the_key() -> None:
    assert t("dashboard.next_step", step="Erinnerung 2", at="25.11. 09:00") == "Erinnerung 2 am 25.11. 09:00"
    assert t("no.such.key") == "no.such.key"
    assert set(MESSAGES) == {"de"}
