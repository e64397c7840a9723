import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { ownerPool } from '../support/db.js';

/**
 * docs/scaling.md, "Sharding PostgreSQL by tenant (Citus)": the plan classifies every table as
 * distributed (by tenant_id), reference or local, and lists the unique keys that Citus would refuse.
 * This spec reads both tables of that section and checks them against the migrated schema, so a
 * table added without a classification, or a key that would not shard, fails here.
 */
const owner = ownerPool();
const doc = readFileSync(join(projectRoot(), 'docs', 'scaling.md'), 'utf8');

type Class = 'distributed' | 'reference' | 'local';

/** The section's rows `| \`name\` | class | … |` and `| \`index\` | \`table\` | … |`. */
function readPlan(markdown: string): { classes: Map<string, Class>; globalUniques: Map<string, string> } {
  const start = markdown.indexOf('## Sharding PostgreSQL by tenant');
  if (start < 0) throw new Error('docs/scaling.md has no "Sharding PostgreSQL by tenant" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const classes = new Map<string, Class>();
  const globalUniques = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cls = /^\| `([a-z_]+)` \| (distributed|reference|local) \|/.exec(line);
    if (cls) {
      if (classes.has(cls[1]!)) throw new Error(`docs/scaling.md classifies ${cls[1]} twice`);
      classes.set(cls[1]!, cls[2] as Class);
      continue;
    }
    const unique = /^\| `([a-z_]+)` \| `([a-z_]+)` \|/.exec(line);
    if (unique) globalUniques.set(unique[1]!, unique[2]!);
  }
  return { classes, globalUniques };
}

interface TableInfo {
  name: string;
  hasTenant: boolean;
  pk: string[];
}

async function tables(): Promise<TableInfo[]> {
  const { rows } = await owner.query<TableInfo>(
    `SELECT c.relname AS name,
            EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS "hasTenant",
            COALESCE((SELECT array_agg(a.attname::text ORDER BY k.ord)
                        FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute a
                       WHERE i.indrelid = c.oid AND i.indisprimary AND a.attrelid = c.oid AND a.attnum = k.attnum), '{}') AS pk
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
      ORDER BY 1`,
  );
  return rows;
}

describe('the Citus sharding plan in docs/scaling.md matches the schema', () => {
  it('classifies every table, and only existing ones', async () => {
    const { classes } = readPlan(doc);
    const names = (await tables()).map((t) => t.name);
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !classes.has(n)), 'tables without a classification in docs/scaling.md').toEqual([]);
    expect([...classes.keys()].filter((n) => !names.includes(n)), 'docs/scaling.md classifies tables that do not exist').toEqual([]);
  });

  it('distributed tables have tenant_id and a primary key leading with it; reference and local tables have no tenant_id', async () => {
    const { classes } = readPlan(doc);
    const wrong: string[] = [];
    for (const table of await tables()) {
      const cls = classes.get(table.name);
      if (cls === 'distributed') {
        if (!table.hasTenant) wrong.push(`${table.name}: distributed without tenant_id`);
        if (table.pk[0] !== 'tenant_id') wrong.push(`${table.name}: distributed, primary key (${table.pk.join(', ')}) does not lead with tenant_id`);
      } else if (cls && table.hasTenant) {
        wrong.push(`${table.name}: ${cls} but has tenant_id (distribute it)`);
      }
    }
    expect(wrong).toEqual([]);
    expect([...classes.values()].filter((c) => c === 'distributed').length).toBeGreaterThan(10);
    expect([...classes.values()].filter((c) => c === 'reference').length).toBeGreaterThan(1);
  });

  it('every foreign key could exist on Citus: distributed-to-distributed ones include tenant_id on both sides, none points from a reference or local table at a distributed one', async () => {
    const { classes } = readPlan(doc);
    const { rows } = await owner.query<{ name: string; from: string; to: string; fromCols: string[]; toCols: string[] }>(
      `SELECT con.conname AS name, con.conrelid::regclass::text AS "from", con.confrelid::regclass::text AS "to",
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(n, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS "fromCols",
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY AS k(n, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) AS "toCols"
         FROM pg_constraint con
        WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace`,
    );
    expect(rows.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const fk of rows) {
      const [from, to] = [classes.get(fk.from), classes.get(fk.to)];
      if (from === 'distributed' && to === 'distributed') {
        const i = fk.fromCols.indexOf('tenant_id');
        if (i < 0 || fk.toCols[i] !== 'tenant_id') wrong.push(`${fk.name}: ${fk.from} → ${fk.to} without tenant_id on both sides`);
      } else if (from !== 'distributed' && to === 'distributed') {
        wrong.push(`${fk.name}: ${from} table ${fk.from} → distributed ${fk.to}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the unique keys without tenant_id on distributed tables are exactly the ones the plan lists', async () => {
    const { classes, globalUniques } = readPlan(doc);
    const { rows } = await owner.query<{ index: string; table: string; cols: string[] }>(
      `SELECT i.indexrelid::regclass::text AS index, i.indrelid::regclass::text AS "table",
              (SELECT array_agg(a.attname::text) FROM unnest(i.indkey) AS k(n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) AS cols
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE i.indisunique AND c.relnamespace = 'public'::regnamespace`,
    );
    const found = new Map(rows.filter((r) => classes.get(r.table) === 'distributed' && !(r.cols ?? []).includes('tenant_id')).map((r) => [r.index, r.table]));
    expect(found.size).toBeGreaterThan(0);
    expect(Object.fromEntries(globalUniques)).toEqual(Object.fromEntries(found));
  });
});

describe('readPlan reads what the section says', () => {
  const sample = [
    '## Sharding PostgreSQL by tenant (Citus): the plan',
    '| Table | Class | Why |',
    '|---|---|---|',
    '| `invoices` | distributed | |',
    '| `users` | reference | global |',
    '| `x_key` | `invoices` | change |',
    '## Next',
    '| `tickets` | distributed | outside the section |',
  ].join('\n');

  it('takes rows of the section only, and the unique-key list', () => {
    const plan = readPlan(sample);
    expect(Object.fromEntries(plan.classes)).toEqual({ invoices: 'distributed', users: 'reference' });
    expect(Object.fromEntries(plan.globalUniques)).toEqual({ x_key: 'invoices' });
  });
});
