"""The demo office's showcase flat and agent: the same example in the demo data and in every template preview.

A preview built from these looks like a real mail and needs no database (it writes nothing, and works in an
office without demo data).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from db.models import Property, User

AGENT_NAME = "Anna Agent"
AGENT_EMAIL = "agent@immoflow.local"

# The demo office's showcase flat; the template previews show it too, so a preview looks like a real mail.
SHOWCASE_PROPERTY: dict[str, Any] = {
    "title": "Helle 3-Zimmer-Wohnung mit Balkon in Kreuzberg",
    "property_type": "Wohnung",
    "rooms": Decimal("3"),
    "living_area": Decimal("78.50"),
    "price": Decimal("1250.00"),
    "street": "Lindenstraße 12",
    "zip_code": "10969",
    "city": "Berlin",
    "key_data": {
        "Kaltmiete": "1.250 €",
        "Nebenkosten": "230 €",
        "Kaution": "3 Kaltmieten",
        "Etage": "2. OG",
        "Baujahr": "1998",
        "Bezugsfrei ab": "sofort",
        "Balkon": "ja",
    },
    # Relative: served by the web app itself, so it stays right whatever host and port the app runs on.
    "cover_image_url": "/static/demo/w-1001.jpg",
    "expose_url": "/static/demo/w-1001-expose.html",
}


def sample_agent() -> User:
    """The previews' agent: the demo office's Anna Agent (not read from the database: a preview writes nothing
    and works in an office without demo data)."""
    return User(id=1, name=AGENT_NAME, email=AGENT_EMAIL)


def sample_property() -> Property:
    """The previews' property: the demo office's showcase flat, managed by sample_agent()."""
    return Property(id=1, external_ref="W-1001", manager_user_id=1, **copy.deepcopy(SHOWCASE_PROPERTY))
