import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeFiles, isIgnoredDirectory, isSourceFile, watchSources, type SourceWatcher } from '../../stack/source-watcher.js';

// Watch mode's file watcher (stack/source-watcher.ts) on a real temporary tree.

let root: string;
let watcher: SourceWatcher | undefined;
afterEach(() => {
  watcher?.close();
  watcher = undefined;
  if (root) rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'kts-watch-'));
  for (const [path, content] of Object.entries(files)) write(path, content);
  return root;
}

function write(path: string, content = `// ${Date.now()}\n`) {
  const absolute = join(root, path);
  mkdirSync(join(absolute, '..'), { recursive: true });
  writeFileSync(absolute, content);
}

function watchTree(debounceMs = 100) {
  const batches: string[][] = [];
  watcher = watchSources({ root, debounceMs, onChange: (files) => batches.push(files) });
  return batches;
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('source watcher', () => {
  it('reports changed source files once per burst, not ignored directories', async () => {
    tree({
      'api/main.ts': '',
      'api/routes/a.ts': '',
      'node_modules/pkg/index.js': '',
      '.data/ferretdb/db.sqlite': '',
      '.tools/bin/x.js': '',
      'api/node_modules/y.js': '',
    });
    const batches = watchTree();
    expect(watcher!.directories()).toEqual(['', 'api', 'api/routes']);

    write('node_modules/pkg/index.js');
    write('.tools/bin/x.js');
    write('api/README.md'); // not source
    write('api/.main.ts.swp'); // editor temporary
    // One burst: several writes to two files.
    write('api/main.ts');
    write('api/routes/a.ts');
    write('api/main.ts');
    await until(() => batches.length > 0);
    await sleep(300);
    expect(batches).toEqual([['api/main.ts', 'api/routes/a.ts']]);
  });

  it('picks up directories created later, and their files', async () => {
    tree({ 'worker/main.ts': '' });
    const batches = watchTree();
    write('worker/new/deep/file.ts');
    await until(() => batches.flat().includes('worker/new/deep/file.ts'));
    expect(watcher!.directories()).toEqual(['', 'worker', 'worker/new', 'worker/new/deep']);
    await sleep(200);
    batches.length = 0;
    write('worker/new/deep/file.ts', 'changed');
    await until(() => batches.length > 0);
    expect(batches).toEqual([['worker/new/deep/file.ts']]);
  });

  it('reports deleted files and drops deleted directories', async () => {
    tree({ 'a/x.ts': '', 'b/c/y.ts': '' });
    const batches = watchTree();
    rmSync(join(root, 'a/x.ts'));
    rmSync(join(root, 'b'), { recursive: true });
    await until(() => batches.flat().includes('a/x.ts'));
    await until(() => !watcher!.directories().includes('b/c'));
    expect(watcher!.directories()).toEqual(['', 'a']);
  });

  it('reports nothing after close', async () => {
    tree({ 'a/x.ts': '' });
    const batches = watchTree(50);
    watcher!.close();
    // A second watcher on the same tree, left open, shows the write is one a watcher reports: the
    // closed one stays silent because it is closed, not because nothing happened.
    const open: string[][] = [];
    const control = watchSources({ root, debounceMs: 50, onChange: (files) => open.push(files) });
    try {
      write('a/x.ts');
      await until(() => open.length > 0);
      await sleep(200); // past the closed watcher's debounce
      expect(open).toEqual([['a/x.ts']]);
      expect(batches).toEqual([]);
    } finally {
      control.close();
    }
  });

  it('classifies paths', () => {
    for (const dir of ['node_modules', 'api/node_modules', '.data', '.tools/py', '.git', 'dist', 'coverage']) expect(isIgnoredDirectory(dir), dir).toBe(true);
    for (const dir of ['api', 'klarna-simulator/routes', 'workflows']) expect(isIgnoredDirectory(dir), dir).toBe(false);
    for (const file of ['a.ts', 'x/b.mts', 'c.js', 'd.mjs', 'e.cjs', 'f.json']) expect(isSourceFile(file), file).toBe(true);
    for (const file of ['a.md', 'x/.#b.ts', 'c.ts~', 'x/.d.ts.swp', 'db.sqlite']) expect(isSourceFile(file), file).toBe(false);
    expect([describeFiles(['a.ts']), describeFiles(['a.ts', 'b.ts']), describeFiles(['a', 'b', 'c', 'd'])]).toEqual([
      'a.ts',
      'a.ts and b.ts',
      'a, b and 2 more',
    ]);
  });
});
