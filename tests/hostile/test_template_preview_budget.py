"""Issue 17.8: the template pre-check evaluates nothing outside the budget; values cannot double their way
to gigabytes. Measured as allocated memory (tracemalloc), not time: today's pre-check folded the
constant expressions below into strings of tens of megabytes before the render refused them."""

from __future__ import annotations

import tracemalloc

import pytest

from messaging.templating import MAX_VALUE_SIZE, TemplateRenderError, render
from settings import Settings
from web.pages.template_preview import preview

LIMIT_BYTES = 8 * 1024 * 1024  # what one refused preview may allocate at most
HOSTILE = [
    "{{ 'x' * 50000000 }}",
    "{{ '%50000000s'|format('a') }}",
    "{{ 'x' ~ ('y' * 50000000) }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 40) }}",
    "{% macro d(s, n) %}{% if n %}{{ d(s + s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 40) }}",
    "{{ 'x'" + "|replace('x', 'xxxxxxxxxx')" * 9 + " }}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_a_hostile_preview_is_refused_without_the_memory(settings: Settings, source: str) -> None:
    tracemalloc.start()
    try:
        result = preview("inquiry.unknown", "Betreff", source, settings, sessions=None)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.ok and result.error
    assert peak < LIMIT_BYTES, f"{peak // 1024} KiB allocated for {source!r}"


def test_values_up_to_the_limit_still_render() -> None:
    assert (
        len(render("{{ 'ab' * 5000 }}{{ s ~ s }}", {"s": "x" * (MAX_VALUE_SIZE // 4)})) == 10_000 + MAX_VALUE_SIZE // 2
    )
    with pytest.raises(TemplateRenderError, match="value longer"):
        render("{% set t = (s ~ s) ~ (s ~ s) %}{{ t|length }}", {"s": "x" * (MAX_VALUE_SIZE // 2 + 1)})
