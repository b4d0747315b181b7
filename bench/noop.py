"""A no-op executor for the benchmarks: the round trip is measured, not the tool. A coroutine,
so running it costs no hop to a worker thread either."""


async def act(target: str, idempotency_key: str = "") -> str:
    return f"acted on {target}"
