"""The local environment's OpenID Connect provider: oidc-provider-mock 0.3.4, made as strict
as the providers the kit signs reviewers in with.

oidc-provider-mock issues codes without checking PKCE and refuses public clients; real
providers (Cognito, Entra ID, Okta, Keycloak) verify an S256 code challenge and take public
clients that use one. This launcher adds both to its authorization code grant: every
authorization must carry an S256 `code_challenge`, and the token request the matching
`code_verifier` (RFC 7636, section 4.6), with or without a client secret.

Run with oidc-provider-mock's own flags: `python oidc_provider.py -H 127.0.0.1 -p 9400 -n true`.
"""

import sys

import authlib.oauth2.rfc7636 as rfc7636
import oidc_provider_mock._app as app
from authlib.oauth2.rfc6749 import InvalidRequestError
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

if __name__ == "__main__":
    sys.exit(run())
