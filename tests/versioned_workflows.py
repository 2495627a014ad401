"""Version 2 of two workflows, as a deploy would bring them: same type names, changed commands.

- InquiryWorkflow v2 writes a memo before anything else: a change no v1 history replays (pinned workflows
  need no `patched` branch, because v1 inquiries keep running on v1 workers).
- LeadWorkflow v2 writes the memo at a CRM signal, behind `workflow.patched`: leads auto-upgrade, so v2
  replays histories v1 wrote, and only the new branch may differ.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from workflows.inquiry import InquiryWorkflow
    from workflows.inquiry_models import InquiryInput, InquirySnapshot
    from workflows.lead import LeadWorkflow
    from workflows.lead_models import LeadInput, LeadResult

CODE = "code"
LEAD_PATCH = "deploy-test-lead-memo"


@workflow.defn(name="InquiryWorkflow", versioning_behavior=VersioningBehavior.PINNED)
class InquiryWorkflowV2(InquiryWorkflow):
    @workflow.run
    async def run(self, params: InquiryInput) -> InquirySnapshot:
        workflow.upsert_memo({CODE: "v2"})
        return await super().run(params)


@workflow.defn(name="LeadWorkflow", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class LeadWorkflowV2(LeadWorkflow):
    @workflow.run
    async def run(self, input: LeadInput) -> LeadResult:
        return await super().run(input)

    def _accept(self, signal: Any) -> bool:
        # patched() decides once per run, at its first call: here that is the first CRM signal, which a lead
        # started on v1 receives after the upgrade (a replayed v1 signal would have decided "old branch").
        accepted = super()._accept(signal)
        if accepted and workflow.patched(LEAD_PATCH):
            workflow.upsert_memo({CODE: "v2"})
        return accepted
