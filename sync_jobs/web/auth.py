"""Who is asking: password hashes, signed session cookies, CSRF tokens, the API token.

Standard library only. Passwords are stored as `scrypt$N$r$p$salt$hash` (hex). A session
cookie is `user|nonce|expires|signature`, signed with HMAC-SHA256 under the configured
secret or a random per-process one. Every session, signed in or not, has a nonce; a
form's CSRF token is the HMAC of that nonce, so a page from another site, which can
neither read the cookie nor compute the token, cannot post a form that is accepted.
Signing in issues a new nonce (no session fixation).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

SESSION_COOKIE = "arlink_session"
SESSION_SECONDS = 8 * 3600
ANONYMOUS = ""  # a session that has not signed in (it still carries a CSRF nonce)
LOCAL_USER = "local"  # everyone on loopback, where no sign-in is asked
API_USER = "api"

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A storable scrypt hash of `password` (`arlink web hash-password` prints one)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (constant-time compare)."""
    try:
        _, n, r, p, salt, expected = stored.split("$")
        digest = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


@functools.cache
def _unknown_user_hash() -> str:
    return hash_password(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session: who (`ANONYMOUS` before sign-in) and its CSRF nonce."""

    user: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Gate:
    """The sign-in policy of one running app."""

    require_login: bool
    users: dict[str, str] = field(default_factory=dict)  # name -> password hash
    api_token: str | None = field(default=None, repr=False)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, user: str) -> tuple[Session, str]:
        """A new session for `user` and its cookie value."""
        session = Session(user, secrets.token_hex(16))
        body = f"{user}|{session.nonce}|{int(time.time()) + SESSION_SECONDS}"
        return session, f"{body}|{self._sign(body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when it is missing, forged or expired."""
        if not cookie or cookie.count("|") != 3:
            return None
        user, nonce, expires, signature = cookie.split("|")
        if not hmac.compare_digest(self._sign(f"{user}|{nonce}|{expires}"), signature):
            return None
        if not expires.isdigit() or int(expires) < time.time():
            return None
        # A loopback session is no sign-in off loopback; a user may have been removed since.
        allowed = self.users if self.require_login else {LOCAL_USER: ""}
        if user != ANONYMOUS and user not in allowed:
            return None
        return Session(user, nonce)

    def csrf_token(self, session: Session) -> str:
        """The token every form of this session carries."""
        return self._sign(f"csrf|{session.nonce}")

    def csrf_ok(self, session: Session | None, token: str) -> bool:
        """Whether a posted form's token is this session's (constant-time compare)."""
        return session is not None and hmac.compare_digest(self.csrf_token(session), token)

    def bearer_ok(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries the configured API token."""
        if self.api_token is None or not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), self.api_token.encode())

    def sign_in(self, user: str, password: str) -> bool:
        """Whether `password` is `user`'s. An unknown user costs the same scrypt, so the
        time taken does not tell which names exist."""
        stored = self.users.get(user)
        matches = verify_password(password, stored or _unknown_user_hash())
        return matches and stored is not None
