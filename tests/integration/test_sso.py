"""Single sign-on against real identity providers: a SAML IdP built on pysaml2 and
xmlsec1, shaped like IAM Identity Center (e-mail subject, group ids resolved through
moto's Identity Store), and panva's oidc-provider. People sign in through each in
headless Chromium; every attack of the issue is refused with a page and an audit entry:
unsigned, another key's signature, signature wrapping, expired, not yet valid, another
audience or recipient, replay, an answer to a request never sent; ID tokens with alg
none, HS256 keyed with the public key, another aud, iss or nonce, expired, an unknown
key; a state that is not the browser's; return URLs to other sites."""
import base64
import datetime
import hashlib
import hmac
import html
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

from awshelp import BASE_ENV, LocalServer
from conftest import AUTH_KEY, ROOT, SECRETS, free_port, wait_for

IDP_DIR = ROOT / "scripts" / "idp"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
STORE_ID = "d-9067230000"
USERS = {"ada@example.com": ("ada-idp-password-1", "pgfleet-admins"),
         "otto@example.com": ("otto-idp-password-1", "pgfleet-operators"),
         "vera@example.com": ("vera-idp-password-1", "pgfleet-viewers"),
         "nemo@example.com": ("nemo-idp-password-1", "other-team")}
ROLE_MAP = "pgfleet-admins=admin,pgfleet-operators=operator,pgfleet-viewers=viewer"
OIDC_SECRET = "pgfleet-oidc-client-secret-01"
SECRETS.update([pw for pw, _ in USERS.values()] + [OIDC_SECRET])


def page_message(r):
    m = re.search(r'id="page-message"[^>]*>([^<]*)<', r.text)
    return html.unescape(m.group(1)) if m else r.text[:300]


# ---- the identity providers ----

@pytest.fixture(scope="module")
def groups(moto):
    """IAM Identity Center groups in moto's Identity Store: name -> id."""
    c = moto.client("identitystore")
    return {name: c.create_group(IdentityStoreId=STORE_ID, DisplayName=name)["GroupId"]
            for name in {g for _, g in USERS.values()}}


