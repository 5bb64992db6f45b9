"""The secrets a process revealed, scrubbed from what it writes (core/revealed.py)."""

from __future__ import annotations

import pytest


def test_a_revealed_secret_is_scrubbed_from_text_and_records_and_a_public_identifier_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the store reveals is remembered (each line of a PEM too, not its armour, nor a short value); what
    the catalogue calls public (an address) is not."""
    from orion_cli.core import revealed
    from orion_cli.secrets.store import SecretValue

    revealed.forget_revealed()  # the conftest forgets them again after the test
    before = "nothing revealed yet: s3cr3t-passphrase"
    assert revealed.scrub_revealed(before) == before
    with SecretValue("polymarket_api_passphrase", b"s3cr3t-passphrase") as v:
        v.reveal()
    pem = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
           "-----END PRIVATE KEY-----\n")
    with SecretValue("kalshi_private_key", pem.encode()) as v:
        v.reveal_bytes()
    with SecretValue("polymarket_funder_address", b"0x1111111111111111111111111111111111111111") as v:
        v.reveal()
    with SecretValue("polymarket_signature_type", b"2") as v:
        v.reveal()
    said = ("venue: bad passphrase s3cr3t-passphrase; key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC; "
            "funder 0x1111111111111111111111111111111111111111; type 2; -----BEGIN PRIVATE KEY-----")
    assert revealed.scrub_revealed(said) == (
        "venue: bad passphrase ***; key line ***; funder 0x1111111111111111111111111111111111111111; type 2; "
        "-----BEGIN PRIVATE KEY-----")
    record = {"detail": said, "list": [said, 5], "nested": {"t": (said,)}}
    scrubbed = revealed.scrub_revealed_in(record)
    assert "s3cr3t-passphrase" not in repr(scrubbed) and scrubbed["list"][1] == 5


def test_an_error_made_after_a_secret_was_revealed_never_holds_it() -> None:
    """Found in review: the scrub at output left a venue's words, echoing a passphrase, in what is stored (an
    order's reason, an execution's result, a halt's reason) and printed later by a command that revealed
    nothing. An error's text is scrubbed where it is made."""
    from orion_cli.core import revealed
    from orion_cli.core.errors import AuthError
    from orion_cli.secrets.store import SecretValue
    from orion_cli.venues.http import VenueHttpError

    revealed.forget_revealed()  # the conftest forgets them again after the test
    with SecretValue("polymarket_api_passphrase", b"s3cr3t-passphrase") as v:
        v.reveal()
    refused = AuthError("401: passphrase s3cr3t-passphrase refused", hint="not s3cr3t-passphrase")
    assert (refused.message, refused.hint, str(refused)) == ("401: passphrase *** refused", "not ***",
                                                             "401: passphrase *** refused")
    http = VenueHttpError("polymarket", "GET", "/x", 400, "", "bad s3cr3t-passphrase")
    assert "s3cr3t" not in f"{http.message} {http.detail}"
