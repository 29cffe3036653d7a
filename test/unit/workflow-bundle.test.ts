import { readFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../../worker/create-worker.js';

// The workflow sandbox evaluates every module of the bundle again for each workflow run (module
// state is never shared between runs). Building zod schemas at each start cost about a third of a
// tokenize flow's worker CPU (docs/performance.md, "The workflow bundle"), so workflows import
// only plain modules: types from the zod contracts, values from zod-free ones.
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

describe('the workflow bundle', () => {
  it('holds no zod and no module that imports it', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: silent as never });
    const modules = [...code.matchAll(/^\/\*\*\*\/ "(\.\/[^"]+)"/gm)].map((m) => m[1]!);
    const ours = modules.filter((m) => !m.startsWith('./node_modules/'));
    // Sanity: the module list was read (the workflows and the plain contracts are in it).
    expect(ours).toEqual(expect.arrayContaining(['./workflows/index.ts', './workflows/tokenize-workflow.ts', './contracts/flow-states.ts']));
    expect(modules.filter((m) => m.startsWith('./node_modules/zod/'))).toEqual([]);
    const importingZod = ours.filter((m) => /from ['"]zod['"]/.test(readFileSync(new URL(`../../${m.slice(2)}`, import.meta.url), 'utf8')));
    expect(importingZod).toEqual([]);
  }, 60_000);
});
