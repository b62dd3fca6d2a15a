"""The SAML 2.0 identity provider of the tests, built on pysaml2 (which signs with
Debian's xmlsec1). Run as its own process:

    python tests/identity/saml_idp.py --dir DIR --sp http://testserver,acme [--sp …]

It makes a key and certificate in DIR, listens on a free port of 127.0.0.1, and
prints "listening <port>". Its metadata is at /metadata, its sign-in at /sso
(HTTP-Redirect binding: our AuthnRequest) and its sign-out at /slo. Anyone signs in
with any e-mail address at its login form; the response carries the address as an
emailAddress NameID and as the email attribute, and the assertion is signed.

The login form's hidden ``mode`` field (tests only) makes the answer wrong on
purpose: ``unsigned`` (no signature at all), ``audience`` (for another SP),
``recipient`` (for another ACS URL). Other attacks (a tampered signature, XML
signature wrapping, a replay, an expired assertion) are made by the tests from a
good answer, or by moving the app's clock.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

SP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{base}/sso/saml/{slug}/metadata/">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{base}/sso/saml/{slug}/sls/"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{base}/sso/saml/{slug}/acs/" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""

NS = {
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}


def make_key(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CCM test IdP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "idp.key", folder / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def build_server(base: str, folder: Path, sps: list[tuple[str, str]]) -> Server:
    key_file, cert_file = make_key(folder)
    sp_files = []
    for i, (sp_base, slug) in enumerate(sps):
        path = folder / f"sp{i}.xml"
        path.write_text(SP_METADATA.format(base=sp_base.rstrip("/"), slug=slug))
        sp_files.append(str(path))
    config = IdPConfig()
    config.load(
        {
            "entityid": f"{base}/metadata",
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{base}/sso", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(f"{base}/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "policy": {
                        "default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}
                    },
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    "want_authn_requests_signed": False,
                }
            },
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": sp_files},
        }
    )
    return Server(config=config)


def respond(server: Server, saml_request: str, email: str, mode: str) -> tuple[str, str]:
    """(the ACS URL, the base64 SAMLResponse) for this AuthnRequest."""
    request = server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
    sp_entity_id = request.issuer.text
    acs = request.assertion_consumer_service_url
    name = email.split("@")[0].replace(".", " ").title()
    response = server.create_authn_response(
        {"email": [email], "name": [name]},
        in_response_to=request.id,
        destination=acs,
        sp_entity_id=sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
        sign_assertion=False,
        sign_response=False,
    )
    root = etree.fromstring(str(response).encode())
    assertion = root.find("saml:Assertion", NS)
    if mode == "audience":
        for audience in assertion.iterfind(".//saml:Audience", NS):
            audience.text = "https://another-sp.example/metadata/"
    if mode == "expired":
        past = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        for element in assertion.iter():
            if element.get("NotOnOrAfter"):
                element.set("NotOnOrAfter", past)
    if mode == "recipient":
        for confirmation in assertion.iterfind(".//saml:SubjectConfirmationData", NS):
            confirmation.set("Recipient", acs.replace("/acs/", "/elsewhere/"))
    if mode != "unsigned":
        # A signature template after the assertion's Issuer, then xmlsec1 signs it.
        template = pre_signature_part(
            assertion.get("ID"), sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
        )
        signature = etree.fromstring(str(template).encode())
        assertion.insert(1, signature)
        xml = etree.tostring(root).decode()
        xml = server.sec.sign_statement(
            xml,
            node_name="urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            node_id=assertion.get("ID"),
        )
    else:
        xml = etree.tostring(root).decode()
    return acs, base64.b64encode(xml.encode()).decode()


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def handler_for(server: Server, metadata: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, body: str, status: int = 200, content_type: str = "text/html") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/metadata":
                self._send(metadata, content_type="application/samlmetadata+xml")
            elif url.path == "/sso":
                fields = "".join(
                    f'<input type="hidden" name="{k}" value="{html.escape(query.get(k, ""))}">'
                    for k in ("SAMLRequest", "RelayState")
                )
                self._send(
                    PAGE.format(
                        title="Test IdP sign-in",
                        body=f'<form method="post" action="/login">{fields}'
                        '<input type="hidden" name="mode" value="">'
                        '<label>Email <input type="email" name="email"></label>'
                        '<button type="submit">Sign in</button></form>',
                    )
                )
            elif url.path == "/slo":
                self._send(
                    PAGE.format(title="Signed out at the test IdP", body="<p>Signed out.</p>")
                )
            else:
                self._send("not found", 404, "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path != "/login":
                self._send("not found", 404, "text/plain")
                return
            try:
                acs, saml_response = respond(
                    server, form["SAMLRequest"], form["email"].strip().lower(), form.get("mode", "")
                )
            except Exception as error:
                self._send(f"IdP error: {error!r}", 400, "text/plain")
                return
            relay = html.escape(form.get("RelayState", ""))
            self._send(
                PAGE.format(
                    title="Back to CloudCenter",
                    body=f'<form method="post" action="{html.escape(acs)}">'
                    f'<input type="hidden" name="SAMLResponse" value="{saml_response}">'
                    f'<input type="hidden" name="RelayState" value="{relay}">'
                    '<button type="submit">Continue</button></form>',
                )
            )

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--sp", action="append", default=[], help="base URL,tenant slug")
    args = parser.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    base = f"http://127.0.0.1:{port}"
    sps = [tuple(sp.rsplit(",", 1)) for sp in args.sp]
    server = build_server(base, Path(args.dir), sps)
    metadata = str(entity_descriptor(server.config))
    httpd.RequestHandlerClass = handler_for(server, metadata)
    print(f"listening {port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
