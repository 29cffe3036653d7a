import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';

const key = Buffer.alloc(32, 7).toString('base64');

describe('configuration', () => {
  it('applies defaults and derives the Klarna base URL from region and environment', () => {
    const config = loadConfig(['temporal', 'klarna', 'flows'], {
      KLARNA_USERNAME: 'PK123_abc',
      KLARNA_PASSWORD: 'secret',
      KLARNA_REGION: 'na',
      KLARNA_ENVIRONMENT: 'production',
    });
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'klarna-token-sagas', tls: false });
    expect(config.klarna.baseUrl).toBe('https://api-na.klarna.com');
    expect(config.klarna.timeoutMs).toBe(10_000);
    expect(config.flows.abandonmentTimeoutMs).toBe(30 * 60_000);
  });

  it('prefers an explicit base URL and strips its trailing slash', () => {
    const config = loadConfig(['klarna'], { KLARNA_BASE_URL: 'http://127.0.0.1:8090/', KLARNA_USERNAME: 'u', KLARNA_PASSWORD: 'p' });
    expect(config.klarna.baseUrl).toBe('http://127.0.0.1:8090');
  });

  it('turns TLS on for Temporal Cloud API keys', () => {
    const config = loadConfig(['temporal'], { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key' });
    expect(config.temporal.tls).toBe(true);
    expect(config.temporal.apiKey).toBe('key');
  });

  it('reports every problem at once, naming each variable', () => {
    let error: unknown;
    try {
      loadConfig(['mongo', 'klarna', 'callbacks', 'vault', 'api', 'flows'], {
        MONGODB_URI: 'postgres://nope',
        KLARNA_REGION: 'mars',
        PUBLIC_BASE_URL: 'not a url',
        CALLBACK_SECRET: 'short',
        TOKEN_ENCRYPTION_KEY: 'abc',
        API_PORT: '99999',
        FLOW_ABANDONMENT_TIMEOUT: 'soon',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    // One problem per bad or missing variable, each starting with the variable's name.
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      [
        'MONGODB_URI',
        'KLARNA_REGION',
        'KLARNA_USERNAME',
        'KLARNA_PASSWORD',
        'PUBLIC_BASE_URL',
        'CALLBACK_SECRET',
        'TOKEN_ENCRYPTION_KEY',
        'API_PORT',
        'FLOW_ABANDONMENT_TIMEOUT',
      ].sort(),
    );
    expect(problems.filter((p) => p.endsWith(': is required'))).toEqual(['KLARNA_USERNAME: is required', 'KLARNA_PASSWORD: is required']);
  });

  it('requires both halves of an mTLS pair', () => {
    expect(() => loadConfig(['temporal'], { TEMPORAL_TLS_CERT_PATH: '/c.pem' })).toThrow(/TEMPORAL_TLS_KEY_PATH/);
  });

  it('treats empty strings as unset and parses durations', () => {
    const config = loadConfig(['vault', 'flows'], { TOKEN_ENCRYPTION_KEY: key, FLOW_ABANDONMENT_TIMEOUT: '90s', TEMPORAL_ADDRESS: '' });
    expect(config.vault.encryptionKey.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(config.flows.abandonmentTimeoutMs).toBe(90_000);
  });
});
