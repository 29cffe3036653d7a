import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRateLimits } from '../../api/plugins/http-guard.js';
import { DEV_CALLBACK_SECRET, devKeyBytes, knownDevelopmentValues } from '../../config/dev-secrets.js';
import { ConfigError, loadConfig, type SectionName } from '../../config/env.js';
import { repoRoot } from '../../stack/tool-paths.js';

// Production mode (APP_ENV=production, or NODE_ENV=production): the processes refuse to start on
// anything only a development setup should have, naming every problem in one message.

const key = () => randomBytes(32).toString('base64');
const apiSections: SectionName[] = ['app', 'callbacks', 'vault', 'payloadCodec', 'api'];
const workerSections: SectionName[] = ['app', 'klarna', 'callbacks', 'vault', 'payloadCodec'];

/** A configuration production accepts. */
const good = () => ({
  APP_ENV: 'production',
  PUBLIC_BASE_URL: 'https://pay.example.com',
  CALLBACK_SECRET: randomBytes(24).toString('base64url'),
  TOKEN_ENCRYPTION_KEY: key(),
  PAYLOAD_ENCRYPTION_KEYS: `2026-01:${key()}`,
  API_HOST: '0.0.0.0',
  API_AUTH_TOKEN: randomBytes(24).toString('base64url'),
  KLARNA_USERNAME: 'PK123_merchant',
  KLARNA_PASSWORD: randomBytes(16).toString('base64url'),
  KLARNA_ENVIRONMENT: 'production',
});

