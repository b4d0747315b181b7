"""The redactor: every secret value, wherever it sits in a text or a JSON-like value."""

from __future__ import annotations

import time

from graph.redact import MIN_SECRET_CHARS, REDACTED, Redactor


def test_every_occurrence_of_every_secret() -> None:
    r = Redactor(["xoxb-123456", "hunter22"])
    assert r.text("token xoxb-123456 and hunter22, again xoxb-123456.") == (
        f"token {REDACTED} and {REDACTED}, again {REDACTED}.")
    assert r.text("nothing here") == "nothing here"


def test_overlapping_and_nested_secrets_leave_no_part_showing() -> None:
    r = Redactor(["abcdefgh", "cdef", "ghijkl"])
    assert r.text("xabcdefghijkly") == f"x{REDACTED}y"  # one span for the overlapping three
    assert r.text("cdef") == REDACTED
    # Redacting "cdef" first must not hide the longer secret's ends.
    assert "ab" not in r.text("abcdefgh") and "gh" not in r.text("abcdefgh")


def test_short_and_empty_values_are_ignored() -> None:
    r = Redactor(["", "a", "dev", "x" * MIN_SECRET_CHARS])
    assert r.secrets == ("x" * MIN_SECRET_CHARS,)
    assert r.text("a dev xxxx") == f"a dev {REDACTED}"


def test_json_like_values_keys_included() -> None:
    r = Redactor(["s3cr3t-value"])
    got = r.value({"s3cr3t-value": ["in s3cr3t-value list", 3, None, True, {"deep": ("s3cr3t-value",)}]})
    assert got == {REDACTED: [f"in {REDACTED} list", 3, None, True, {"deep": [REDACTED]}]}


def test_linear_in_the_text() -> None:
    r = Redactor([f"secret-number-{i:04d}" for i in range(50)])
    small, large = "a" * 200_000 + "secret-number-0007", "a" * 400_000 + "secret-number-0007"
    t0 = time.perf_counter()
    assert r.text(small).endswith(REDACTED)
    t1 = time.perf_counter()
    assert r.text(large).endswith(REDACTED)
    t2 = time.perf_counter()
    assert t2 - t1 < 0.5 and (t2 - t1) < 6 * max(t1 - t0, 1e-3)
