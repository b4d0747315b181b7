"""A no-op executor for the benchmarks: the round trip is measured, not the tool."""


def act(target: str, idempotency_key: str = "") -> str:
    return f"acted on {target}"
