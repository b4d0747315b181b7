"""The HTTP server: health, readiness, metrics, the approvals API and its OpenAPI document,
and the one JSON error model."""