@pytest.fixture(scope="module")
def saml_idp(groups, tmp_path_factory):
    d = tmp_path_factory.mktemp("saml-idp")
    users = {u: {"password": pw, "groups": [groups[g]]} for u, (pw, g) in USERS.items()}
    (d / "users.json").write_text(json.dumps(users))
    port = free_port()
    proc = subprocess.Popen([PYTHON, str(IDP_DIR / "saml_idp.py"), "--port", str(port), "--users",
                             str(d / "users.json"), "--dir", str(d)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(url + "/metadata", timeout=1).status_code == 200, timeout=30,
             what="the SAML IdP")
    yield {"url": url, "metadata": url + "/metadata", "dir": d,
           "key": str(d / "idp.key"), "cert": str(d / "idp.crt")}
    proc.terminate()
    proc.wait(10)


def start_oidc_provider(workdir, public_url):
    users = {u: {"password": pw, "groups": [g]} for u, (pw, g) in USERS.items()}
    path = os.path.join(workdir, "oidc-users.json")
    open(path, "w").write(json.dumps(users))
    port = free_port()
    proc = subprocess.Popen(["node", str(IDP_DIR / "oidc_provider.mjs"), str(port), path, "pgfleet",
                             OIDC_SECRET, public_url + "/auth/oidc/callback", public_url + "/login"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(issuer + "/.well-known/openid-configuration", timeout=1).ok,
             timeout=30, what="the OIDC provider")
    return proc, issuer


@pytest.fixture
def sso(daemon_factory, redis, moto, saml_idp, workdir):
    """Makes a daemon signing in through both providers (settings may be overridden)."""
    procs = []

    def make(oidc_issuer=None, **env):
        d = daemon_factory(start=False)
        public = f"http://127.0.0.1:{d.port}"
        if oidc_issuer is None:
            proc, oidc_issuer = start_oidc_provider(workdir, public)
            procs.append(proc)
        d.env.update({**BASE_ENV, "AWS_ENDPOINT_URL": moto.url, "PGFLEET_REDIS_URL": redis.url,
                      "AUTH_KEY": AUTH_KEY, "PGFLEET_PUBLIC_URL": public,
                      "PGFLEET_USERS_SECRET": f"pgfleet/none-{uuid.uuid4().hex[:6]}",
                      "PGFLEET_SAML_IDP_METADATA": saml_idp["metadata"],
                      "PGFLEET_SSO_ROLE_MAP": ROLE_MAP, "PGFLEET_SSO_IDENTITY_STORE_ID": STORE_ID,
                      "PGFLEET_OIDC_ISSUER": oidc_issuer, "PGFLEET_OIDC_CLIENT_ID": "pgfleet",
                      "PGFLEET_OIDC_CLIENT_SECRET": OIDC_SECRET,
                      "PGFLEET_OIDC_SCOPES": "openid email groups", **env})
        d.env = {k: v for k, v in d.env.items() if v is not None}
        d.start()
        wait_for(lambda: "saml: identity provider" in d.logs(), timeout=10, what="IdP metadata read")
        d.public = public
        return d

    yield make
    for p in procs:
        p.terminate()
        p.wait(10)


def audit(d):
    return d.get("/api/audit?action=login&limit=100", auth=True).json()["entries"] + \
        d.get("/api/audit?action=login_failed&limit=100", auth=True).json()["entries"]


def failures(d):
    return d.get("/api/audit?action=login_failed&limit=100", auth=True).json()["entries"]


# ---- in a browser ----

SAML_BUTTON = ("AWS IAM Identity Center", "Sign in at the IdP")
OIDC_BUTTON = ("OpenID Connect", "Sign in at the provider")


def through_provider(page, button, user):
    """From pgfleet's sign-in page: the provider's button, then its own form."""
    page.get_by_role("link", name=button[0]).click()
    page.get_by_label("E-mail").fill(user)
    page.get_by_label("Password").fill(USERS[user][0])
    page.get_by_role("button", name=button[1]).click()


def test_saml_sign_in_in_a_browser_lands_with_the_mapped_role(sso, browser):
    d = sso()
    page = browser.new_page()
    page.goto(d.public + "/")
    page.wait_for_url("**/login?next=%2F")
    through_provider(page, SAML_BUTTON, "ada@example.com")
    page.wait_for_url(d.public + "/")
    page.locator("#who").filter(has_text="ada@example.com · admin (saml)").wait_for()
    # the group came as an id; its name (pgfleet-admins) gave the role, through the Identity Store
    assert any(e["user"] == "ada@example.com" and e["method"] == "saml" and e["role"] == "admin"
               for e in audit(d))
    page.close()


def test_idp_initiated_sign_in_from_the_portal_tile(sso, saml_idp, browser):
    d = sso()
    page = browser.new_page()
    sp = urllib.parse.quote(d.public + "/auth/saml/metadata", safe="")
    page.goto(f"{saml_idp['url']}/start?sp={sp}")
    page.get_by_label("E-mail").fill("vera@example.com")
    page.get_by_label("Password").fill(USERS["vera@example.com"][0])
    page.get_by_role("button", name="Sign in at the IdP").click()
    page.wait_for_url(d.public + "/")
    page.locator("#who").filter(has_text="vera@example.com · viewer (saml)").wait_for()
    page.close()


def test_oidc_sign_in_in_a_browser_and_the_providers_logout(sso, browser):
    d = sso()
    page = browser.new_page()
    page.goto(d.public + "/login?next=%2F")
    through_provider(page, OIDC_BUTTON, "otto@example.com")
    page.wait_for_url(d.public + "/")
    page.locator("#who").filter(has_text="otto@example.com · operator (oidc)").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?signed_out=oidc")
    link = page.locator("#provider-logout")
    link.wait_for()
    assert link.get_attribute("href").startswith(d.env["PGFLEET_OIDC_ISSUER"] + "/session/end?")
    assert "post_logout_redirect_uri=" + urllib.parse.quote(d.public + "/login", safe="") in \
        link.get_attribute("href")
    page.goto(d.public + "/")
    page.wait_for_url("**/login?next=%2F")
    page.close()


def test_a_user_without_a_mapped_group_gets_a_page_that_says_why(sso, browser):
    d = sso()
    page = browser.new_page()
    page.goto(d.public + "/login")
    through_provider(page, SAML_BUTTON, "nemo@example.com")
    page.get_by_role("heading", name="Signed in, but no access").wait_for()
    assert "none of their groups" in page.locator("#page-message").inner_text()
    assert "PGFLEET_SSO_ROLE_MAP" in page.locator("#page-hint").inner_text()
    assert any(e["user"] == "nemo@example.com" and e["result"] == "denied" for e in failures(d))
    page.close()


# ---- SAML attacks: Responses made by hand, signed by xmlsec1 ----

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def ts(offset=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def sig_template(ref):
    return (f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f'<ds:Reference URI="#{ref}"><ds:Transforms>'
            f'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
            f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
            f'<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>'
            f'<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>')


def xmlsec_sign(xml, key, cert, tag, tmp):
    src, out = os.path.join(tmp, "in.xml"), os.path.join(tmp, "out.xml")
    open(src, "w").write(xml)
    p = subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{key},{cert}", "--id-attr:ID", tag,
                        "--output", out, src], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return open(out).read().split("?>", 1)[-1].strip()


def other_key(tmp):
    key, cert = os.path.join(tmp, "evil.key"), os.path.join(tmp, "evil.crt")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=not the IdP", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    return key, cert


def assertion_xml(d, idp, user, aid, in_response_to=None, audience=None, recipient=None,
                  not_before=-5, not_after=300, group=None, signed=True):
    acs = d.public + "/auth/saml/acs"
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    sig = sig_template(aid) if signed else ""
    return (f'<saml:Assertion xmlns:saml="{SAML}" ID="{aid}" Version="2.0" IssueInstant="{ts()}">'
            f'<saml:Issuer>{idp["metadata"]}</saml:Issuer>{sig}'
            f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:'
            f'emailAddress">{user}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:'
            f'names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter='
            f'"{ts(not_after)}" Recipient="{recipient or acs}"{irt}/></saml:SubjectConfirmation>'
            f'</saml:Subject><saml:Conditions NotBefore="{ts(not_before)}" NotOnOrAfter='
            f'"{ts(not_after)}"><saml:AudienceRestriction><saml:Audience>'
            f'{audience or d.public + "/auth/saml/metadata"}</saml:Audience>'
            f'</saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant='
            f'"{ts()}" SessionIndex="s-{aid}"><saml:AuthnContext><saml:AuthnContextClassRef>'
            f'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'
            f'</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>'
            f'<saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>'
            f'{group}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>'
            f'</saml:Assertion>')


def response_xml(d, idp, assertions, rid, in_response_to=None, destination=None, signed=False):
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    sig = sig_template(rid) if signed else ""
    return (f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
            f'IssueInstant="{ts()}" Destination="{destination or d.public + "/auth/saml/acs"}"{irt}>'
            f'<saml:Issuer>{idp["metadata"]}</saml:Issuer>{sig}<samlp:Status><samlp:StatusCode '
            f'Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            f'{"".join(assertions)}</samlp:Response>')


class Forge:
    """Responses as an attacker (or the real IdP's key, for the controls) makes them."""

    def __init__(self, d, idp, groups, tmp):
        self.d, self.idp, self.groups, self.tmp = d, idp, groups, tmp

    def assertion(self, user="ada@example.com", key=None, signed=True, **kw):
        aid = "_a" + uuid.uuid4().hex
        xml = assertion_xml(self.d, self.idp, user, aid, group=self.groups["pgfleet-admins"],
                            signed=signed, **kw)
        if signed:
            k, c = key or (self.idp["key"], self.idp["cert"])
            xml = xmlsec_sign(xml, k, c, f"{SAML}:Assertion", self.tmp)
        return xml

    def response(self, assertions, sign_with=None, **kw):
        rid = "_r" + uuid.uuid4().hex
        xml = response_xml(self.d, self.idp, assertions, rid, signed=sign_with is not None, **kw)
        if sign_with:
            xml = xmlsec_sign(xml, sign_with[0], sign_with[1], f"{SAMLP}:Response", self.tmp)
        return base64.b64encode(xml.encode()).decode()

    def post(self, response, relay=None, cookies=None):
        form = {"SAMLResponse": response}
        if relay is not None:
            form["RelayState"] = relay
        return requests.post(self.d.public + "/auth/saml/acs", data=form, allow_redirects=False,
                             headers={"Origin": self.idp["url"]}, cookies=cookies, timeout=30)


@pytest.fixture
def forge(sso, saml_idp, groups, workdir):
    return Forge(sso(), saml_idp, groups, workdir)


def refused(r, words, status=400):
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert "set-cookie" not in {k.lower() for k in r.headers} or "pgfleet_session=;" in \
        r.headers.get("set-cookie", "")
    msg = page_message(r)
    assert words in msg, msg
    return msg


def test_a_forged_assertion_signed_by_the_idp_key_is_the_control(forge):
    r = forge.post(forge.response([forge.assertion()]))
    assert r.status_code == 303 and r.headers["location"] == "/", page_message(r)
    assert "pgfleet_session=" in r.headers["set-cookie"]


def test_saml_attacks_are_refused_with_a_page_and_an_audit_entry(forge, workdir):
    f, d = forge, forge.d
    evil = other_key(workdir)
    real = (f.idp["key"], f.idp["cert"])
    cases = [
        ("unsigned", f.response([f.assertion(signed=False)]), "not signed"),
        ("another key", f.response([f.assertion(key=evil)]), "not signed"),
        ("response by another key", f.response([f.assertion(signed=False)], sign_with=evil),
         "not signed"),
        ("expired", f.response([f.assertion(not_before=-900, not_after=-300)]), "expired"),
        ("not yet valid", f.response([f.assertion(not_before=600, not_after=900)]),
         "not valid yet"),
        ("wrong audience", f.response([f.assertion(audience="https://other.example/sp")]),
         "another audience"),
        ("wrong recipient", f.response([f.assertion(recipient="https://other.example/acs")]),
         "another recipient"),
        ("wrong destination", f.response([f.assertion()], destination="https://other.example/acs"),
         "addressed to"),
        ("unknown request", f.response([f.assertion(in_response_to="_never-sent")],
                                       in_response_to="_never-sent"), "RelayState"),
    ]
    for name, response, words in cases:
        refused(f.post(response), words)
    # signature wrapping: the signed assertion kept, a forged one added beside it
    signed = f.assertion(user="vera@example.com")
    forged = f.assertion(user="ada@example.com", signed=False)
    for pair in ([forged, signed], [signed, forged]):
        msg = refused(f.post(f.response(pair)), "")
        assert "not signed" in msg or "exactly one assertion" in msg, msg
    # even when the response itself is signed by the IdP, two assertions are one too many
    refused(f.post(f.response([signed, f.assertion(user="ada@example.com")], sign_with=real)),
            "exactly one assertion")
    # ... or the signed one tucked away in Extensions and a forged one, same ID, in its place
    aid = re.search(r'ID="([^"]+)"', signed).group(1)
    forged_same_id = re.sub(r'ID="[^"]+"', f'ID="{aid}"', forged, count=1)
    wrapped = response_xml(d, f.idp, [forged_same_id], "_r" + uuid.uuid4().hex)
    wrapped = wrapped.replace("<samlp:Status>", f"<samlp:Extensions>{signed}</samlp:Extensions>"
                              "<samlp:Status>", 1)
    r = f.post(base64.b64encode(wrapped.encode()).decode())
    assert r.status_code == 400 and "pgfleet_session=" not in r.headers.get("set-cookie", "")
    # a response signed over a signed assertion, by the IdP: accepted (the control)
    ok = f.post(f.response([f.assertion()], sign_with=real))
    assert ok.status_code == 303
    # each refusal is in the trail, with its reason
    reasons = [e["detail"]["reason"] for e in failures(d)]
    assert len(reasons) >= len(cases) + 4, reasons
    for _, _, words in cases:
        assert any(words in r for r in reasons), (words, reasons)


def test_an_assertion_is_used_once(forge):
    response = forge.response([forge.assertion()])
    assert forge.post(response).status_code == 303
    refused(forge.post(response), "already used")
    assert any("replay" in e["detail"]["reason"] for e in failures(forge.d))


def test_return_urls_stay_on_this_site(forge):
    f = forge
    for relay in ("https://evil.test/x", "//evil.test/x", "/\\evil.test", "javascript:alert(1)"):
        r = f.post(f.response([f.assertion()]), relay=relay)
        assert r.status_code == 303 and r.headers["location"] == "/", (relay, r.headers)
    r = f.post(f.response([f.assertion()]), relay="/api/databases?x=1")
    assert r.headers["location"] == "/api/databases?x=1"
    # SP-initiated: next is kept with the state, checked the same way
    r = requests.get(f.d.public + "/auth/saml/login?next=https://evil.test", allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f.idp["url"])


def test_sp_metadata_and_sp_initiated_round_trip(sso, saml_idp):
    d = sso()
    md = requests.get(d.public + "/auth/saml/metadata").text
    assert f'entityID="{d.public}/auth/saml/metadata"' in md
    assert f'Location="{d.public}/auth/saml/acs"' in md and 'WantAssertionsSigned="true"' in md
    r = requests.get(d.public + "/auth/saml/login?next=/api/auth/status", allow_redirects=False)
    loc = urllib.parse.urlparse(r.headers["location"])
    q = urllib.parse.parse_qs(loc.query)
    assert loc.path == "/sso/redirect" and q["SAMLRequest"] and len(q["RelayState"][0]) == 43
    # the state is single-use: a second answer to the same request is refused
    s = requests.Session()
    page = s.get(r.headers["location"]).text
    form = {k: re.search(rf'name="{k}" value="([^"]*)"', page).group(1) for k in ("request", "relay", "sp")}
    form = {k: v.replace("&amp;", "&") for k, v in form.items()}
    out = s.post(saml_idp["url"] + "/login", data={**form, "username": "otto@example.com",
                                                    "password": USERS["otto@example.com"][0]})
    resp = re.search(r'name="SAMLResponse" value="([^"]*)"', out.text).group(1)
    first = s.post(d.public + "/auth/saml/acs", data={"SAMLResponse": resp, "RelayState": form["relay"]},
                   allow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/api/auth/status"
    assert s.get(d.public + "/api/auth/status").json()["role"] == "operator"
    again = requests.post(d.public + "/auth/saml/acs", data={"SAMLResponse": resp,
                                                             "RelayState": form["relay"]},
                          allow_redirects=False)
    refused(again, "already finished")


# ---- OIDC attacks: a provider that hands out forged ID tokens ----

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EvilProvider:
    """Discovery, JWKS, authorize and token endpoints; the token endpoint answers whatever
    ID token the test set."""

    def __init__(self, workdir):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.next_token = None
        self.server = LocalServer(self.handle)
        self.issuer = f"http://127.0.0.1:{self.server.port}"

    def jwk(self):
        n = self.key.public_key().public_numbers()
        as_b64 = lambda i: b64url(i.to_bytes((i.bit_length() + 7) // 8, "big"))  # noqa: E731
        return {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": as_b64(n.n),
                "e": as_b64(n.e)}

    def handle(self, h, body):
        path = urllib.parse.urlparse(h.path).path
        j = {"Content-Type": "application/json"}
        if path == "/.well-known/openid-configuration":
            doc = {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                   "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks"}
            return 200, j, json.dumps(doc).encode()
        if path == "/jwks":
            return 200, j, json.dumps({"keys": [self.jwk()]}).encode()
        if path == "/token":
            return 200, j, json.dumps({"access_token": "x", "token_type": "Bearer",
                                       "id_token": self.next_token}).encode()
        return 404, {}, b"not found"

    def sign(self, claims, alg="RS256", key=None, kid="k1"):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
        signing = (b64url(json.dumps(header).encode()) + "." +
                   b64url(json.dumps(claims).encode())).encode()
        if alg == "none":
            sig = b""
        elif alg == "HS256":
            sig = hmac.new(self.public_pem, signing, hashlib.sha256).digest()
        else:
            sig = (key or self.key).sign(signing, padding.PKCS1v15(), hashes.SHA256())
        return signing.decode() + "." + b64url(sig)

    def claims(self, nonce, **over):
        now = int(time.time())
        c = {"iss": self.issuer, "aud": "pgfleet", "sub": "u1", "email": "otto@example.com",
             "groups": ["pgfleet-operators"], "nonce": nonce, "iat": now, "exp": now + 300}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}


@pytest.fixture
def evil(sso, workdir):
    e = EvilProvider(workdir)
    d = sso(oidc_issuer=e.issuer)
    e.d = d
    yield e
    e.server.httpd.shutdown()


def start_oidc(d, next_path="/"):
    r = requests.get(d.public + "/auth/oidc/login?next=" + urllib.parse.quote(next_path, safe=""),
                     allow_redirects=False)
    assert r.status_code == 303, r.text
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).query)
    cookie = r.cookies.get("pgfleet_sso")
    assert cookie == q["state"][0] and q["code_challenge_method"] == ["S256"]
    return q["state"][0], q["nonce"][0], cookie


def callback(d, state, cookie, code="c"):
    return requests.get(d.public + "/auth/oidc/callback", params={"code": code, "state": state},
                        cookies={"pgfleet_sso": cookie} if cookie else None, allow_redirects=False,
                        timeout=30)


def test_oidc_id_token_attacks_are_refused(evil):
    e, d = evil, evil.d
    now = int(time.time())
    cases = [
        ("alg none", lambda n: e.sign(e.claims(n), alg="none"), "algorithm none"),
        ("HS256 keyed with the public key", lambda n: e.sign(e.claims(n), alg="HS256"),
         "algorithm HS256"),
        ("another audience", lambda n: e.sign(e.claims(n, aud="someone-else")), "another client"),
        ("another issuer", lambda n: e.sign(e.claims(n, iss="https://evil.test")), "another issuer"),
        ("another nonce", lambda n: e.sign(e.claims("not-the-nonce")), "nonce"),
        ("expired", lambda n: e.sign(e.claims(n, iat=now - 900, exp=now - 600)), "expired"),
        ("a key not in the JWKS", lambda n: e.sign(e.claims(n), key=e.other, kid="k9"),
         "has no RS256 key"),
        ("forged signature", lambda n: e.sign(e.claims(n), key=e.other), "does not verify"),
    ]
    for name, token, words in cases:
        state, nonce, cookie = start_oidc(d)
        e.next_token = token(nonce)
        r = callback(d, state, cookie)
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
        assert words in page_message(r), (name, page_message(r))
        assert "pgfleet_session=" not in r.headers.get("set-cookie", "").split("pgfleet_sso")[0]
    # the control: the same provider's honest token signs in, and the state cookie is cleared
    state, nonce, cookie = start_oidc(d, "/api/auth/status")
    e.next_token = e.sign(e.claims(nonce))
    r = callback(d, state, cookie)
    assert r.status_code == 303 and r.headers["location"] == "/api/auth/status", page_message(r)
    assert "pgfleet_session=" in r.headers["set-cookie"]
    reasons = [x["detail"]["reason"] for x in failures(d)]
    for _, _, words in cases:
        assert any(words in x for x in reasons), (words, reasons)


def test_oidc_state_must_be_this_browsers(evil):
    e, d = evil, evil.d
    state, nonce, cookie = start_oidc(d)
    e.next_token = e.sign(e.claims(nonce))
    r = callback(d, state, None)  # the link opened in a browser that did not start it
    assert r.status_code == 400 and "does not match this browser" in page_message(r)
    other_state, _, other_cookie = start_oidc(d)
    r = callback(d, state, other_cookie)  # login CSRF: the attacker's state in the victim's browser
    assert r.status_code == 400 and "does not match" in page_message(r)
    # the state is used once: the honest callback works, then never again
    assert callback(d, state, cookie).status_code == 303
    r = callback(d, state, cookie)
    assert r.status_code == 400 and "already finished" in page_message(r)
    # the provider said no
    r = requests.get(d.public + "/auth/oidc/callback", params={"error": "access_denied",
                                                              "state": other_state},
                     cookies={"pgfleet_sso": other_cookie}, allow_redirects=False)
    assert r.status_code == 400 and "access_denied" in page_message(r)
    # return URLs: another site's is replaced by /
    state, nonce, cookie = start_oidc(d, "//evil.test/x")
    e.next_token = e.sign(e.claims(nonce))
    assert callback(d, state, cookie).headers["location"] == "/"


# ---- settings ----

def test_single_sign_on_settings_are_checked_at_start(workdir, saml_idp):
    def serve(**env):
        base = {"PATH": os.environ["PATH"], "PGFLEET_LISTEN": f"127.0.0.1:{free_port()}",
                "AWS_EC2_METADATA_DISABLED": "true", "PGFLEET_REDIS_URL": "redis://127.0.0.1:1/0"}
        return subprocess.run([os.environ.get("PGFLEET_BIN", str(ROOT / "build" / "pgfleet")),
                               "serve"], env={**base, **env}, capture_output=True, text=True,
                              timeout=30)
    p = serve(PGFLEET_SAML_IDP_METADATA=saml_idp["metadata"], PGFLEET_SSO_ROLE_MAP="a=admin")
    assert p.returncode == 3 and "PGFLEET_PUBLIC_URL" in p.stderr
    p = serve(PGFLEET_SAML_IDP_METADATA=saml_idp["metadata"], PGFLEET_PUBLIC_URL="http://x:1")
    assert p.returncode == 3 and "PGFLEET_SSO_ROLE_MAP" in p.stderr
    p = serve(PGFLEET_OIDC_ISSUER="https://idp.example", PGFLEET_PUBLIC_URL="http://x:1")
    assert p.returncode == 3 and "PGFLEET_OIDC_CLIENT_ID" in p.stderr
    p = serve(PGFLEET_OIDC_ISSUER="https://idp.example", PGFLEET_OIDC_CLIENT_ID="c",
              PGFLEET_PUBLIC_URL="http://x:1", PGFLEET_SSO_ROLE_MAP="g=superuser")
    assert p.returncode == 3 and "is not group=viewer|operator|admin" in p.stderr
    p = serve(PGFLEET_SAML_IDP_METADATA="http://idp.example/metadata", PGFLEET_PUBLIC_URL="http://x:1",
              PGFLEET_SSO_ROLE_MAP="g=admin")
    assert p.returncode == 3 and "https" in p.stderr
