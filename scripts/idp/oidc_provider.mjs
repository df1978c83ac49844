// An OpenID Connect provider for tests and `make run`: panva's oidc-provider (a
// certified implementation) with a sign-in form that checks the users' passwords.
//
//   node oidc_provider.mjs PORT USERS_JSON CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
//
// USERS_JSON: {"alice@example.com": {"password": "...", "groups": ["pgfleet-admins"]}}.
// The ID token carries email and groups (scope "groups"); code flow with PKCE (S256)
// only; keys are made at start (RS256, kid "k1"); rp-initiated logout is on.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import Provider from "oidc-provider";

const [port, usersFile, clientId, clientSecret, redirectUri, postLogoutUri] = process.argv.slice(2);
const users = JSON.parse(readFileSync(usersFile, "utf8"));
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri], response_types: ["code"],
    grant_types: ["authorization_code"], token_endpoint_auth_method: "client_secret_basic",
  }],
  pkce: { required: () => true, methods: ["S256"] },
  scopes: ["openid", "email", "profile", "groups"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
  conformIdTokenClaims: false, // the claims go into the ID token itself
  findAccount: async (ctx, id) => users[id] ? {
    accountId: id,
    claims: async () => ({ sub: id, email: id, email_verified: true, groups: users[id].groups || [] }),
  } : undefined,
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [Math.random().toString(36).slice(2)] },
  jwks: { keys: [jwk] },
});

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error = "") => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Test OIDC provider</title></head><body><h1>Test OpenID provider</h1>
<form method="post" action="/interaction/${esc(uid)}/login">
<p><label for="login">E-mail</label> <input id="login" name="login" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password"></p>
<p><button type="submit">Sign in at the provider</button></p></form>
<p style="color:#b00">${esc(error)}</p></body></html>`;

function form(req) {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => resolve(Object.fromEntries(new URLSearchParams(body))));
  });
}

async function consent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId ? await provider.Grant.find(grantId)
                        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(" "));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [ind, scopes] of Object.entries(prompt.details.missingResourceScopes || {}))
    grant.addResourceScope(ind, scopes.join(" "));
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
                                     { mergeWithLastSubmission: true });
}

async function interaction(req, res) {
  const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "consent") return consent(req, res, details);
  if (req.method === "POST" && m[2]) {
    const f = await form(req);
    if (!users[f.login] || users[f.login].password !== f.password) {
      res.writeHead(401, { "content-type": "text/html" });
      return res.end(page(m[1], "wrong e-mail or password"));
    }
    return provider.interactionFinished(req, res, { login: { accountId: f.login } },
                                        { mergeWithLastSubmission: false });
  }
  res.writeHead(200, { "content-type": "text/html" });
  res.end(page(m[1]));
}

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((e) => { res.writeHead(400); res.end(String(e.message)); });
  } else {
    callback(req, res);
  }
}).listen(Number(port), "127.0.0.1", () => console.log(`oidc provider on ${issuer}`));
