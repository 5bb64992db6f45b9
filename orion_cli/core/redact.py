"""URLs for display: every password they hold hidden.

Its own small module because the store (errors naming its database), the configuration view and the
CLI all show URLs, and none of them should import another's machinery to do it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

_SECRET_PARAMS = ("password", "secret", "token")  # libpq's password= and sslpassword=, and the like
# A secret-named key of a libpq conninfo string and its value, bare or quoted (a backslash escapes the
# next character, a space included). A quote never closed runs to the end, and a bare value takes any
# quote it holds: a string libpq would refuse is still shown, so it is masked as far as it may reach.
_CONNINFO_SECRET = re.compile(
    r"(\b\w*(?:" + "|".join(_SECRET_PARAMS) + r")\w*\s*=\s*)"
    r"('(?:[^'\\]|\\.)*(?:'|$)|\"(?:[^\"\\]|\\.)*(?:\"|$)|(?:\\.|[^\s\\])+)",
    re.IGNORECASE)


# A wallet key (0x + 64 hex), a bare hex secret, or a base64 DER/secret pasted as a path: 32+ characters of
# the key alphabets (base64's "/" included), nothing else. Real credential paths have an extension.
_KEYLIKE = re.compile(r"(0x)?[0-9a-fA-F]{32,}|[A-Za-z0-9+/=_-]{32,}")
# A Telegram bot token (the shape secrets.names validates): <bot id>:<35 or so characters>.
_TELEGRAM_TOKEN = re.compile(r"[0-9]{5,16}:[A-Za-z0-9_-]{30,64}")


def looks_like_key(text: str) -> bool:
    """Whether ``text``, given where a path belongs, is more likely key material than a path."""
    text = text.strip()
    if "\n" in text or "-----BEGIN" in text or "PRIVATE KEY" in text:
        return True
    return bool(_KEYLIKE.fullmatch(text)) and "." not in text


def setting_looks_secret(text: str) -> bool:
    """Whether a setting's value looks like a credential put there by mistake: key material
    (:func:`looks_like_key`; an absolute path, ``/…`` or ``~…``, is taken for the path it is, as
    ``/run/secrets/kalshi_private_key_pem`` would look like a key) or a Telegram bot token."""
    text = text.strip()
    return (looks_like_key(text) and not text.startswith(("/", "~"))) or bool(_TELEGRAM_TOKEN.fullmatch(text))


NOT_SHOWN = "(not shown: it looks like a key or token)"

SHOWN_SETTING_CHARS = 12  # how much of a long value a warning or an error quotes (free text: alerts.format…)
# Values of a known shape, shown whole up to these many characters, as their mistake is often at the
# end: a trading window entry ("09:30-16:00 UTC", "9:30am-4pm America/New_York") and a path key's file
# ("orion/vault/vault.json", relative; "~/orion/vault.jsn").
SHOWN_WINDOW_CHARS = 40
SHOWN_PATH_CHARS = 160


def shown_setting(text: str, *, mask: Callable[[str], str] | None = None,
                  whole_up_to: int = SHOWN_SETTING_CHARS) -> str:
    """A setting's value (``alerts.format``, ``secrets.vault_path``…) as a warning or an error quotes it.

    A value that looks like a credential is not shown at all; any other is quoted with the password
    and secret parameters of a URL in it masked and, beyond ``whole_up_to`` characters, clipped to its
    first :data:`SHOWN_SETTING_CHARS`, with its length: a webhook URL or a key pasted into the wrong key
    (``--config``, ``ORION__ALERTS__FORMAT=…``) was quoted whole in every warning, and cron keeps
    stderr. The key and its source, which every such message names, say where to look. A trading window
    entry or a path is given a larger ``whole_up_to`` (:data:`SHOWN_WINDOW_CHARS`,
    :data:`SHOWN_PATH_CHARS`): clipped at 12, the ``UTC`` of ``"09:30-16:00 UTC"`` that made it wrong
    was cut off. A URL (``://``) is clipped at 12 all the same, as no window or path holds one and a
    webhook's secret is in its path. A URL key's value is given with its ``mask``
    (:func:`mask_web_url`, :func:`mask_url`) and shown whole: its host is what its error is about."""
    if setting_looks_secret(text):
        return NOT_SHOWN
    if mask is not None:
        return repr(mask(text))
    if "://" in text:
        text = mask_web_url(text)
        whole_up_to = SHOWN_SETTING_CHARS
    if len(text) <= max(whole_up_to, SHOWN_SETTING_CHARS):
        return repr(text)
    return f"{text[:SHOWN_SETTING_CHARS]!r}… ({len(text)} characters)"


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
    if "@" in (parsed.host or ""):
        # A password holding an unescaped "@": the parser ends it at the first one and the rest of the
        # password reads as part of the host, which would be shown. A host never holds an "@".
        return _mask_url_text(url)
    placeholder = "ORIONMASKED"  # rendered as is (a literal "***" would be percent-encoded), then replaced
    secret = {k: placeholder for k in parsed.query if _secret_param(k)}
    if parsed.password is None and not secret:
        # Nothing to mask: shown as written. Rendered, a path's non-ASCII letters came out percent-encoded
        # (`init` printed sqlite:////data/%C3%BCn/orion.db where `config show` said /data/ün/orion.db).
        return url
    if secret:
        parsed = parsed.update_query_dict(secret)
    return parsed.render_as_string(hide_password=True).replace(placeholder, "***")


# Query (and fragment) parameters of a web URL whose values are credentials, matched in the decoded,
# lower-cased name: api_key=, passwd=, sig=, session=, access_token=, hmac= and the like.
_WEB_SECRET_PARAMS = (*_SECRET_PARAMS, "pass", "pwd", "key", "sig", "auth", "credential", "session", "hmac")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")


def _split_web_url(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme, user part, host[:port], rest)`` of a well-formed ``http``/``https`` URL, else None.

    Well-formed is what the HTTP client will send to without guessing: ASCII without spaces, the
    authority ending at the first "/", "?" or "#", a host name (or an IP literal) and a numeric port.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not url.isascii() or not url.isprintable() \
            or " " in url:
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    user, _at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        import ipaddress  # only for an IP literal: not on every command's start-up

        host, bracket, port = hostport[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
        port = port[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    else:
        host, _colon, port = hostport.partition(":")
        if not _HOST_NAME.fullmatch(host):
            return None
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    return scheme, user if _at else "", hostport, tail


def web_url_ok(url: str) -> bool:
    """Whether ``url`` is an ``http``/``https`` URL with a host that requests can go to as written."""
    return _split_web_url(url) is not None


LOOPBACK_HOSTS = "127.0.0.0/8, ::1, localhost"


def web_url_private(url: str) -> bool:
    """Whether what is sent to ``url`` stays private: ``https``, or plain ``http`` to a loopback host
    (127.0.0.0/8, ``[::1]``, ``localhost``: the venue simulators, a local TLS-terminating proxy). Venue
    requests carry the API key and signatures in their headers; plain http to any other host would send
    them across the network readable to anyone on the way."""
    parts = _split_web_url(url)
    if parts is None:
        return False
    scheme, _user, hostport, _rest = parts
    if scheme.lower() == "https":
        return True
    if hostport.startswith("["):
        import ipaddress  # an IP literal, which _split_web_url has checked already

        return ipaddress.IPv6Address(hostport[1:].partition("]")[0]).is_loopback
    host = hostport.partition(":")[0].lower()
    if host == "localhost":
        return True
    octets = host.split(".")
    return (len(octets) == 4 and octets[0] == "127"
            and all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets))


def _mask_params(text: str, secret_names: tuple[str, ...] = _WEB_SECRET_PARAMS) -> str:
    out = []
    for param in re.split(r"([&;])", text):
        name, eq, _value = param.partition("=")
        secret = eq and any(s in unquote(name).lower() for s in secret_names)
        out.append(f"{name}=***" if secret else param)
    return "".join(out)


def mask_web_url(url: str) -> str:
    """A venue URL for display: ``https://u:pw@h/p?api_key=k`` → ``https://***@h/p?api_key=***``.

    The whole user part goes, not only a password: a proxy or gateway token is often the user name.
    A well-formed URL keeps the rest as written (no re-encoding), so it still reads as configured;
    any other text (a refused value, shown in its error) is masked up to its last "@", wherever the
    user part might be taken to end.
    """
    parts = _split_web_url(url)
    if parts is None:
        head, at, tail = url.rpartition("@")
        scheme = head.partition("://")[0] + "://" if "://" in head else ""
        prefix = f"{scheme}***@" if at else ""
        rest = tail if at else url
    else:
        scheme, user, hostport, rest = parts
        prefix = f"{scheme}://{'***@' if user else ''}{hostport}"
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    # A path segment that looks like a key or token (a gateway's `/k/<token>/clob`) is masked too: a
    # venue URL is recorded in the append-only audit log (config.loaded), where it could never be cleaned.
    path = "/".join("***" if setting_looks_secret(part) else part for part in path.split("/"))
    return f"{prefix}{path}{question}{_mask_params(query)}{hash_}{_mask_params(fragment)}"


def _mask_url_text(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at:
        user, colon, _password = creds.partition(":")
        rest = f"{user}{':***' if colon else ''}@{host}"
    head, question, query = rest.partition("?")
    return f"{scheme}{sep}{head}{question}{_mask_params(query, _SECRET_PARAMS)}"


_MIN_SCRUBBED = 3  # shorter pieces of a password are left: masking every "ab" would garble the text


def url_secrets(url: str) -> list[str]:
    """The secret strings of a database URL, longest first: its password (as the driver reads it, as
    written, and each part of it between "@", ":" and "/" a driver may have cut it at) and the values of
    its secret-named query parameters."""
    if "://" not in url:
        return []
    found: set[str] = set()
    rest = url.partition("://")[2]
    userinfo = rest.rpartition("@")[0]  # as far as any parser may have taken it to reach
    if userinfo:
        raw = userinfo.partition(":")[2]
        found.update((raw, unquote(raw)))
        found.update(re.split(r"[@:/?]", raw))
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        parsed = None
    if parsed is not None:
        if parsed.password:
            found.add(str(parsed.password))
        for key, value in parsed.query.items():
            if _secret_param(key):
                found.update([value] if isinstance(value, str) else value)
    return sorted((s for s in found if len(s) >= _MIN_SCRUBBED), key=len, reverse=True)


def scrub_url_secrets(text: str, url: str) -> str:
    """``text`` (a driver's error message) with every secret of ``url`` in it replaced by ``***``: a
    driver that quotes a host or a database name it parsed out of a mistyped URL quotes part of its
    password with it (``failed to resolve host '2024Secret@127.0.0.1'``)."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text
