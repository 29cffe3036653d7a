import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../scripts/openapi.js';
import { repoRoot } from '../../stack/tool-paths.js';

// The OpenAPI document as a contract: Redocly's recommended rules find no error in it (as
// production runs it, with bearer tokens, and as development does, without), every operation has
// an operationId, security and its error answers, and a typed client generated from it compiles.

const dir = mkdtempSync(join(tmpdir(), 'kts-openapi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);
const quietEnv = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };

type Operation = { operationId?: string; security?: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }>; requestBody?: unknown; parameters?: unknown[] };
const operationsOf = (doc: Record<string, any>): [string, Operation][] =>
  Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]),
  );

function lint(doc: Record<string, unknown>, name: string) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const run = spawnSync(bin('redocly'), ['lint', file, '--format=json', '--config', join(repoRoot, 'redocly.yaml')], { encoding: 'utf8', env: quietEnv, cwd: repoRoot });
  const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] };
  return { status: run.status, report, describe: () => report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`).join('\n') };
}

describe('the OpenAPI document', () => {
  it('passes redocly lint (recommended rules) with no error, with and without bearer tokens', async () => {
    for (const [name, doc] of [
      ['production', await openApiDocument({ publicBaseUrl: 'https://payments.merchant.test' })],
      ['development', await openApiDocument({ authRequired: false })],
    ] as const) {
      const { status, report, describe } = lint(doc, name);
      expect(report.totals.errors, describe()).toBe(0);
      expect(status, describe()).toBe(0);
      // The one warning left: the license has no URL (the project publishes no license text).
      expect(report.problems.filter((p) => p.ruleId !== 'info-license-strict'), describe()).toEqual([]);
    }
  }, 60_000);

  it('declares security, servers, a license, and for every operation an operationId, security and its errors', async () => {
    const doc = await openApiDocument({ publicBaseUrl: 'https://payments.merchant.test' });
    expect(doc.servers).toEqual([expect.objectContaining({ url: 'https://payments.merchant.test' })]);
    expect((doc.info as Record<string, unknown>).license).toEqual({ name: 'Proprietary' });
    expect(Object.keys((doc.components as any).securitySchemes)).toEqual(['bearerAuth', 'callbackSecret', 'klarnaSignature']);
    const operations = operationsOf(doc);
    expect(operations.length).toBeGreaterThan(8);
    const ids = operations.map(([, op]) => op.operationId);
    expect(new Set(ids).size, 'operationIds are unique').toBe(ids.length);
    for (const [label, op] of operations) {
      expect(op.operationId, label).toMatch(/^[a-z][A-Za-z0-9]+$/);
      expect(op.security, label).toBeDefined();
      const codes = Object.keys(op.responses);
      expect(codes, label).toContain('429');
      expect(op.responses['429']!.headers?.['Retry-After'], label).toBeDefined();
      if (op.requestBody) expect(codes, label).toEqual(expect.arrayContaining(['400', '413', '415']));
      if (op.parameters?.length) expect(codes, label).toContain('400');
      if (label.includes(' /v1/') || label.includes(' /v2/')) {
        expect(op.security, label).toEqual([{ bearerAuth: [] }]);
        expect(codes, label).toEqual(expect.arrayContaining(['401', '503']));
      }
    }
    const ops = Object.fromEntries(operations);
    expect(ops['POST /v1/tokenizations']!.operationId).toBe('startTokenization');
    expect(ops['POST /klarna/callbacks/authorization/{flow_id}']!.security).toEqual([{ callbackSecret: [] }]);
    expect(ops['GET /health']!.security).toEqual([]);
    // Klarna v2 webhooks authenticate by their signature, not a URL secret.
    expect(ops['POST /klarna/webhooks/v2']!.security).toEqual([{ klarnaSignature: [] }]);
    expect(ops['POST /v2/web-sdk/initiate']!.operationId).toBe('initiateV2WebSdkPayment');
  });

  it('generates a typed client that compiles (openapi-typescript + examples/typed-client)', async () => {
    const file = join(dir, 'client.json');
    writeFileSync(file, JSON.stringify(await openApiDocument()));
    const out = join(repoRoot, 'examples', 'typed-client', 'generated');
    mkdirSync(out, { recursive: true });
    const generate = spawnSync(bin('openapi-typescript'), [file, '-o', join(out, 'api.ts')], { encoding: 'utf8', env: quietEnv });
    expect(generate.status, generate.stderr).toBe(0);
    const compile = spawnSync(bin('tsc'), ['-p', join(repoRoot, 'examples', 'typed-client')], { encoding: 'utf8' });
    expect(compile.status, compile.stdout + compile.stderr).toBe(0);
  }, 60_000);
});
