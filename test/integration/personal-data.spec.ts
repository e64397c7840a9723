import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { PERSONAL_DATA } from '../../prisma/personal-data.js';
import { PERSONAL_DATA_DOC, renderPersonalDataDoc } from '../../prisma/personal-data-doc.js';
import { ownerPool } from '../support/db.js';

const owner = ownerPool();

/** `table.column` of every column the migrations created, read from information_schema (no list). */
async function databaseColumns(): Promise<string[]> {
  const { rows } = await owner.query<{ name: string }>(
    `SELECT c.table_name || '.' || c.column_name AS name
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name <> '_prisma_migrations'
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

function inventoryColumns(): string[] {
  return Object.entries(PERSONAL_DATA)
    .flatMap(([table, entry]) => [...Object.keys(entry.personal), ...entry.notPersonal].map((column) => `${table}.${column}`))
    .sort();
}

// Issue 21, part 1: prisma/personal-data.ts classifies every column; a migration that adds a table
// or a column without classifying it fails here, as catalog.spec.ts fails on a table without RLS.
describe('personal-data inventory (prisma/personal-data.ts)', () => {
  it('classifies every table and column of the migrated database, and nothing that is not there', async () => {
    const inDatabase = await databaseColumns();
    const inInventory = inventoryColumns();
    expect({ unclassified: inDatabase.filter((c) => !inInventory.includes(c)), stale: inInventory.filter((c) => !inDatabase.includes(c)) }).toEqual({ unclassified: [], stale: [] });
  });

  it('the check is not vacuous: a column added by a migration is reported as unclassified', async () => {
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE users ADD COLUMN phone_probe text');
      const { rows } = await client.query<{ name: string }>(
        `SELECT table_name || '.' || column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'`,
      );
      const unclassified = rows.map((r) => r.name).filter((c) => !inventoryColumns().includes(c));
      expect(unclassified).toEqual(['users.phone_probe']);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('names each column once, as personal or not, and gives every table a retention rule', () => {
    const problems: string[] = [];
    for (const [table, entry] of Object.entries(PERSONAL_DATA)) {
      for (const column of Object.keys(entry.personal).filter((c) => entry.notPersonal.includes(c))) problems.push(`${table}.${column}: both personal and not`);
      if (new Set(entry.notPersonal).size !== entry.notPersonal.length) problems.push(`${table}: a column named twice`);
      if (entry.retention.trim() === '') problems.push(`${table}: no retention rule`);
      for (const [column, info] of Object.entries(entry.personal)) if (info.purpose.trim() === '') problems.push(`${table}.${column}: no purpose`);
    }
    expect(problems).toEqual([]);
  });

  it('docs/personal-data.md is exactly what the generator writes', () => {
    expect(readFileSync(join(projectRoot(), PERSONAL_DATA_DOC), 'utf8')).toBe(renderPersonalDataDoc());
  });

  it('`npm run docs:personal-data -- <file>` writes the same file', () => {
    const target = join(mkdtempSync(join(tmpdir(), 'personal-data-')), 'personal-data.md');
    const run = spawnSync(process.execPath, [join(projectRoot(), 'apps/dev/run.mjs'), 'prisma/personal-data-doc.cli.js', target], { cwd: projectRoot(), encoding: 'utf8', timeout: 120_000 });
    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(join(projectRoot(), PERSONAL_DATA_DOC), 'utf8'));
  }, 150_000);
});
