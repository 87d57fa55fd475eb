"""Access tokens as IBM Cloud IAM issues them: signed JWTs that expire, checked on every request.

A server makes a fresh secret when it starts and signs each token with it (HMAC-SHA256,
through PyJWT, which ibm-cloud-sdk-core already uses to read tokens), so a token written
by anyone else, an unsigned one (``alg: none``) or one of another server is refused. A
token carries ``iat`` and ``exp`` in wall seconds, as IAM's do: ibm-cloud-sdk-core's
``IAMTokenManager`` reads both (without checking the signature, as it must not know the
key) and asks for a new token once 80% of the lifetime has passed, so the unmodified
client never sends an expired one; any other client gets a 401 in IBM's body after ``exp``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

ISSUER = "qsession-iam"
LIFETIME_S = 3600
"""IAM's access tokens live an hour (``expires_in: 3600``)."""
MAX_TOKEN_CHARS = 8192
"""Longer than any token this IAM issues (about 300 characters; IBM's are about 1,500):
anything longer is refused before it is decoded."""
ALGORITHM = "HS256"


class TokenRejected(ValueError):
    """A bearer token this server did not issue, or one that expired; the reason says which."""


@dataclass
class Tokens:
    """The server's token issuer and checker: one secret, one lifetime, a wall clock."""

    lifetime_s: float = LIFETIME_S
    clock: Callable[[], float] = time.time
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    issued: int = 0
    """Tokens issued so far (a client that refreshes asks again)."""

    def __post_init__(self) -> None:
        if not self.lifetime_s > 0:
            raise ValueError(f"a token lifetime must be > 0 seconds, not {self.lifetime_s!r}")

    def issue(self, subject: str) -> dict[str, Any]:
        """IAM's answer to ``POST /identity/token``: a signed access token and its lifetime."""
        now = int(self.clock())
        lifetime = max(1, round(self.lifetime_s))
        claims = {"iam_id": f"iam-{subject}", "sub": subject, "iat": now,
                  "exp": now + lifetime, "iss": ISSUER, "jti": secrets.token_hex(8)}
        self.issued += 1
        token = jwt.encode(claims, self.secret, algorithm=ALGORITHM)
        return {"access_token": token, "refresh_token": "not_supported",
                "token_type": "Bearer", "expires_in": lifetime, "expiration": now + lifetime,
                "scope": "ibm openid"}

    def check(self, token: str) -> dict[str, Any]:
        """The claims of a valid token of this server; ``TokenRejected`` saying why not."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected(f"the token is {len(token)} characters long; this IAM's "
                                f"tokens are under {MAX_TOKEN_CHARS}")
        try:
            # The lifetime is checked below, against this issuer's clock (a test's may be
            # a fake one); PyJWT checks the signature, the issuer and that the claims exist.
            claims: dict[str, Any] = jwt.decode(
                token, self.secret, algorithms=[ALGORITHM], issuer=ISSUER,
                options={"require": ["exp", "iat", "iss"], "verify_exp": False,
                         "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise TokenRejected("the token's signature is not this server's: tokens come "
                                "from this server's IAM (POST /identity/token)") from None
        except (jwt.InvalidTokenError, RecursionError, ValueError) as err:
            raise TokenRejected(f"the token is not one this server's IAM issued ({err})"
                                ) from None
        expiry = claims["exp"]
        if isinstance(expiry, bool) or not isinstance(expiry, int | float):
            raise TokenRejected(f"the token's exp is {expiry!r:.40}, not a time")
        if self.clock() >= expiry:
            raise TokenRejected("the token has expired: ask IAM for a new one "
                                "(POST /identity/token)")
        return claims
