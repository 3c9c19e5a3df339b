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
    "FREE_MAIL_DOMAINS",
    "email_domain",
    "is_free_mail",
    "normalize_domain",
    "normalize_email",
]

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.de",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "outlook.de",
        "pm.me",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "tutanota.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.de",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "163.com",
        "126.com",
        "bol.com.br",
        "uol.com.br",
        "libero.it",
        "orange.fr",
        "free.fr",
        "wanadoo.fr",
        "laposte.net",
        "seznam.cz",
        "rediffmail.com",
        "naver.com",
    }
)

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


def is_free_mail(domain: str) -> bool:
    """True for consumer mailbox providers, including their subdomains (``mail.yahoo.com``)."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in FREE_MAIL_DOMAINS for i in range(len(parts) - 1))
