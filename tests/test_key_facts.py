"""The property's key facts in exposé mails and previews: each amount once, under the most precise name."""

from __future__ import annotations

from decimal import Decimal

from db.models import Property
from messaging.inquiry_mail import key_facts


def test_the_rent_in_the_key_data_replaces_the_generic_price() -> None:
    prop = Property(
        external_ref="W-1",
        title="Wohnung",
        property_type="Wohnung",
        rooms=Decimal("3"),
        living_area=Decimal("78.50"),
        price=Decimal("1250.00"),
        zip_code="10969",
        city="Berlin",
        key_data={"Kaltmiete": "1.250 €", "Nebenkosten": "230 €", "Etage": "3", "Wohnfläche laut Portal": "79 m²"},
    )
    assert key_facts(prop) == [
        ("Objektart", "Wohnung"),
        ("Zimmer", "3"),  # the same number as "Etage" below: both stay, they are different facts
        ("Wohnfläche", "78 m²"),
        ("Kaltmiete", "1.250 €"),
        ("Lage", "10969 Berlin"),
        ("Nebenkosten", "230 €"),
        ("Etage", "3"),
        ("Wohnfläche laut Portal", "79 m²"),  # a different amount: shown as well
    ]
