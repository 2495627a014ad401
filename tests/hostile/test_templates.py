"""Office-editable templates that try to escape the sandbox or never finish: refused quickly, when saved and
when rendered, and an inquiry whose stored template is hostile ends as `failed` instead of hanging."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.models import MessageTemplate
from db.session import SessionFactory
from messaging.templating import TemplateRenderError, render
from settings import Settings
from starter.dev.smtp_sink import SmtpSink
from tests import factories
from tests.http import app_client
from tests.inquiry_harness import InquiryHarness, running_harness
from workflows.inquiry_models import InquiryState

pytestmark = [pytest.mark.timeout(120), pytest.mark.one_backend]

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{{ ''|attr('__class__') }}",
    "{{ prospect.__class__ }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ lipsum.__globals__ }}",
]
ENDLESS = [
    "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 9999 %}{% for b in 'y' * 9999 %}{{ a }}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ range(10**9)|list }}",
    "{{ 'x' * 10**9 }}",
    "{{ 2 ** 99999999 }}",
    "{{ 'x'|center(10**8) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{% for a in range(99999) %}{{ 'x' * 9999 }}{% endfor %}",
]


@pytest.mark.parametrize("source", ESCAPES + ENDLESS)
def test_hostile_template_is_refused_quickly(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateRenderError):
        render(source, {"prospect": {"name": "x"}})
    assert time.monotonic() - started < 1.5


def test_ordinary_templates_still_render() -> None:
    source = "{% for label, value in facts %}{{ loop.index }}. {{ label }}: {{ value|upper }}\n{% endfor %}{{ n * 3 }}"
    assert render(source, {"facts": [("Zimmer", "3"), ("Lage", "Berlin")], "n": 2}) == (
        "1. Zimmer: 3\n2. Lage: BERLIN\n6"
    )


@pytest.fixture
async def harness(
    workflow_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, task_queue: str
) -> AsyncIterator[InquiryHarness]:
    await factories.office(sessions)
    async with running_harness(workflow_env.client, sessions, settings, task_queue) as value:
        yield value


@pytest.mark.parametrize("source", [ESCAPES[0], ENDLESS[0], ENDLESS[2]])
async def test_saving_a_hostile_template_is_refused(
    harness: InquiryHarness, settings: Settings, workflow_env: WorkflowEnvironment, source: str
) -> None:
    async with harness.sessions() as session:
        before = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == "inquiry.confirmation"))
    assert before is not None
    async with app_client(settings, workflow_env.client) as http:
        response = await http.post(
            "/settings/templates/inquiry.confirmation", data={"subject": "Hallo", "body": source}
        )
    assert response.status_code == 422, response.text[:300]
    async with harness.sessions() as session:
        after = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == "inquiry.confirmation"))
    assert after is not None and (after.subject, after.body) == (before.subject, before.body)


async def test_inquiry_with_a_hostile_stored_template_fails_instead_of_hanging(
    harness: InquiryHarness, smtp_sink: SmtpSink
) -> None:
    # Written straight into the database, past the editor's check: the render budget is the last line.
    async with harness.sessions.begin() as session:
        row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == "inquiry.confirmation"))
        assert row is not None
        row.body = ENDLESS[0]
    inquiry = await factories.inquiry(harness.sessions, email="loop@example.org")
    started = time.monotonic()
    result = await (await harness.start(inquiry)).result()
    assert result.state == InquiryState.FAILED
    assert "too much work" in (result.reason or "")
    assert time.monotonic() - started < 30
    assert smtp_sink.received == []
