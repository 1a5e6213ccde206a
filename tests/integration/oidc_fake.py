"""A small OpenID Connect provider for the tests, on loopback, issuing REAL signed tokens.

A Starlette app under uvicorn in a thread serves discovery, the JWKS (RS256 keys generated
here), an authorize endpoint that signs the configured user in at once and redirects back
with a code, and a token endpoint that checks the client's credentials, the code (once), the
redirect URL and the PKCE verifier before it issues an ID token. Tests bend it to misbehave:
``overrides`` changes claims of the next ID tokens, ``sign_with`` signs with a key it does not
publish, ``rotate()`` replaces the published key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from winback.clock import Clock

CLIENT_ID = "winback-test"
CLIENT_SECRET = "s3cret-client-secret-for-tests"


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    claims: dict[str, Any]


@dataclass
class FakeIssuer:
    clock: Clock
    issuer: str = ""
    published: list[RSAKey] = field(default_factory=lambda: [new_key("key-1")])
    sign_with: RSAKey | OctKey | None = None  # default: the first published key
    algorithm: str = "RS256"
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "00u-ana",
            "preferred_username": "ana",
            "email": "ana@example.com",
            "email_verified": True,
            "roles": ["support-agents"],
        }
    )
    overrides: dict[str, Any] = field(default_factory=dict)
    discovery_extra: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # every token and code handed out
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    jwks_requests: int = 0

    def rotate(self, kid: str) -> RSAKey:
        """Publish a new key only (the old one retired) and sign with it."""
        key = new_key(kid)
        self.published = [key]
        self.sign_with = None
        return key

    def mint(self, claims: dict[str, Any]) -> str:
        key = self.sign_with or self.published[0]
        header = {"alg": self.algorithm, "kid": key.kid, "typ": "JWT"}
        token = jwt.encode(header, claims, key, algorithms=[self.algorithm])
        self.issued.append(token)
        return token

    def id_token_claims(self, grant: Grant) -> dict[str, Any]:
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            **grant.claims,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.overrides)
        return {k: v for k, v in claims.items() if v is not None}

    # -- the endpoints ----------------------------------------------------------------------
    async def discovery(self, _: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                **self.discovery_extra,
            }
        )

    async def jwks(self, _: Request) -> Response:
        self.jwks_requests += 1
        return JSONResponse({"keys": [k.as_dict(private=False) for k in self.published]})

    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        self.authorize_requests.append(q)
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = secrets.token_urlsafe(24)
        self.issued.append(code)
        self.grants[code] = Grant(
            client_id=q["client_id"],
            redirect_uri=q["redirect_uri"],
            nonce=q.get("nonce"),
            challenge=q.get("code_challenge", ""),
            claims=dict(self.user),
        )
        back = {"code": code, "state": q.get("state", "")}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.pop(str(form.get("code")), None)  # a code works once
        if grant is None or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "why": "pkce"}, status_code=400)
        access = secrets.token_urlsafe(24)
        self.issued.append(access)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.mint(self.id_token_claims(grant)),
            },
            headers={"Cache-Control": "no-store"},
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(issuer: FakeIssuer) -> Iterator[FakeIssuer]:
    """Serve ``issuer`` on a loopback port for the duration of the block."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    issuer.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(issuer.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake OpenID provider did not start")
        time.sleep(0.01)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
