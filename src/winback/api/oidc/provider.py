"""The OpenID Connect relying party: discovery, the authorization request, the code exchange
and the ID token's validation, ending in a verified :class:`OidcIdentity` or a refusal.

The protocol pieces come from Authlib (the authorization URL, PKCE's S256 challenge, the token
request and client authentication, the ID token's OpenID claims rules) and its JOSE library
joserfc (signatures and the JWT registered claims); this module only wires them to httpx and
the injected clock, and decides what Winback accepts:

- **Discovery** (``<issuer>/.well-known/openid-configuration``) is cached for an hour; its
  ``issuer`` must be the configured one exactly (no mix-up between providers).
- **Every sign-in** carries a fresh ``state`` (the browser came back from the sign-in it
  started), a ``nonce`` (the ID token was minted for this sign-in, not replayed) and a PKCE
  verifier (a stolen code is useless without it).
- **The ID token** must be signed by a key of the provider's JWKS with an asymmetric algorithm
  the provider announces (never ``none`` or HMAC); ``iss`` is the issuer, ``aud`` holds the
  client id (and ``azp`` is the client when there are several audiences), ``exp`` is in the
  future and ``iat`` not, within a small leeway, and not older than a sign-in may take;
  ``nonce`` is this sign-in's; ``at_hash``, when present, matches the access token.
- **Key rotation**: the JWKS is cached; a token whose ``kid`` is not in it makes one fresh
  fetch (at most one every :data:`JWKS_MIN_REFRESH_SECONDS`, so forged ``kid`` values cannot
  make Winback hammer the provider).
- **Who it is**: the user name claim must be present; the role comes from the role claim
  through the role map (no mapped role: refused); with allowed domains set, the e-mail must be
  in one of them and not marked unverified.

Refusals are :class:`OidcRefused` (answered 401: nothing is created); a provider that cannot
be reached or answers nonsense is :class:`OidcUnavailable` (503). Neither message carries a
token, a code or a secret.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from winback.clock import Clock
from winback.config import ConfigError, Settings
from winback.identity import ROLES, Principal, Role

log = logging.getLogger(__name__)

DISCOVERY_TTL_SECONDS = 3600
JWKS_TTL_SECONDS = 3600
JWKS_MIN_REFRESH_SECONDS = 30
HTTP_TIMEOUT_SECONDS = 10.0
#: Signature algorithms Winback accepts for ID tokens: asymmetric only. HMAC would make the
#: client secret a signing key; ``none`` is no signature at all.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class OidcRefused(Exception):
    """The sign-in is refused (401); ``code`` says why, ``message`` is safe to show."""

    status = 401

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class OidcUnavailable(OidcRefused):
    """The provider cannot be reached, or answered what is not OpenID Connect (503)."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__("oidc_unavailable", message)


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    """A person the provider vouched for, as Winback will know them."""

    issuer: str
    subject: str
    name: str
    email: str | None
    role: Role

    def principal(self) -> Principal:
        return Principal(kind="user", name=self.name, role=self.role, credential=self.credential)

    @property
    def credential(self) -> str:
        return f"oidc:{self.issuer}"


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """The provider and the rules, validated from :class:`~winback.config.Settings`."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    scopes: tuple[str, ...]
    username_claim: str
    role_claim: str
    role_map: tuple[tuple[str, Role], ...]  # in the order given: the first match wins
    allowed_domains: tuple[str, ...]
    leeway_seconds: int
    login_timeout_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The configuration, or ``None`` when single sign-on is off."""
        if settings.oidc_issuer is None:
            return None
        role_map: list[tuple[str, Role]] = []
        for value, role in settings.oidc_role_map.items():
            if role not in ROLES:
                raise ConfigError(
                    f"WINBACK_OIDC_ROLE_MAP: {value!r} maps to {role!r}, which is not a role "
                    f"(roles: {', '.join(ROLES)})"
                )
            role_map.append((value, role))  # a Role: narrowed by the check above
        assert settings.oidc_client_id
        assert settings.oidc_client_secret
        assert settings.oidc_redirect_url
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            redirect_url=settings.oidc_redirect_url,
            scopes=tuple(settings.oidc_scopes.split()),
            username_claim=settings.oidc_username_claim,
            role_claim=settings.oidc_role_claim,
            role_map=tuple(role_map),
            allowed_domains=settings.oidc_allowed_domains,
            leeway_seconds=settings.oidc_leeway_seconds,
            login_timeout_seconds=settings.oidc_login_timeout_seconds,
        )


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """Where to send the browser, and what the callback must see again."""

    url: str
    state: str
    nonce: str
    verifier: str


