"""The preview on a card: the tool author's side-effect-free dry run of the call, for the
approvers to read before they decide.

A preview runs at most once per revision: its result is stored on the row before any card
shows it, so a re-run of the graph, a redelivery or a second replica never runs it again. A
preview that fails, or cannot even be stored, leaves the card without one rather than
unposted: the card stays decidable.
"""

from __future__ import annotations

import logging
from typing import Callable

from bot.approvals.models import Approval
from bot.ledger.ledger import Ledger
from graph.preview import run_preview
from graph.tools import Registry

log = logging.getLogger("clearance.edits")


class Previews:
    def __init__(self, *, ledger: Ledger, registry: Registry, redact: Callable[[str], str]) -> None:
        self.ledger = ledger
        self.registry = registry
        self.redact = redact

    async def with_preview(self, approval: Approval) -> Approval:
        """The approval with its current revision's preview (run now if need be)."""
        try:
            return await self.ensure(approval) or approval
        except Exception:
            log.exception("the preview of %s failed", approval.id)
            return approval

    async def ensure(self, approval: Approval) -> Approval | None:
        """Run and store the preview of the approval's current revision if the tool has one
        and it is not stored yet; the row as it then stands, or None when nothing was run."""
        spec = self.registry.get(approval.tool)
        if spec is None or spec.preview is None or approval.preview_revision >= approval.revision:
            return None
        result = await run_preview(spec, dict(approval.args), key=approval.id)
        if result is None:
            return None
        text = self.redact(result.text)
        stored = await self.ledger.set_preview(approval.id, approval.revision, text=text, ok=result.ok)
        if stored is None:  # edited meanwhile, or another process stored it first
            return await self.ledger.get(approval.id)
        return stored
