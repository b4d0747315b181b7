"""What the bot says in a thread besides the model's answers: one-sentence failures and
notices. Pure functions of their inputs."""

from __future__ import annotations


def waiting_text(tools: list[str]) -> str:
    count = len(tools)
    what = ", ".join(sorted(set(tools)))
    return (f"This thread is waiting for {count} approval{'s' if count != 1 else ''} ({what}), so I did "
            "not act on that message. Once the cards are decided I will carry on; then ask again, "
            "or start a new thread for something else.")


def failure_text(exc: Exception, *, resumed: bool = False) -> str:
    """One clear sentence for the thread; the details (never secrets) go to the log."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    # langchain-openai re-raises the client's errors as subclasses, so look along the MRO.
    from_llm = any(c.__module__.split(".")[0] in ("openai", "langchain_openai", "httpx")
                   for c in type(exc).__mro__)
    hints = {401: " (check the API key)", 403: " (check the API key)",
             404: " (check the model or deployment name)"}
    if from_llm and ("RateLimit" in name or status == 429):
        cause = "the language model is rate-limiting us and still refused after several retries"
    elif from_llm and ("Timeout" in name or "Connection" in name):
        cause = "I could not reach the language model (it did not answer after several retries)"
    elif from_llm and isinstance(status, int):
        cause = f"the language model answered with an error (HTTP {status}){hints.get(status, '')}"
    elif from_llm:
        cause = "the language model call failed"
    else:
        cause = "something went wrong while handling that; the operators have the details"
    if resumed:
        then = ("The decision and the call's result are saved; send a message in this thread "
                "and I will continue from there.")
    else:
        then = "Your message is kept in this thread; send another message to try again."
    return f"Sorry, {cause}. {then}"
