"""The office's identity and legal texts (app_settings section "legal"), with German example defaults.

The defaults are EXAMPLES the office must review with its own lawyer, not legal advice: every text is
stored with the office's settings and editable at /settings/legal. Each consent text carries a version;
a consent record keeps the text and version the person actually saw.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, field_validator

SECTION = "legal"
EXAMPLE_MARK = "[Beispieltext – bitte prüfen und anpassen]"

DEFAULT_CONSENT_TEXT = (
    "Ich möchte per E-Mail über passende Immobilienangebote informiert werden. Ich bestätige meine "
    "Einwilligung über einen Link, den ich per E-Mail erhalte, und kann sie jederzeit widerrufen, z. B. "
    "über den Abmeldelink in jeder E-Mail."
)
DEFAULT_COMMISSION_NOTE = (
    "Für den Nachweis oder die Vermittlung dieser Immobilie entsteht bei Abschluss eines Vertrags eine "
    "Provision (Käufer-/Mieterprovision laut Exposé). Mit dem Abruf des Exposés kommt ein Maklervertrag zustande."
)
DEFAULT_WIDERRUF_TEXT = (
    "Widerrufsbelehrung\n"
    "\n"
    "Widerrufsrecht\n"
    "Sie haben das Recht, binnen vierzehn Tagen ohne Angabe von Gründen diesen Vertrag zu widerrufen. Die"
    " Widerrufsfrist beträgt vierzehn Tage ab dem Tag des Vertragsabschlusses. Um Ihr Widerrufsrecht "
    "auszuüben, müssen Sie uns ({{ office.name }}, {{ office.address }}, {{ office.email }}) mittels "
    "einer eindeutigen Erklärung (z. B. ein mit der Post versandter Brief oder eine E-Mail) über Ihren "
    "Entschluss, diesen Vertrag zu widerrufen, informieren. Sie können dafür das beigefügte Muster-"
    "Widerrufsformular verwenden, das jedoch nicht vorgeschrieben ist. Zur Wahrung der Widerrufsfrist "
    "reicht es aus, dass Sie die Mitteilung über die Ausübung des Widerrufsrechts vor Ablauf der "
    "Widerrufsfrist absenden.\n"
    "\n"
    "Folgen des Widerrufs\n"
    "Wenn Sie diesen Vertrag widerrufen, haben wir Ihnen alle Zahlungen, die wir von Ihnen erhalten "
    "haben, unverzüglich und spätestens binnen vierzehn Tagen ab dem Tag zurückzuzahlen, an dem die "
    "Mitteilung über Ihren Widerruf dieses Vertrags bei uns eingegangen ist. Haben Sie verlangt, dass die"
    " Dienstleistungen während der Widerrufsfrist beginnen sollen, so haben Sie uns einen angemessenen "
    "Betrag zu zahlen, der dem Anteil der bis zu dem Zeitpunkt, zu dem Sie uns von der Ausübung des "
    "Widerrufsrechts hinsichtlich dieses Vertrags unterrichten, bereits erbrachten Dienstleistungen im "
    "Vergleich zum Gesamtumfang der im Vertrag vorgesehenen Dienstleistungen entspricht."
)
DEFAULT_WITHDRAWAL_FORM = (
    "Muster-Widerrufsformular\n"
    "\n"
    "(Wenn Sie den Vertrag widerrufen wollen, dann füllen Sie bitte dieses Formular aus und senden Sie es"
    " zurück.)\n"
    "\n"
    "An {{ office.name }}, {{ office.address }}, {{ office.email }}:\n"
    "\n"
    "Hiermit widerrufe(n) ich/wir (*) den von mir/uns (*) abgeschlossenen Vertrag über die Erbringung der"
    " folgenden Dienstleistung: Maklerleistung zur Immobilie {{ property.ref }} „{{ property.title }}“\n"
    "\n"
    "Bestellt am (*) / erhalten am (*): ____________________\n"
    "\n"
    "Name des/der Verbraucher(s): ____________________\n"
    "\n"
    "Anschrift des/der Verbraucher(s): ____________________\n"
    "\n"
    "Unterschrift des/der Verbraucher(s) (nur bei Mitteilung auf Papier): ____________________\n"
    "\n"
    "Datum: ____________________\n"
    "\n"
    "(*) Unzutreffendes streichen."
)
DEFAULT_EARLY_START_TEXT = (
    "Ich verlange ausdrücklich, dass Sie vor Ende der Widerrufsfrist mit der Maklerleistung beginnen und mir das "
    "Exposé sofort senden. Mir ist bekannt, dass ich bei vollständiger Vertragserfüllung mein Widerrufsrecht "
    "verliere und bei einem Widerruf Wertersatz für bereits erbrachte Leistungen schulde."
)
DEFAULT_PRIVACY_TEXT = (
    "Wir verarbeiten Ihre Angaben, um Ihre Anfrage zu beantworten (Art. 6 Abs. 1 lit. b DSGVO) und – nur mit Ihrer "
    "Einwilligung – um Sie über passende Angebote zu informieren (Art. 6 Abs. 1 lit. a DSGVO). Sie haben das "
    "Recht auf Auskunft, Berichtigung, Löschung, Einschränkung, Datenübertragbarkeit und Widerspruch."
)


def text_version(text: str) -> str:
    """A version that changes whenever the text does, so a stored consent names exactly what was shown."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class OfficeIdentity(BaseModel):
    """Who is speaking to the prospect: on every prospect page and in every mail's footer (§ 5 DDG, Art. 13 DSGVO)."""

    name: str = Field("Immobilienbüro (Name in den Einstellungen eintragen)", min_length=1, max_length=200)
    address: str = Field("Straße 1, 12345 Stadt", max_length=500)
    email: str = Field("", max_length=320)
    phone: str = Field("", max_length=60)
    logo_url: HttpUrl | None = None
    impressum_url: HttpUrl | None = None
    impressum_text: str = Field("", max_length=20_000)
    privacy_url: HttpUrl | None = None
    privacy_text: str = Field(DEFAULT_PRIVACY_TEXT, max_length=50_000)

    @field_validator("logo_url", "impressum_url", "privacy_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


WithoutEarlyStart = Literal["wait", "send_now"]


class LegalSettings(BaseModel):
    identity: OfficeIdentity = Field(default_factory=OfficeIdentity)
    consent_text: str = Field(DEFAULT_CONSENT_TEXT, min_length=10, max_length=5000)
    widerruf_enabled: bool = Field(False, description="Exposés start a broker contract with a right of withdrawal.")
    commission_note: str = Field(DEFAULT_COMMISSION_NOTE, min_length=1, max_length=5000)
    widerruf_text: str = Field(DEFAULT_WIDERRUF_TEXT, min_length=10, max_length=20_000)
    withdrawal_form: str = Field(DEFAULT_WITHDRAWAL_FORM, min_length=10, max_length=20_000)
    early_start_text: str = Field(DEFAULT_EARLY_START_TEXT, min_length=10, max_length=5000)
    withdrawal_days: int = Field(14, ge=14, le=60, description="§ 355 (2) BGB: at least 14 days.")
    without_early_start: WithoutEarlyStart = Field(
        "wait",
        description="wait: the exposé goes out when the period has passed; send_now: at once, at the office's risk.",
    )
    retention_notice_days: int = Field(14, ge=0, le=365, description="Task to the manager this many days before.")
    unconfirmed_retention_days: int = Field(30, ge=1, le=3650, description="Unconfirmed inquiries: delete after.")

    @property
    def consent_version(self) -> str:
        return text_version(self.consent_text)

    @property
    def widerruf_version(self) -> str:
        return text_version(self.widerruf_text + "\0" + self.withdrawal_form + "\0" + self.early_start_text)
