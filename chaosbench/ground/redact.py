"""Secrets out of everything that leaves the process: one function for text, one for data.

``redact(text)`` masks, wherever they appear in a string (an error, a log line, a setting):

- the password of a URL or DSN in URL form, ``scheme://user:PASSWORD@host`` (also with an empty
  user, an IPv6 host, several hosts, several URLs in one string);
- the value of a secret-named key in key=value form (``password=...``, quoted values too, as
  libpq takes them), in a query string (``?token=...&``) and in mapping text
  (``'password': '...'``, ``"api_key": "..."``, a YAML line ``token: ...``).

``redact_data(obj)`` does the same through nested plain data (dicts, lists, tuples) and masks
the whole value of every key named like a secret. The mask is ``***``; the rest of the text is
kept, so a redacted DSN still says which host and database it names.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

#: Names of keys, options and query parameters whose values are secrets.
SECRET_NAME = re.compile(
    r"password|passwd|pwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credential|auth[_-]?key",
    re.I,
)
# A secret-named key: a whole word (never split: a possessive match, so that a long word that
# is no key costs linear time) with a secret name in it, found by a bounded lookahead.
_SECRET_AHEAD = r"(?=[A-Za-z0-9_.-]{0,64}?(?:" + SECRET_NAME.pattern + r"))"
_KEY = _SECRET_AHEAD + r"[A-Za-z0-9_.-]{1,128}+"
_YAML_KEY = _SECRET_AHEAD + r"[A-Za-z0-9_-]{1,128}+"
_VALUE = r"'(?:[^'\\]|\\.)*+'?|\"(?:[^\"\\]|\\.)*+\"?"

# scheme://user:password@ — the password runs to the last @ before the path or a space.
_URL_USERINFO = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.-]{0,31}+://[^:/@\s]{0,256}+:)(?P<pw>[^\s/]*)@", re.I
)
# key=value: libpq style (value quoted with '...' and backslash escapes, or up to a space) and
# query style (up to & ; , or a space).
_KEY_VALUE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_.-])" + _KEY + r"[ \t]*+=[ \t]*+)"
    r"(?P<value>" + _VALUE + r"|[^\s&;,'\"]++)",
    re.I,
)
# 'key': 'value' / "key": "value" (reprs and JSON) and a YAML line "key: value".
_MAPPING = re.compile(
    r"(?P<head>(?:(?P<q>['\"])"
    + _KEY
    + r"(?P=q)[ \t]*+:[ \t]*+|^[ \t-]*+"
    + _YAML_KEY
    + r":[ \t]++))"
    r"(?P<value>" + _VALUE + r"|[^\s,}\]'\"]++)",
    re.I | re.M,
)


def _masked(m: re.Match[str]) -> str:
    value = m["value"]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{m['head']}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """``text`` with every password, token and other secret it contains replaced by ``***``."""
    if not text:
        return text
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}{MASK}@", text)
    text = _KEY_VALUE.sub(_masked, text)
    return _MAPPING.sub(_masked, text)


def is_secret_name(name: str) -> bool:
    """The key, option or parameter ``name`` names a secret (its value is never shown)."""
    return SECRET_NAME.search(name) is not None


def redact_data(obj: Any) -> Any:
    """Nested plain data with secrets masked: values of secret-named keys become ``***``,
    strings are ``redact``-ed, tuples become lists; anything else is returned as it is."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            k: (MASK if isinstance(k, str) and is_secret_name(k) and v else redact_data(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_data(v) for v in obj]
    return obj
