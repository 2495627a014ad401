"""The mail template renderer: a stored template is compiled once and rendered afresh for every mail."""

from __future__ import annotations

import pytest

from messaging import templating
from messaging.templating import TemplateRenderError, render

GREETING = "Guten Tag {{ prospect.last_name }},{% for fact in facts %} {{ fact }}{% endfor %}"


def test_one_compiled_template_renders_each_context_on_its_own() -> None:
    first = render(GREETING, {"prospect": {"last_name": "Becker"}, "facts": ["3 Zimmer"]})
    hits = templating._compile.cache_info().hits
    second = render(GREETING, {"prospect": {"last_name": "Yılmaz"}, "facts": ["78 m²", "Balkon"]})
    assert first == "Guten Tag Becker, 3 Zimmer"
    assert second == "Guten Tag Yılmaz, 78 m² Balkon"
    assert templating._compile.cache_info().hits == hits + 1


def test_a_cached_template_keeps_its_loop_guard() -> None:
    endless = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
    for _ in range(2):  # the second render uses the compiled template of the first
        with pytest.raises(TemplateRenderError):
            render(endless, {})


def test_a_template_that_does_not_compile_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(TemplateRenderError, match="TemplateSyntaxError"):
            render("{% if %}", {})
