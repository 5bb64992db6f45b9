"""Database URLs for display (core/redact.py)."""

from __future__ import annotations

import pytest

from orion_cli.core.redact import mask_url


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
])
def test_mask_url_hides_every_password_it_holds(url: str, shown: str) -> None:
    assert mask_url(url) == shown
