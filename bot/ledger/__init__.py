"""Persistence: the approval ledger (also the audit trail), its schema and row mapping, the
database layer over PostgreSQL or SQLite, the per-thread locks, and the listing that
`clearance pending` writes straight from the columns.

Kept empty on purpose: `clearance pending` imports `bot.ledger.url` and `bot.ledger.listing`
alone, without the approval models."""
