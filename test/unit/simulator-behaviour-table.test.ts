import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../stack/tool-paths.js';

// docs/klarna-simulator.md promises that each behaviour row names the contract test file(s) that
// check it. Keeps that promise true as rows are added or test files renamed.

const doc = readFileSync(join(repoRoot, 'docs', 'klarna-simulator.md'), 'utf8');

interface BehaviourRow {
  line: number;
  row: string;
  tests: string[];
}

/** Rows of every table whose header's last column is "Test". */
function behaviourRows(): BehaviourRow[] {
  const rows: BehaviourRow[] = [];
  let inTable = false;
  for (const [i, text] of doc.split('\n').entries()) {
    const cells = text.startsWith('|') ? text.split('|').slice(1, -1).map((c) => c.trim()) : undefined;
    if (!cells) inTable = false;
    else if (!inTable) inTable = /^Test$/i.test(cells.at(-1) ?? '');
    else if (!/^-+$/.test(cells[0] ?? '')) {
      rows.push({ line: i + 1, row: cells[0] ?? '', tests: (cells.at(-1) ?? '').split(',').map((t) => t.trim()).filter(Boolean) });
    }
  }
  return rows;
}

describe('simulator behaviour table', () => {
  const rows = behaviourRows();

  it('has its rows (over a hundred behaviours)', () => {
    expect(rows.length).toBeGreaterThan(100);
  });

  it('names, on every row, contract test files that exist', () => {
    const bad = rows.filter((r) => r.tests.length === 0 || r.tests.some((t) => !existsSync(join(repoRoot, 'test', 'klarna-simulator', `${t}.test.ts`))));
    expect(bad.map((r) => `line ${r.line}: ${r.row} → ${r.tests.join(', ') || '(none)'}`)).toEqual([]);
  });
});
