"""Identity resolution rules, as pure functions.

A signal names its account by id or by domain, or names a contact by email whose domain
resolves to an account. An unknown company domain starts a new prospect account (the first
anonymous visit starts the memory). Free-mail domains never create or match an account:
``jane@gmail.com`` says nothing about which company Jane buys for.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "FREE_MAIL_BRANDS",
    "FREE_MAIL_DOMAINS",
    "MAX_DOMAIN_CHARS",
    "email_domain",
    "is_free_mail",
    "normalize_domain",
    "normalize_email",
]

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "126.com",
        "163.com",
        "aim.com",
        "bk.ru",
        "bol.com.br",
        "daum.net",
        "email.com",
        "fastmail.com",
        "fastmail.fm",
        "foxmail.com",
        "free.fr",
        "hanmail.net",
        "hey.com",
        "icloud.com",
        "inbox.ru",
        "internet.ru",
        "keemail.me",
        "laposte.net",
        "libero.it",
        "list.ru",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "naver.com",
        "orange.fr",
        "passport.com",
        "pm.me",
        "proton.me",
        "qq.com",
        "rediffmail.com",
        "seznam.cz",
        "sina.com",
        "t-online.de",
        "tuta.com",
        "tuta.io",
        "tutamail.com",
        "tutanota.com",
        "tutanota.de",
        "uol.com.br",
        "wanadoo.fr",
        "web.de",
        "windowslive.com",
        "ya.ru",
        "yeah.net",
        "zoho.com",
        "zohomail.com",
        "zohomail.eu",
    }
    | {
        f"live.{ending}"  # Microsoft's consumer mail under its country domains
        for ending in [
            "at",
            "be",
            "ca",
            "ch",
            "cl",
            "cn",
            "co.kr",
            "co.uk",
            "co.za",
            "com",
            "com.ar",
            "com.au",
            "com.mx",
            "com.my",
            "com.pt",
            "com.sg",
            "de",
            "dk",
            "fi",
            "fr",
            "hk",
            "ie",
            "in",
            "it",
            "jp",
            "nl",
            "no",
            "ru",
            "se",
        ]
    }
)
"""Free-mail domains named one by one; see :data:`FREE_MAIL_BRANDS` for whole families."""

FREE_MAIL_BRANDS: frozenset[str] = frozenset(
    {
        "aol",
        "gmail",
        "gmx",
        "googlemail",
        "hotmail",
        "outlook",
        "protonmail",
        "rocketmail",
        "yahoo",
        "yandex",
        "ymail",
    }
)
"""Mailbox brands that are free mail under every public ending: ``yahoo.com``, ``yahoo.es``,
``yahoo.co.in``, ``yahoo.com.br``, ``hotmail.fr``, ``gmx.at``, ``yandex.kz``…"""

# The second-level labels under which countries register names (``co.uk``, ``com.br``).
_COUNTRY_SECOND_LEVEL = frozenset({"ac", "co", "com", "gen", "ne", "net", "or", "org"})

MAX_DOMAIN_CHARS = 128
"""Longest domain accepted: an account started from a domain takes it as its id."""

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


@lru_cache(maxsize=65_536)  # a feed names the same few thousand domains again and again
def normalize_domain(value: str) -> str:
    """``https://www.Acme.com/pricing`` → ``acme.com``; raises ``ValueError`` if it isn't one."""
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    if len(text) > MAX_DOMAIN_CHARS and _DOMAIN.match(text):
        raise ValueError(
            f"domain `{text[:40]}…` is {len(text)} characters long, over the "
            f"{MAX_DOMAIN_CHARS}-character limit (an account started from a domain takes it as "
            "its id)"
        )
    if not _DOMAIN.match(text):
        raise ValueError(f"`{value}` is not a domain name (expected something like acme.com)")
    return text


@lru_cache(maxsize=65_536)
def normalize_email(value: str) -> str:
    text = value.strip().lower()
    if not _EMAIL.match(text):
        raise ValueError(f"`{value}` is not an email address")
    normalize_domain(text.rsplit("@", 1)[1])
    return text


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


@lru_cache(maxsize=65_536)
def is_free_mail(domain: str) -> bool:
    """True for consumer mailbox providers, including their subdomains (``mail.yahoo.com``)
    and every country domain of the brands in :data:`FREE_MAIL_BRANDS` (``yahoo.com.br``)."""
    parts = domain.split(".")
    for i in range(len(parts) - 1):
        if ".".join(parts[i:]) in FREE_MAIL_DOMAINS:
            return True
        if parts[i] in FREE_MAIL_BRANDS and _is_public_ending(parts[i + 1 :]):
            return True
    return False


def _is_public_ending(labels: list[str]) -> bool:
    """``es``, ``com``, ``co.in``, ``com.br``: an ending under which anyone registers names."""
    if len(labels) == 1:
        return True
    return len(labels) == 2 and labels[0] in _COUNTRY_SECOND_LEVEL and len(labels[1]) == 2
