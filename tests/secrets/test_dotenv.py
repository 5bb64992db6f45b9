"""The strict .env reader."""

from __future__ import annotations

import pytest

from orion_cli.core.errors import SecretsError
from orion_cli.secrets.dotenv import parse_dotenv


def test_forms() -> None:
    text = (
        "# comment\n\n"
        "PLAIN=value\n"
        "export EXPORTED = spaced value  # trailing comment\n"
        "HASH=abc#def\n"
        "SINGLE='lit\\eral # kept'\n"
        'DOUBLE="a\\nb \\"q\\""\n'
        'PEM="-----BEGIN KEY-----\nAAAA\n-----END KEY-----"\n'
        "EMPTY=\n"
        "PLAIN=second wins\r\n"
    )
    assert parse_dotenv(text) == {
        "PLAIN": "second wins",
        "EXPORTED": "spaced value",
        "HASH": "abc#def",
        "SINGLE": "lit\\eral # kept",
        "DOUBLE": 'a\nb "q"',
        "PEM": "-----BEGIN KEY-----\nAAAA\n-----END KEY-----",
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [("GOOD=1\nnot an assignment\n", 2), ('A="unterminated\nB=2\n', 1), ('A="x" junk\n', 1),
     ('A="bad \\q escape"\n', 1), ("=novalue\n", 1)],
)
def test_errors_name_the_line_not_the_content(text: str, line: int) -> None:
    with pytest.raises(SecretsError) as err:
        parse_dotenv(text, source="my.env")
    assert f"my.env, line {line}" in str(err.value)
    assert "unterminated\nB" not in str(err.value) and "junk" not in str(err.value)
