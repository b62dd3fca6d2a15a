// The OpenID provider of the tests: panva's oidc-provider (certified), on loopback.
// It listens on a free port, then prints "listening <port>" and serves as issuer
// http://127.0.0.1:<port>. The clients come from the CLIENTS environment variable
// (JSON: [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}]).
// Anyone signs in with any e-mail address and password at its own login form
// (oidc-provider's development interactions): the address becomes the account's
// sub and email claims. Consent is given for our clients without asking, as a
// company's IdP does for its own applications.
import http from "node:http";
import Provider from "oidc-provider";

const clients = JSON.parse(process.env.CLIENTS || "[]").map((client) => ({
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_post",
  ...client,
}));

function nameOf(email) {
  const local = email.split("@")[0] || email;
  return local.split(/[._-]/).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join(" ");
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients,
    cookies: { keys: ["ccm-tests-only"] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile"],
    pkce: { required: () => false },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: id.toLowerCase(), email_verified: true, name: nameOf(id) };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  server.on("request", provider.callback());
  process.stdout.write(`listening ${port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
