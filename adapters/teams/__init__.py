"""Microsoft Teams on the Microsoft 365 Agents SDK: parse (Activity → neutral events),
render (card view → Adaptive Card 1.5), transport (CloudAdapter in, connector client out)."""

from adapters.teams.transport import TeamsAdapter

__all__ = ["TeamsAdapter"]
