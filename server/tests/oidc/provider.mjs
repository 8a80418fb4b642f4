// Minimal local OpenID Provider for meshchat SSO tests (oidc-provider v9, ESM).
// Env: PORT (required), REDIRECT_URI (required), AUTO_CONSENT=1 (optional: skip consent screen).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
const REDIRECT_URI = process.env.REDIRECT_URI;
if (!PORT || !REDIRECT_URI) {
  console.error('PORT and REDIRECT_URI env vars are required');
  process.exit(2);
}
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = 'meshchat';
const AUTO_CONSENT = process.env.AUTO_CONSENT === '1';

// Fresh RS256 signing key per run (keeps oidc-provider from using its dev keystore).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: 'meshchat-secret',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true }, // v9 only supports S256 anyway
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  // Put scope-granted claims (preferred_username, email) into the id_token too,
  // not only into /me (default true = id_token only carries sub etc. in code flow).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true }, // built-in login/consent pages: any login/password
    // userinfo stays enabled (GET/POST /me)
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims(_use, _scope) {
        return {
          sub,
          preferred_username: sub,
          name: sub,
          email: `${sub}@example.test`,
          email_verified: true,
        };
      },
    };
  },
  ...(AUTO_CONSENT ? {
    // Auto-approve consent for the first-party meshchat client (no consent screen).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (ctx.oidc.client.clientId !== CLIENT_ID) return undefined;
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
  } : {}),
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
};

const provider = new Provider(ISSUER, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(PORT, '127.0.0.1', () => {
  console.log(`listening ${ISSUER}`);
});

const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
