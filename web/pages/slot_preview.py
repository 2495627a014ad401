"""Demo data for the live preview of the time-slot mail templates (`slots.*`) in the template editor.

Built in starter.services.slots with the composer's own context builder, so the preview offers exactly the
variables a real mail gets; the template editor's registry (web.pages.template_preview) names it here.
"""

from __future__ import annotations

from starter.services import slots as slot_service

slot_demo_context = slot_service.template_demo_context
