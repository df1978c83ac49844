#!/usr/bin/env python3
"""A SAML 2.0 identity provider for tests and `make run`, built on pysaml2 (an
independent implementation) and xmlsec1, shaped like AWS IAM Identity Center's
"custom SAML 2.0 application": the subject is the user's e-mail address
(NameID format emailAddress), attribute `groups` lists the user's group ids,
responses and assertions are signed with RSA-SHA256.

  saml_idp.py --port P --users users.json --dir DIR

users.json: {"alice@example.com": {"password": "...", "groups": ["<group id>", ...]}}.
An SP is known by its entity id, which for pgfleet is the URL of its metadata: the IdP
reads it there the first time the SP shows up (so one IdP serves any number of
pgfleets). Endpoints:
  GET  /metadata                    the IdP's metadata (entity id, SSO endpoint, key)
  GET  /sso/redirect?SAMLRequest=   SP-initiated: a sign-in form
  GET  /start?sp=ENTITY_ID          IdP-initiated (the access portal's tile): a sign-in form
  POST /login                       checks the password, posts the Response to the SP's ACS
"""
import argparse
import base64
import html
import json
import re
import os
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import SIG_RSA_SHA256
from saml2.xmldsig import DIGEST_SHA256

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP</title></head>
<body><h1>Test identity provider</h1><p>{what}</p>
<form method="post" action="/login">
<p><label for="username">E-mail</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<input type="hidden" name="request" value="{request}"><input type="hidden" name="relay" value="{relay}">
<input type="hidden" name="sp" value="{sp}">
<p><button type="submit">Sign in at the IdP</button></p></form><p style="color:#b00">{error}</p></body></html>"""

POST = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{acs}">
<input type="hidden" name="SAMLResponse" value="{response}"><input type="hidden" name="RelayState" value="{relay}">
<noscript><button type="submit">Continue</button></noscript></form></body></html>"""


def make_key(d):
    key, cert = os.path.join(d, "idp.key"), os.path.join(d, "idp.crt")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=pgfleet test IdP", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    return key, cert


class Idp:
    def __init__(self, args):
        self.args = args
        self.base = f"http://127.0.0.1:{args.port}"
        self.users = json.load(open(args.users))
        self.key, self.cert = make_key(args.dir)
        self.lock = threading.Lock()
        self.server = Server(config=self.config())
        self.known = set()

    def config(self):
        conf = {
            "entityid": f"{self.base}/metadata",
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [
                    (f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                       "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
                "sign_response": True, "sign_assertion": True,
            }},
            "key_file": self.key, "cert_file": self.cert,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": []},  # SPs are added as they show up
        }
        c = IdPConfig()
        c.load(conf)
        return c

    def know(self, sp_entity_id):
        """Loads an SP's metadata from its entity id (a URL) the first time it shows up."""
        with self.lock:
            if sp_entity_id in self.known:
                return
            if not sp_entity_id.startswith(("http://127.0.0.1", "http://localhost")):
                raise ValueError("this test IdP only serves SPs on this machine")
            path = os.path.join(self.args.dir, f"sp-{len(self.known)}.xml")
            with urllib.request.urlopen(sp_entity_id, timeout=10) as r:
                open(path, "wb").write(r.read())
            self.server.metadata.load("local", path)
            self.known.add(sp_entity_id)

    def metadata(self):
        from saml2.metadata import entity_descriptor
        return str(entity_descriptor(self.config())).encode()

    def response(self, user, request, sp_id):
        srv = self.server
        in_response_to = None
        if request:  # SP-initiated: answer that request; else unsolicited, like the portal tile
            sp_id = request_issuer(request)
            self.know(sp_id)
            in_response_to = srv.parse_authn_request(request, BINDING_HTTP_REDIRECT).message.id
        else:
            self.know(sp_id)
        acs = srv.metadata.assertion_consumer_service(sp_id, BINDING_HTTP_POST)[0]["location"]
        resp = srv.create_authn_response(
            {"email": [user], "groups": self.users[user].get("groups", [])},
            in_response_to, acs, sp_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_response=True, sign_assertion=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return acs, base64.b64encode(str(resp).encode()).decode()


def request_issuer(saml_request):
    """The Issuer of an HTTP-Redirect AuthnRequest (base64 of raw DEFLATE)."""
    xml = zlib.decompress(base64.b64decode(saml_request), -15).decode()
    m = re.search(r"<(?:\w+:)?Issuer[^>]*>([^<]+)</(?:\w+:)?Issuer>", xml)
    if not m:
        raise ValueError("the AuthnRequest has no Issuer")
    return html.unescape(m.group(1).strip())


def handler(idp):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, status, body, ctype="text/html; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/metadata":
                return self.send(200, idp.metadata(), "application/samlmetadata+xml")
            if url.path in ("/sso/redirect", "/start"):
                what = "pgfleet asks who you are." if url.path != "/start" else \
                    "The access portal: sign in to open pgfleet."
                page = PAGE.format(what=what, request=html.escape(q.get("SAMLRequest", "")),
                                   relay=html.escape(q.get("RelayState", "")), sp=html.escape(q.get("sp", "")),
                                   error="")
                return self.send(200, page.encode())
            self.send(404, b"not found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            user, pw = form.get("username", ""), form.get("password", "")
            if self.path != "/login":
                return self.send(404, b"not found")
            if user not in idp.users or idp.users[user].get("password") != pw:
                page = PAGE.format(what="Try again.", request=html.escape(form.get("request", "")),
                                   relay=html.escape(form.get("relay", "")), sp=html.escape(form.get("sp", "")),
                                   error="wrong e-mail or password")
                return self.send(401, page.encode())
            acs, resp = idp.response(user, form.get("request") or None, form.get("sp"))
            self.send(200, POST.format(acs=html.escape(acs), response=resp,
                                       relay=html.escape(form.get("relay", ""))).encode())
    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users", required=True)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    idp = Idp(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), handler(idp))
    print(f"saml idp on {idp.base}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
