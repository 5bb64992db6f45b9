"""URLs for display: every password they hold hidden.

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


# Query parameters of a web URL whose values are credentials: api_key=, sig=, auth= as well.
_WEB_SECRET_PARAMS = (*_SECRET_PARAMS, "key", "sig", "auth", "credential")


def mask_web_url(url: str) -> str:
    """A venue URL for display: ``https://u:pw@h/p?api_key=k`` → ``https://***@h/p?api_key=***``.

    The whole user part goes, not only a password: a proxy or gateway token is often the user name.
    The rest is kept as written (no re-encoding), so the URL still reads as the one configured.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    tail, hash_, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    if question:
        params = []
        for param in query.split("&"):
            name, eq, _value = param.partition("=")
            secret = eq and any(s in name.lower() for s in _WEB_SECRET_PARAMS)
            params.append(f"{name}=***" if secret else param)
        query = "&".join(params)
    return f"{scheme}{sep}{authority}{path}{question}{query}{hash_}{fragment}"


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
