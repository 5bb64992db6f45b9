"""Database URLs for display (core/redact.py)."""

from __future__ import annotations

import pytest

from orion_cli.core.redact import mask_url, mask_web_url, web_url_ok


@pytest.mark.parametrize(("url", "shown"), [
    # Found in review: a password in the query string (libpq's password=) was printed as it was.
    ("postgresql://u@h:5432/db?password=S3CRET&sslmode=require", "postgresql://u@h:5432/db?password=***&sslmode=require"),
    ("postgresql://u:p@ss:w@h/db?sslpassword=S3CRET", "postgresql://u:***@h/db?sslpassword=***"),
    ("postgresql://u@h/db?application_name=orion", "postgresql://u@h/db?application_name=orion"),
    ("postgresql://h/db", "postgresql://h/db"),
    # Found in review of the first version: a "?" in the password, an encoded parameter name, and a
    # value without a scheme (a file path), which it printed twice.
    ("postgresql://u:S3C?RET@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?pass%77ord=S3CRET", "postgresql://u@h/db?password=***"),
    ("/home/me@corp/orion.db", "/home/me@corp/orion.db"),
    # Found in review: a libpq key=value string (refused when opened, shown by `config show`) was
    # printed with its password; quoted values and spaces around "=" are libpq's too.
    ("host=db dbname=orion password=S3CRET", "host=db dbname=orion password=***"),
    ("host=db password='S3 \\'CRET' user=u", "host=db password=*** user=u"),
    ("sslpassword = S3CRET host=h", "sslpassword = *** host=h"),
    ("host=db password=S3\\ CRET user=u", "host=db password=*** user=u"),  # libpq: "\ " is in the value
    ("./a=b.db", "./a=b.db"),
    # Found in the final read: a quote the pattern did not expect left the rest of the value shown.
    ("host=x password='abc def", "host=x password=***"),
    ("host=x password=ab'cd user=u", "host=x password=*** user=u"),
    ('host=x password="abc def" user=u', "host=x password=*** user=u"),
    # Found by black-box testing: an unescaped "@" in the password parses (the driver ends the password
    # at the first "@"), and the rest of it was shown as part of the host.
    ("postgresql://orion:PGSECRET@x3@127.0.0.1:1/orion", "postgresql://orion:***@127.0.0.1:1/orion"),
    ("postgresql://u:a@b@c@h/db?password=z&x=1", "postgresql://u:***@h/db?password=***&x=1"),
    # Found in a black-box run: with nothing to mask, a path's non-ASCII letters came out percent-encoded, so
    # `init` and `config show` named one ledger two ways. Shown as written.
    ("sqlite:////tmp/a b/ünï/orion.db", "sqlite:////tmp/a b/ünï/orion.db"),
    ("postgresql://u@h/dé?application_name=orion", "postgresql://u@h/dé?application_name=orion"),
    ("postgresql://u:pw@h/dé", "postgresql://u:***@h/d%C3%A9"),  # masked: rendered by the driver's parser
])
def test_mask_url_hides_every_password_it_holds(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize(("url", "shown"), [
    ("https://clob.polymarket.com", "https://clob.polymarket.com"),
    ("https://u:S3CRET@proxy.example:8443/trade-api/v2", "https://***@proxy.example:8443/trade-api/v2"),
    ("https://TOKEN123@gw.example/x", "https://***@gw.example/x"),  # a token as the user name
    ("https://u:p@ss@h/x", "https://***@h/x"),  # an "@" in the password: the last one ends it
    ("https://h/x?api_key=S3CRET&limit=5", "https://h/x?api_key=***&limit=5"),
    ("https://h/x?Token=S3CRET#top", "https://h/x?Token=***#top"),
    ("https://h/x?sig=S3CRET&auth=S3CRET", "https://h/x?sig=***&auth=***"),
    ("https://h/a@b", "https://h/a@b"),  # an "@" in the path is not a user part
    ("https://h/x#access_token=S3CRET", "https://h/x#access_token=***"),  # nor is a fragment's token shown
    ("not a url", "not a url"),
    # Found in review: more names that hold credentials, ";" between parameters, an encoded name.
    ("https://h/x?passwd=S3CRET&a=1;token=S3CRET", "https://h/x?passwd=***&a=1;token=***"),
    ("https://h/x?pwd=S3CRET&session=S3CRET&hmac=S3CRET", "https://h/x?pwd=***&session=***&hmac=***"),
    ("https://h/x?to%6Ben=S3CRET", "https://h/x?to%6Ben=***"),
    ("http://[::1]:9/x?q=1", "http://[::1]:9/x?q=1"),
    ("HTTPS://u:S3CRET@H/x", "HTTPS://***@H/x"),
    # Found in review: a value that is not a well-formed URL (refused, and shown in the refusal) kept
    # the password where the user part was taken to end early.
    ("https:/u:S3CRET@h/x", "***@h/x"),
    ("https//u:S3CRET@h/x", "***@h/x"),
    ("https://u:pa?S3CRET@h/x", "https://***@h/x"),
    ("https://u:pa#S3CRET@h/x", "https://***@h/x"),
    ("https://u:S3/CRET@h/x", "https://***@h/x"),
    ("https://u:S3CRET@h:port/x", "https://***@h:port/x"),
    # Found in review (config.loaded keeps venue URLs for good): a token in the path is masked too.
    ("https://proxy.example.com/k/3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c/clob", "https://proxy.example.com/k/***/clob"),
    ("https://api.elections.kalshi.com/trade-api/v2", "https://api.elections.kalshi.com/trade-api/v2"),
])
def test_mask_web_url_hides_the_user_part_and_secret_parameters(url: str, shown: str) -> None:
    assert mask_web_url(url) == shown


@pytest.mark.parametrize(("url", "ok"), [
    ("https://clob.polymarket.com", True), ("http://127.0.0.1:8080/x", True), ("http://[::1]:9/x", True),
    ("https://u:p@proxy.example/x?y=1", True), ("HTTPS://h/x", True),
    ("notaurl", False), ("ftp://h/x", False), ("https://", False), ("https://h:99999/x", False),
    ("https://h:0/x", False), ("https://h:port/x", False), (" https://h/x", False),
    # Found in review: these passed and then crashed the HTTP client (exit 1) or read as an outage (exit 5).
    ("https://gamma\u2010api.polymarket.com", False), ("https://h\u200b/x", False), ("https://[v1.fe]/", False),
    ("https://xn--/", False), ("https://gamma-api polymarket.com", False), ("https://-h.example/", False),
])
def test_web_url_ok_takes_only_urls_requests_can_go_to_as_written(url: str, ok: bool) -> None:
    assert web_url_ok(url) is ok


# -- pinned by mutation testing --------------------------------------------------------------------


def test_a_value_that_looks_like_a_key_is_never_quoted_and_a_url_is_clipped_at_twelve() -> None:
    from orion_cli.core.redact import NOT_SHOWN, SHOWN_PATH_CHARS, SHOWN_SETTING_CHARS, shown_setting

    wallet_key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    for value in (wallet_key, "0x" + wallet_key, "123456789:CANARYtelegramTOKENabcdefghijklmnop"):
        assert shown_setting(value) == NOT_SHOWN
        assert shown_setting(value, whole_up_to=SHOWN_PATH_CHARS) == NOT_SHOWN
    webhook = "https://hooks.example.com/services/T000/B000/CANARYwebhookSECRET42"
    for whole_up_to in (SHOWN_SETTING_CHARS, SHOWN_PATH_CHARS):  # a URL where a path belongs: clipped all the same
        shown = shown_setting(webhook, whole_up_to=whole_up_to)
        assert "CANARY" not in shown and shown.startswith(repr(webhook[:SHOWN_SETTING_CHARS]))


def test_a_conninfo_password_key_in_capitals_is_masked_too() -> None:
    """libpq refuses `PASSWORD=` (its keys are lower case), and the refusal shows the string."""
    assert mask_url("host=db PASSWORD=S3CRET user=u") == "host=db PASSWORD=*** user=u"
    assert mask_url("host=db SslPassword='S3 CRET'") == "host=db SslPassword=***"


def test_a_plain_http_url_is_private_only_to_a_loopback_host() -> None:
    from orion_cli.core.redact import web_url_private

    assert web_url_private("http://localhost:8080/x") and web_url_private("http://127.0.0.1/x")
    assert not web_url_private("http://localhost.evil.example/x")
    assert not web_url_private("http://localhostx/x")


def test_scrubbing_a_drivers_message_leaves_no_piece_of_the_password() -> None:
    from orion_cli.core.redact import scrub_url_secrets

    # The whole password before its parts: replacing "cdefg" first left "ab@" of it in the message.
    assert scrub_url_secrets("host 'ab@cdefg@127.0.0.1'", "postgresql://u:ab@cdefg@127.0.0.1/db") == \
        "host '***@127.0.0.1'"
    # A short password (six characters) is scrubbed too.
    assert scrub_url_secrets("auth failed for pw1234", "postgresql://u:pw1234@h/db") == "auth failed for ***"
    # A URL the driver cannot parse (a bad port): the password as the driver decodes it, "%40" as "@".
    assert scrub_url_secrets("role 'S@cret99' ... 'S%40cret99'", "postgresql://u:S%40cret99@h:notaport/db") == \
        "role '***' ... '***'"