function problemsOf(sections: SectionName[], env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(sections, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('production mode', () => {
  it('accepts a production configuration, and says it is production', () => {
    expect(problemsOf([...apiSections, ...workerSections], good())).toEqual([]);
    expect(loadConfig(['app'], good()).app).toMatchObject({ mode: 'production', production: true });
    expect(loadConfig(['app'], { NODE_ENV: 'production' }).app.mode).toBe('production');
  });

  it('keeps development working with zero configuration and dev values', () => {
    const dev = { PUBLIC_BASE_URL: 'http://127.0.0.1:3000', CALLBACK_SECRET: DEV_CALLBACK_SECRET, TOKEN_ENCRYPTION_KEY: devKeyBytes().toString('base64') };
    expect(problemsOf(['app', 'callbacks', 'vault', 'api'], dev)).toEqual([]);
    expect(loadConfig(['app'], {}).app.mode).toBe('development');
    // An explicit APP_ENV=development wins over NODE_ENV=production.
    expect(problemsOf(['callbacks'], { ...dev, NODE_ENV: 'production', APP_ENV: 'development' })).toEqual([]);
    expect(problemsOf(['app'], { APP_ENV: 'prod' })[0]).toMatch(/^APP_ENV: /);
  });

  const refusals: [string, SectionName[], Record<string, string>, RegExp][] = [
    ["npm run dev's callback secret", apiSections, { CALLBACK_SECRET: DEV_CALLBACK_SECRET }, /^CALLBACK_SECRET: is a development value/],
    ["docker compose's callback secret", apiSections, { CALLBACK_SECRET: 'compose-dev-callback-secret' }, /^CALLBACK_SECRET: is a development value/],
    ['a previous callback secret that is a dev value', apiSections, { CALLBACK_SECRET_PREVIOUS: DEV_CALLBACK_SECRET }, /^CALLBACK_SECRET_PREVIOUS: is a development value/],
    ['a low-entropy callback secret', apiSections, { CALLBACK_SECRET: 'abababababababababab' }, /^CALLBACK_SECRET: is not random/],
    ['an all-zero token encryption key', apiSections, { TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }, /^TOKEN_ENCRYPTION_KEY: is all zeros/],
    ["docker compose's token encryption key", apiSections, { TOKEN_ENCRYPTION_KEY: knownDevelopmentValues.TOKEN_ENCRYPTION_KEY![0]! }, /^TOKEN_ENCRYPTION_KEY: is a known development value/],
    ["a key npm run dev made", apiSections, { TOKEN_ENCRYPTION_KEY: devKeyBytes().toString('base64') }, /^TOKEN_ENCRYPTION_KEY: is a development key/],
    ['a repeating key', apiSections, { TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 'ab').toString('base64') }, /^TOKEN_ENCRYPTION_KEY: is not random/],
    ['a passphrase as key', apiSections, { TOKEN_ENCRYPTION_KEY: Buffer.from('correct horse battery staple 123').toString('base64') }, /^TOKEN_ENCRYPTION_KEY: is text/],
    ['an all-zero payload key', apiSections, { PAYLOAD_ENCRYPTION_KEYS: `k2:${key()},k1:${Buffer.alloc(32).toString('base64')}` }, /^PAYLOAD_ENCRYPTION_KEYS: entry 2 \(k1\) is all zeros/],
    ["npm run dev's payload key", apiSections, { PAYLOAD_ENCRYPTION_KEYS: `dev-2026-01-01:${key()}` }, /^PAYLOAD_ENCRYPTION_KEYS: entry 1 \(dev-2026-01-01\) is named as a development key/],
    ['the committed test payload key', apiSections, { PAYLOAD_ENCRYPTION_KEYS: `h:${knownDevelopmentValues.PAYLOAD_ENCRYPTION_KEYS![1]!}` }, /^PAYLOAD_ENCRYPTION_KEYS: entry 1 \(h\) is a known development value/],
    ['an http:// PUBLIC_BASE_URL', apiSections, { PUBLIC_BASE_URL: 'http://pay.example.com' }, /^PUBLIC_BASE_URL: must be https:\/\//],
    ['an API beyond loopback without authentication', apiSections, { API_AUTH_TOKEN: '' }, /^API_HOST: the API listens on 0\.0\.0\.0, beyond loopback, without authentication/],
    ['a weak API token', apiSections, { API_AUTH_TOKENS: `${randomBytes(24).toString('base64url')},aaaaaaaaaaaaaaaaaaaa` }, /^API_AUTH_TOKENS: a token is not random/],
    ['an http:// codec origin', apiSections, { CODEC_CORS_ORIGINS: 'http://temporal.example.com' }, /^CODEC_CORS_ORIGINS: http:\/\/temporal\.example\.com must be https:\/\//],
    ["the simulator's Klarna credentials", workerSections, { KLARNA_USERNAME: 'sim-merchant', KLARNA_PASSWORD: 'sim-secret' }, /^KLARNA_PASSWORD: is the Klarna simulator's/],
    ['an http:// Klarna base URL', workerSections, { KLARNA_BASE_URL: 'http://klarna.example.com' }, /^KLARNA_BASE_URL: must be https:\/\//],
    ['the demo checkout (KLARNA_SIMULATOR_URL)', ['app', 'demo'], { KLARNA_SIMULATOR_URL: 'http://127.0.0.1:8090' }, /^KLARNA_SIMULATOR_URL: the demo checkout and the Klarna simulator are for development only/],
  ];
  it.each(refusals)('refuses %s', (_what, sections, override, expected) => {
    const problems = problemsOf(sections, { ...good(), ...override });
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
    expect(problems.every((p) => p.endsWith('(production mode, APP_ENV=production)') || !p.includes('production'))).toBe(true);
    // The same configuration is fine in development.
    expect(problemsOf(sections, { ...good(), ...override, APP_ENV: 'development' })).toEqual([]);
  });

  it('is implied by NODE_ENV=production', () => {
    const problems = problemsOf(apiSections, { ...good(), APP_ENV: undefined, NODE_ENV: 'production', CALLBACK_SECRET: DEV_CALLBACK_SECRET });
    expect(problems).toEqual([expect.stringMatching(/^CALLBACK_SECRET: is a development value.*\(production mode, NODE_ENV=production\)$/)]);
  });

  it('names every problem in one message', () => {
    let error: unknown;
    try {
      loadConfig(workerSections.concat(['api']), {
        ...good(),
        PUBLIC_BASE_URL: 'http://pay.example.com',
        CALLBACK_SECRET: DEV_CALLBACK_SECRET,
        TOKEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
        PAYLOAD_ENCRYPTION_KEYS: `compose-dev-1:${knownDevelopmentValues.PAYLOAD_ENCRYPTION_KEYS![0]!}`,
        API_AUTH_TOKEN: undefined,
        KLARNA_PASSWORD: 'sim-secret',
        API_PORT: '99999', // and a plain configuration error, in the same message
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const variable of ['PUBLIC_BASE_URL', 'CALLBACK_SECRET', 'TOKEN_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_KEYS', 'API_HOST', 'KLARNA_PASSWORD', 'API_PORT']) {
      expect(message).toContain(`  - ${variable}: `);
    }
  });

  it("refuses docker-compose.yml's development defaults, every one listed in config/dev-secrets.ts", () => {
    const compose = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    const defaults = Object.fromEntries([...compose.matchAll(/^\s+(\w+): \$\{\1:-([^}]+)\}/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(defaults)).toEqual(expect.arrayContaining(['CALLBACK_SECRET', 'TOKEN_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_KEYS']));
    expect(knownDevelopmentValues.CALLBACK_SECRET).toContain(defaults.CALLBACK_SECRET);
    expect(knownDevelopmentValues.TOKEN_ENCRYPTION_KEY).toContain(defaults.TOKEN_ENCRYPTION_KEY);
    expect(knownDevelopmentValues.PAYLOAD_ENCRYPTION_KEYS).toContain(defaults.PAYLOAD_ENCRYPTION_KEYS!.split(':')[1]);
    const problems = problemsOf(apiSections, {
      ...good(),
      CALLBACK_SECRET: defaults.CALLBACK_SECRET,
      TOKEN_ENCRYPTION_KEY: defaults.TOKEN_ENCRYPTION_KEY,
      PAYLOAD_ENCRYPTION_KEYS: defaults.PAYLOAD_ENCRYPTION_KEYS,
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['CALLBACK_SECRET', 'TOKEN_ENCRYPTION_KEY', 'PAYLOAD_ENCRYPTION_KEYS']);
  });
});

describe('API settings', () => {
  it('takes several bearer tokens (rotation), API_AUTH_TOKEN included', () => {
    const a = 'token-a-0123456789abcdef';
    const b = 'token-b-0123456789abcdef';
    expect(loadConfig(['api'], { API_AUTH_TOKEN: a, API_AUTH_TOKENS: ` ${b}, ${a} ` }).api.authTokens).toEqual([a, b]);
    expect(loadConfig(['api'], {}).api.authTokens).toEqual([]);
    expect(problemsOf(['api'], { API_AUTH_TOKENS: `${a},short` })).toEqual(['API_AUTH_TOKENS: each token must be at least 16 characters']);
  });

  it('protects docs and health only with a token to protect them with', () => {
    expect(problemsOf(['api'], { API_DOCS_AUTH: 'true', API_HEALTH_AUTH: 'true' })).toEqual([
      'API_DOCS_AUTH: needs API_AUTH_TOKEN or API_AUTH_TOKENS',
      'API_HEALTH_AUTH: needs API_AUTH_TOKEN or API_AUTH_TOKENS',
    ]);
    expect(loadConfig(['api'], { API_DOCS_AUTH: 'true', API_AUTH_TOKEN: 'token-a-0123456789abcdef' }).api).toMatchObject({ docsAuth: true, healthAuth: false });
  });

  it('has generous rate limits by default, each configurable and 0 for off', () => {
    expect(loadConfig(['api'], {}).api.rateLimits).toEqual({ checkoutPerMinute: 12_000, callbacksPerMinute: 6_000, unauthenticatedPerMinute: 600 });
    // The same as the API's own defaults (in-process apps, the fuzz run).
    expect(loadConfig(['api'], {}).api.rateLimits).toEqual(defaultRateLimits);
    expect(loadConfig(['api'], { RATE_LIMIT_CALLBACKS_PER_MINUTE: '0' }).api.rateLimits.callbacksPerMinute).toBe(0);
    expect(problemsOf(['api'], { RATE_LIMIT_CHECKOUT_PER_MINUTE: '-1' })[0]).toMatch(/^RATE_LIMIT_CHECKOUT_PER_MINUTE: /);
  });

  it('parses API_TRUST_PROXY', () => {
    const trust = (v: string) => loadConfig(['api'], { API_TRUST_PROXY: v }).api.trustProxy;
    expect(trust('true')).toBe(true);
    expect(trust('hops:2')).toBe(2);
    expect(trust('10.0.0.0/8, 192.168.1.1')).toEqual(['10.0.0.0/8', '192.168.1.1']);
    expect(loadConfig(['api'], {}).api.trustProxy).toBe(false);
    expect(problemsOf(['api'], { API_TRUST_PROXY: 'proxy.example.com' })[0]).toMatch(/^API_TRUST_PROXY: /);
  });
});
