"""A hostile OpenID provider: it answers a sign-in with whatever ID token a test asks
for (wrong nonce, issuer, audience, expired, unsigned "alg: none", signed by a key
that is not its own, HMAC with its public key, none at all), or sends the browser back with a
state it made up. oidc-provider never does such things, which is why this one
exists. It runs in a thread of the test process on a free port of 127.0.0.1 (its
discovery document, keys, token and userinfo endpoints are real HTTP, read by the
app as any provider's are), and is shut down when the test ends."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "hostile-client"


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class HostileProvider:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.mode = ""
        self.email = "eve@acme.example"
        self.last_nonce = ""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def jwk(self) -> dict:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {**public, "kid": "k1", "alg": "RS256", "use": "sig"}

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": CLIENT_ID,
            "sub": self.email,
            "email": self.email,
            "iat": now,
            "exp": now + 300,
            "nonce": self.last_nonce,
        }
        mode = self.mode
        if mode == "wrong_nonce":
            claims["nonce"] = "not-the-one-we-sent"
        elif mode == "no_nonce":
            del claims["nonce"]
        elif mode == "wrong_issuer":
            claims["iss"] = "https://evil.example"
        elif mode == "wrong_audience":
            claims["aud"] = "another-client"
        elif mode == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        if mode == "alg_none":
            header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
            return f"{header}.{_b64(json.dumps(claims).encode())}."
        if mode == "hs256_with_public_key":
            secret = json.dumps(self.jwk()).encode()
            return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": "k1"})
        key = self.other_key if mode == "wrong_key" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": provider.base,
                            "authorization_endpoint": f"{provider.base}/authorize",
                            "token_endpoint": f"{provider.base}/token",
                            "jwks_uri": f"{provider.base}/jwks",
                            "userinfo_endpoint": f"{provider.base}/userinfo",
                            "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        }
                    )
                elif url.path == "/jwks":
                    self._json({"keys": [provider.jwk()]})
                elif url.path == "/userinfo":
                    self._json({"sub": provider.email, "email": provider.email})
                elif url.path == "/authorize":
                    provider.last_nonce = query.get("nonce", "")
                    state = "forged-state" if provider.mode == "wrong_state" else query["state"]
                    back = f"{query['redirect_uri']}?{urlencode({'code': 'c0de', 'state': state})}"
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.end_headers()
                else:
                    self.send_response(404)
                    self.end_headers()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if urlparse(self.path).path == "/token":
                    answer = {"access_token": "at", "token_type": "Bearer", "expires_in": 300}
                    if provider.mode != "no_id_token":
                        answer["id_token"] = provider.id_token()
                    self._json(answer)
                else:
                    self.send_response(404)
                    self.end_headers()

        return Handler
