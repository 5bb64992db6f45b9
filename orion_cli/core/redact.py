"""Database URLs for display: every password they hold hidden.

Its own small module because the store (errors naming its database), the configuration view and the
CLI all show URLs, and none of them should import another's machinery to do it.
"""

from __future__ import annotations

import re

_SECRET_PARAMS = ("password", "secret", "token")  # libpq's password= and sslpassword=, and the like
# A secret-named key of a libpq conninfo string and its value, bare or quoted (a backslash escapes the
# next character, a space included). A quote never closed runs to the end, and a bare value takes any
# quote it holds: a string libpq would refuse is still shown, so it is masked as far as it may reach.
_CONNINFO_SECRET = re.compile(
    r"(\b\w*(?:" + "|".join(_SECRET_PARAMS) + r")\w*\s*=\s*)"
    r"('(?:[^'\\]|\\.)*(?:'|$)|\"(?:[^\"\\]|\\.)*(?:\"|$)|(?:\\.|[^\s\\])+)",
    re.IGNORECASE)


def _secret_param(name: str) -> bool:
    return any(s in name.lower() for s in _SECRET_PARAMS)


def mask_url(url: str) -> str:
    """``url`` for display: ``postgresql://u:pw@h/db?password=pw`` → ``postgresql://u:***@h/db?password=***``.

    Parsed as the database driver parses it (so a password holding "?" or "@", or a parameter name
    percent-encoded, is found); a URL it cannot parse is masked as text: everything between the user
    name and the last "@", and every secret-named parameter. A value without a scheme is a file path,
    or a libpq ``key=value`` string (refused when opened, but still shown): its secret values masked.
    """
    if "://" not in url:
        return _CONNINFO_SECRET.sub(r"\1***", url) if "=" in url else url
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # any parse failure: mask as text
        return _mask_url_text(url)
    placeholder = "ORIONMASKED"  # rendered as is (a literal "***" would be percent-encoded), then replaced
    secret = {k: placeholder for k in parsed.query if _secret_param(k)}
    if secret:
        parsed = parsed.update_query_dict(secret)
    return parsed.render_as_string(hide_password=True).replace(placeholder, "***")


def _mask_url_text(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at:
        user, colon, _password = creds.partition(":")
        rest = f"{user}{':***' if colon else ''}@{host}"
    head, question, query = rest.partition("?")
    if query:
        params = []
        for param in query.split("&"):
            name, eq, _value = param.partition("=")
            params.append(f"{name}=***" if eq and _secret_param(name) else param)
        query = "&".join(params)
    return f"{scheme}{sep}{head}{question}{query}"
