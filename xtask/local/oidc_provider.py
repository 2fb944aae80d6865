"""The local environment's OpenID Connect provider: oidc-provider-mock 0.3.4, made as strict
as the providers the kit signs reviewers in with.

oidc-provider-mock issues codes without checking PKCE and refuses public clients; real
providers (Cognito, Entra ID, Okta, Keycloak) verify an S256 code challenge and take public
clients that use one. This launcher adds both to its authorization code grant: every
authorization must carry an S256 `code_challenge`, and the token request the matching
`code_verifier` (RFC 7636, section 4.6), with or without a client secret.

For the tests, it can also issue the ID tokens a provider must never issue, which the kit must
refuse: `PUT /hitl-test/forge` with `{"kind": K}` alters the next ID token the token endpoint
gives (one token, then it is disarmed), K being `audience` (another client's), `issuer`
(another issuer's), `expired`, `none` (`alg: none`, unsigned), `other-key` (signed by a key the
provider does not publish, under its key's `kid`) or `nonce` (another sign-in's); and `thin`, a
token a provider may issue: without `email_verified`, which the kit then reads from UserInfo (as
Okta's org server makes it do). An unverified email needs no forgery: `PUT /users/{sub}` with
`"email_verified": false`.

Run with oidc-provider-mock's own flags: `python oidc_provider.py -H 127.0.0.1 -p 9400 -n true`.
"""

import base64
import json
import sys
import time

import flask

import authlib.oauth2.rfc7636 as rfc7636
import oidc_provider_mock._app as app
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib import jose
from oidc_provider_mock.__main__ import run

# The code challenge (and its method) each authorization code was issued for.
_challenges: dict[str, tuple[str, str]] = {}


class RequiredS256(rfc7636.CodeChallenge):
    """PKCE with S256 only, on every authorization."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE code_challenge (S256) required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, code):
        return _challenges.get(code.code, (None, None))[0]

    def get_authorization_code_challenge_method(self, code):
        return _challenges.get(code.code, (None, None))[1]


class Grant(app.AuthorizationCodeGrant):
    """The mock's grant, for public clients too, remembering each code's challenge."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        _challenges[code] = (data.get("code_challenge"), data.get("code_challenge_method"))
        return super().save_authorization_code(code, request)


app.AuthorizationCodeGrant = Grant
_register_grant = app.flask_oauth2.AuthorizationServer.register_grant


def register_grant(self, grant_cls, extensions=None):
    if grant_cls is Grant:
        extensions = [*(extensions or []), RequiredS256(required=True)]
    return _register_grant(self, grant_cls, extensions)


app.flask_oauth2.AuthorizationServer.register_grant = register_grant

# The next ID token's forgery, armed by a test.
_forgery: list[str] = []
FORGERIES = {"audience", "issuer", "expired", "none", "other-key", "nonce", "thin"}


@app.blueprint.put("/hitl-test/forge")
def arm_forgery():
    kind = (flask.request.get_json(silent=True) or {}).get("kind")
    if kind not in FORGERIES:
        return {"error": f"kind must be one of {sorted(FORGERIES)}"}, 400
    _forgery[:] = [kind]
    return "", 204


@app.blueprint.after_app_request
def forge(response: flask.Response) -> flask.Response:
    if flask.request.path != "/oauth2/token" or response.status_code != 200 or not _forgery:
        return response
    body = response.get_json()
    body["id_token"] = forged(body["id_token"], _forgery.pop())
    response.set_data(json.dumps(body))
    return response


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def forged(token: str, kind: str) -> str:
    """`token` with `kind`'s alteration, signed again (or not at all, for `none`)."""
    header_part, claims_part, _ = token.split(".")
    header, claims = _unb64(header_part), _unb64(claims_part)
    now = int(time.time())
    key = app.storage.jwk
    if kind == "audience":
        claims["aud"] = "another-client"
    elif kind == "issuer":
        claims["iss"] = "https://issuer.invalid"
    elif kind == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif kind == "nonce":
        claims["nonce"] = "another-sign-in"
    elif kind == "other-key":
        key = jose.RSAKey.generate_key(is_private=True)
    elif kind == "thin":
        claims.pop("email_verified", None)
    if kind == "none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    jws = jose.JsonWebSignature()
    payload = json.dumps(claims).encode()
    return jws.serialize_compact(header, payload, key).decode()


if __name__ == "__main__":
    sys.exit(run())