class OidcClient:
    """One provider, shared by the process's requests (it caches discovery and keys)."""

    def __init__(self, config: OidcConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self.jwks_fetches = 0  # how often the JWKS was fetched (tests, metrics)

    # -- the provider's documents -----------------------------------------------------------
    async def metadata(self) -> dict[str, Any]:
        now = self._now()
        if self._metadata is None or now - self._metadata_at >= DISCOVERY_TTL_SECONDS:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(url, "discovery document")
            if document.get("issuer") != self.config.issuer:
                raise OidcUnavailable("the discovery document names another issuer")
            for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(field), str):
                    raise OidcUnavailable(f"the discovery document has no {field}")
            self._metadata, self._metadata_at = document, now
        return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        now = self._now()
        stale = self._keys is None or now - self._keys_at >= JWKS_TTL_SECONDS
        if stale or (refresh and now - self._keys_at >= JWKS_MIN_REFRESH_SECONDS):
            metadata = await self.metadata()
            document = await self._get_json(metadata["jwks_uri"], "key set")
            self.jwks_fetches += 1
            try:
                signing = [k for k in document.get("keys", []) if k.get("use", "sig") == "sig"]
                self._keys = KeySet.import_key_set({"keys": signing})
            except (JoseError, ValueError, TypeError, AttributeError) as exc:
                raise OidcUnavailable("the provider's key set cannot be read") from exc
            self._keys_at = now
        assert self._keys is not None
        return self._keys

    # -- the authorization request ----------------------------------------------------------
    async def login_request(self) -> LoginRequest:
        metadata = await self.metadata()
        methods = metadata.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise OidcUnavailable("the provider does not support PKCE with S256")
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            client_id=self.config.client_id,
            response_type="code",
            redirect_uri=self.config.redirect_url,
            scope=list(self.config.scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return LoginRequest(url=url, state=state, nonce=nonce, verifier=verifier)

    # -- the callback -------------------------------------------------------------------------
    async def complete(self, code: str, nonce: str, verifier: str) -> OidcIdentity:
        """Exchange ``code`` and verify the ID token; the identity, or a refusal."""
        tokens = await self._exchange(code, verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcRefused("oidc_invalid_token", "the provider returned no ID token")
        access_token = tokens.get("access_token")
        claims = await self.verify_id_token(
            id_token, nonce, access_token if isinstance(access_token, str) else None
        )
        return self.identity(claims)

    async def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        metadata = await self.metadata()
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.config.redirect_url,
            code_verifier=verifier,
        )
        supported = metadata.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        method = (
            "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        auth = ClientAuth(self.config.client_id, self.config.client_secret, method)
        url, headers, body = auth.prepare("POST", metadata["token_endpoint"], headers, body)
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise OidcUnavailable("the provider's token endpoint cannot be reached") from exc
        if response.status_code in (400, 401):
            # invalid_grant: a code used twice, expired, or not issued for this verifier.
            raise OidcRefused("oidc_code_refused", "the provider refused the sign-in code")
        if response.status_code != 200:
            raise OidcUnavailable(f"the provider's token endpoint answered {response.status_code}")
        try:
            tokens = response.json()
        except ValueError as exc:
            raise OidcUnavailable("the provider's token endpoint answered no JSON") from exc
        if not isinstance(tokens, dict):
            raise OidcUnavailable("the provider's token endpoint answered no JSON object")
        return tokens

    async def verify_id_token(
        self, id_token: str, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The ID token's claims after every check, or :class:`OidcRefused`."""
        metadata = await self.metadata()
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in announced if a in ASYMMETRIC_ALGORITHMS]
        if not algorithms:
            raise OidcUnavailable("the provider announces no asymmetric signing algorithm")
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:  # the provider may have rotated its keys: look again
                token = jwt.decode(
                    id_token, await self._key_set(refresh=True), algorithms=algorithms
                )
        except JoseError as exc:
            log.info("oidc: ID token refused: %s", type(exc).__name__)
            raise OidcRefused(
                "oidc_invalid_token", "the ID token's signature is not valid"
            ) from exc
        except ValueError as exc:  # not even a JWS
            raise OidcRefused("oidc_invalid_token", "the ID token cannot be read") from exc
        options = {
            "iss": {"essential": True, "values": [self.config.issuer]},
            "aud": {"essential": True, "values": [self.config.client_id]},
            "sub": {"essential": True},
        }
        params = {"nonce": nonce, "client_id": self.config.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        now = int(self._now())
        try:
            claims.validate(now=now, leeway=self.config.leeway_seconds)
        except ExpiredTokenError as exc:
            raise OidcRefused("oidc_invalid_token", "the ID token has expired") from exc
        except JoseError as exc:
            claim = getattr(exc, "claim", None) or str(exc)
            log.info("oidc: ID token refused: claim %s", claim)
            raise OidcRefused("oidc_invalid_token", f"the ID token's {claim} is not valid") from exc
        oldest = now - self.config.login_timeout_seconds - self.config.leeway_seconds
        if claims["iat"] < oldest:
            raise OidcRefused("oidc_invalid_token", "the ID token was issued too long ago")
        return dict(claims)

    # -- who it is ----------------------------------------------------------------------------
    def identity(self, claims: dict[str, Any]) -> OidcIdentity:
        """Map verified claims to a Winback user, or refuse."""
        config = self.config
        name = claims.get(config.username_claim)
        if not isinstance(name, str) or not _NAME.match(name):
            raise OidcRefused(
                "oidc_no_username", f"the ID token carries no usable {config.username_claim}"
            )
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) else None
        if config.allowed_domains:
            domain = email.rpartition("@")[2] if email and "@" in email else None
            if domain not in config.allowed_domains or claims.get("email_verified") is False:
                raise OidcRefused(
                    "oidc_domain_not_allowed", "this e-mail domain may not sign in to Winback"
                )
        role = self.role_of(claims)
        if role is None:
            raise OidcRefused("oidc_role_not_mapped", "no Winback role is granted to this user")
        return OidcIdentity(
            issuer=config.issuer, subject=str(claims["sub"]), name=name, email=email, role=role
        )

    def role_of(self, claims: dict[str, Any]) -> Role | None:
        value: Any = claims
        for part in self.config.role_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            carried = {value}
        elif isinstance(value, list):
            carried = {v for v in value if isinstance(v, str)}
        else:
            carried = set()
        if self.config.role_map:
            return next((role for key, role in self.config.role_map if key in carried), None)
        # No map: a claim value that is a role's name is that role (the first in ROLES order).
        return next((role for role in ROLES if role in carried), None)

    # -- plumbing -----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("oidc: the provider's %s cannot be fetched: %s", what, type(exc).__name__)
            raise OidcUnavailable(f"the provider's {what} cannot be fetched") from exc
        if not isinstance(document, dict):
            raise OidcUnavailable(f"the provider's {what} is not a JSON object")
        return document
