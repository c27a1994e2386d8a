// The shapes of HubSpot's OAuth token API (version 2026-03) as our own zod schemas, following
// PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json of HubSpot's published specifications
// (GitHub HubSpot/HubSpot-public-api-spec-collection, commit 99893791383). Nothing is copied from it.
// The strict shapes are what a conforming answer carries (the emulator is held to them in
// test/hubspot-conformance.test.ts); the OAuth client parses with the lenient ones, because HubSpot
// has answered token errors in three dialects over time (see oauthRefusalShape).
import { z } from 'zod';

export const OAUTH_SPEC = 'PublicApiSpecs/Auth/Oauth/Rollouts/279897/2026-03/oauth.json';

const stringLists = z.record(z.string(), z.array(z.string()));

/** Error (OAuth 2026-03): the `default` answer of /token, /token/introspect and /token/revoke. */
export const oauthErrorShape = z.looseObject({
  category: z.string(),
  correlationId: z.uuid(),
  message: z.string(),
  subCategory: z.string().optional(),
  context: stringLists.optional(),
  errors: z
    .array(
      z.looseObject({
        message: z.string(),
        code: z.string().optional(),
        in: z.string().optional(),
        subCategory: z.string().optional(),
        context: stringLists.optional(),
      }),
    )
    .optional(),
  links: z.record(z.string(), z.string()).optional(),
});

/**
 * AccessTokenResponse (OAuth 2026-03; TokenResponseIF for the authorization-code and refresh-token
 * grants): `access_token`, `refresh_token`, `expires_in`, `token_type`, `token_use` ("access_token")
 * required; `hub_id`, `scopes` (an array), `user_id`, `id_token` optional.
 */
export const accessTokenResponseShape = z.looseObject({
  access_token: z.string(),
  refresh_token: z.string(),
  expires_in: z.number().int(),
  token_type: z.string(),
  token_use: z.literal('access_token'),
  hub_id: z.number().int().optional(),
  scopes: z.array(z.string()).optional(),
  user_id: z.number().int().optional(),
  id_token: z.string().optional(),
});

/** SignedAccessToken (OAuth 2026-03): the decoded access token an introspection describes; every field required. */
const signedAccessTokenShape = z.looseObject({
  appId: z.number().int(),
  appInstallId: z.string(),
  audience: z.string(),
  expiresAt: z.number().int(),
  hubId: z.number().int(),
  hublet: z.string(),
  installingUserId: z.number().int(),
  isPrivateDistribution: z.boolean(),
  isServiceAccount: z.boolean(),
  isUserLevel: z.boolean(),
  newSignature: z.string(),
  scopeToScopeGroupPks: z.string(),
  scopes: z.string(),
  signature: z.string(),
  trialScopeToScopeGroupPks: z.string(),
  trialScopes: z.string(),
  userId: z.number().int(),
});

/** PublicAccessTokenInfoResponse (OAuth 2026-03): introspection of an access token. */
export const accessTokenInfoShape = z.looseObject({
  active: z.boolean(),
  app_id: z.number().int(),
  client_id: z.string(),
  expires_in: z.number().int(),
  hub_id: z.number().int(),
  is_private_distribution: z.boolean(),
  scopes: z.array(z.string()),
  signed_access_token: signedAccessTokenShape,
  token: z.string(),
  token_type: z.string(),
  token_use: z.literal('access_token'),
  user_id: z.number().int(),
  hub_domain: z.string().optional(),
  user: z.string().optional(),
});

/** PublicRefreshTokenInfoResponse (OAuth 2026-03): introspection of a refresh token. */
export const refreshTokenInfoShape = z.looseObject({
  active: z.boolean(),
  app_id: z.number().int(),
  client_id: z.string(),
  hub_id: z.number().int(),
  scopes: z.array(z.string()),
  token: z.string(),
  token_type: z.string(),
  token_use: z.literal('refresh_token'),
  user_id: z.number().int(),
  hub_domain: z.string().optional(),
  user: z.string().optional(),
});

/** TokenInfoResponseBaseIF (OAuth 2026-03): one of the two. */
export const tokenInfoShape = z.union([accessTokenInfoShape, refreshTokenInfoShape]);

// ---- what the client parses (lenient) ----------------------------------------------------------------

/** The fields of a token answer the client needs; anything else may be missing or different. */
export const tokenGrantShape = z.looseObject({
  access_token: z.string(),
  refresh_token: z.string(),
  expires_in: z.number(),
});

/** The fields of an introspection the client needs. */
export const tokenInfoFieldsShape = z.looseObject({
  active: z.boolean(),
  hub_id: z.number(),
  app_id: z.number(),
  scopes: z.array(z.string()).optional().catch(undefined),
  expires_in: z.number().optional().catch(undefined),
});

const code = z.string().max(200).optional().catch(undefined);

/**
 * A refusal from the token API, in whichever dialect HubSpot used: the 2026-03 spec's Error
 * (`category`, `subCategory`, `message`); the v1 answers' `status` (e.g. BAD_REFRESH_TOKEN) with
 * `message`; or RFC 6749 section 5.2's `error` (e.g. invalid_grant) with `error_description`.
 */
export const oauthRefusalShape = z.looseObject({
  category: code,
  subCategory: code,
  status: code,
  error: code,
  message: z.string().optional().catch(undefined),
  error_description: z.string().optional().catch(undefined),
});
