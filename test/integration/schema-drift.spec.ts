import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import internals from '@prisma/internals';
import { Prisma, projectRoot } from '@benteng/database';
import { ownerPool, tenantDatabase } from '../support/db.js';
import type { Queryable } from '../support/catalog.js';

/**
 * `prisma migrate diff` needs the native schema engine, which offline machines lack, so this
 * file does its job: the migrated database (pg_catalog of `public`) must match the data model
 * that schema.prisma describes, and the generated client must have been generated from that
 * schema. Either kind of drift makes the client send queries the database does not expect.
 */

const { getDMMF } = internals;
type Document = Awaited<ReturnType<typeof getDMMF>>;
type Model = Document['datamodel']['models'][number];
type Field = Model['fields'][number];

const MIGRATIONS_TABLE = '_prisma_migrations';

/** Prisma's referential actions, keyed by pg_constraint.confdeltype / confupdtype. */
const ACTIONS: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

interface DbColumn {
  table: string;
  name: string;
  not_null: boolean;
  /** format_type() output, or `enum <typname>` (plus `[]`) so enums compare by name. */
  type: string;
}

interface DbIndex {
  table: string;
  name: string;
  is_unique: boolean;
  is_primary: boolean;
  is_partial: boolean;
  /** null entries are expressions, which schema.prisma cannot describe. */
  columns: (string | null)[];
}

interface DbForeignKey {
  table: string;
  name: string;
  columns: string[];
  ref_table: string;
  ref_columns: string[];
  on_delete: string;
  on_update: string;
}

interface DbSnapshot {
  tables: string[];
  columns: DbColumn[];
  indexes: DbIndex[];
  foreignKeys: DbForeignKey[];
  enums: Map<string, string[]>;
}

async function readDatabase(client: Queryable, schema: string): Promise<DbSnapshot> {
  const tables = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> $2 ORDER BY c.relname`,
    [schema, MIGRATIONS_TABLE],
  );
  const columns = await client.query<DbColumn>(
    `SELECT c.relname AS table, a.attname AS name, a.attnotnull AS not_null,
            CASE WHEN base.typtype = 'e'
                 THEN 'enum ' || base.typname || CASE WHEN t.typelem <> 0 AND t.typsubscript <> 0 THEN '[]' ELSE '' END
                 ELSE format_type(a.atttypid, a.atttypmod) END AS type
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type base ON base.oid = CASE WHEN t.typelem <> 0 AND t.typsubscript <> 0 THEN t.typelem ELSE t.oid END
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
    [schema],
  );
  const indexes = await client.query<DbIndex>(
    `SELECT c.relname AS table, ic.relname AS name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
            i.indpred IS NOT NULL AS is_partial,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      ORDER BY c.relname, ic.relname`,
    [schema],
  );
  const foreignKeys = await client.query<DbForeignKey>(
    `SELECT c.relname AS table, con.conname AS name,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            CASE WHEN rn.nspname = $1 THEN rc.relname ELSE rn.nspname || '.' || rc.relname END AS ref_table,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns,
            con.confdeltype AS on_delete, con.confupdtype AS on_update
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class rc ON rc.oid = con.confrelid
       JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE n.nspname = $1 AND con.contype = 'f'
      ORDER BY c.relname, con.conname`,
    [schema],
  );
  const enums = await client.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 AND t.typtype = 'e'
      ORDER BY t.typname`,
    [schema],
  );
  return {
    tables: tables.rows.map((r) => r.name),
    columns: columns.rows,
    indexes: indexes.rows,
    foreignKeys: foreignKeys.rows,
    enums: new Map(enums.rows.map((r) => [r.name, r.labels])),
  };
}

const tableOf = (model: Model) => model.dbName ?? model.name;
const columnOf = (field: Field) => field.dbName ?? field.name;
const list = (columns: readonly (string | null)[]) => `(${columns.map((c) => c ?? '<expression>').join(', ')})`;
const isColumn = (field: Field) => field.kind === 'scalar' || field.kind === 'enum' || field.kind === 'unsupported';

/**
 * The column type Prisma's migrate engine creates for a field, spelled as format_type() prints it.
 * Undefined means this file has not learned the mapping yet, which is reported rather than skipped.
 */
function expectedType(field: Field, enumDbNames: Map<string, string>): string | undefined {
  const suffix = field.isList ? '[]' : '';
  if (field.kind === 'enum') return `enum ${enumDbNames.get(field.type) ?? field.type}${suffix}`;
  const [native, args = []] = field.nativeType ?? [];
  const precision = args.length > 0 ? `(${args.join(',')})` : '';
  const byNative: Record<string, Record<string, string>> = {
    String: { '': 'text', Text: 'text', Uuid: 'uuid', Char: `character${precision}`, VarChar: `character varying${precision}`, Xml: 'xml', Inet: 'inet', Citext: 'citext' },
    Int: { '': 'integer', Integer: 'integer', SmallInt: 'smallint', Oid: 'oid' },
    BigInt: { '': 'bigint', BigInt: 'bigint' },
    Boolean: { '': 'boolean', Boolean: 'boolean' },
    Float: { '': 'double precision', DoublePrecision: 'double precision', Real: 'real' },
    Decimal: { '': 'numeric(65,30)', Decimal: `numeric${precision}`, Money: 'money' },
    // Bare DateTime is timestamp(3) WITHOUT time zone in Prisma; this schema always says which.
    DateTime: {
      '': 'timestamp(3) without time zone',
      Timestamp: `timestamp${precision} without time zone`,
      Timestamptz: `timestamp${precision} with time zone`,
      Date: 'date',
      Time: `time${precision} without time zone`,
      Timetz: `time${precision} with time zone`,
    },
    Json: { '': 'jsonb', Json: 'json', JsonB: 'jsonb' },
    Bytes: { '': 'bytea', ByteA: 'bytea' },
  };
  const type = byNative[field.type]?.[native ?? ''];
  return type === undefined ? undefined : `${type}${suffix}`;
}

/** Every difference between the data model and the database, as sentences a reviewer can act on. */
async function schemaDrift(dmmf: Document, client: Queryable, schema = 'public'): Promise<string[]> {
  const db = await readDatabase(client, schema);
  const drift: string[] = [];
  const models = dmmf.datamodel.models;
  const modelByName = new Map(models.map((m) => [m.name, m]));
  const enumDbNames = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));

  const modelTables = new Set(models.map(tableOf));
  for (const table of db.tables) {
    if (!modelTables.has(table)) drift.push(`table ${table} is in the database but no model maps to it`);
  }

  for (const model of models) {
    const table = tableOf(model);
    if (!db.tables.includes(table)) {
      drift.push(`model ${model.name}: table ${table} does not exist in the database`);
      continue;
    }
    const fieldColumn = (name: string) => {
      const field = model.fields.find((f) => f.name === name);
      return field ? columnOf(field) : `<unknown field ${name}>`;
    };

    // Columns: presence, nullability, type.
    const dbColumns = new Map(db.columns.filter((c) => c.table === table).map((c) => [c.name, c]));
    const fields = model.fields.filter(isColumn);
    for (const field of fields) {
      const at = `${model.name}.${field.name} (${table}.${columnOf(field)})`;
      const column = dbColumns.get(columnOf(field));
      if (!column) {
        drift.push(`${at}: column does not exist in the database`);
        continue;
      }
      // Prisma creates list columns without NOT NULL, whatever isRequired says.
      if (!field.isList && field.isRequired !== column.not_null) {
        drift.push(
          field.isRequired
            ? `${at}: required in schema.prisma but nullable in the database`
            : `${at}: optional in schema.prisma but NOT NULL in the database`,
        );
      }
      if (field.kind === 'unsupported') continue;
      const expected = expectedType(field, enumDbNames);
      const declared = `${field.type}${field.nativeType ? ` @db.${field.nativeType[0]}${field.nativeType[1].length ? `(${field.nativeType[1].join(',')})` : ''}` : ''}`;
      if (expected === undefined) drift.push(`${at}: no known PostgreSQL type for ${declared}; teach expectedType() the mapping`);
      else if (expected !== column.type) drift.push(`${at}: ${declared} means ${expected}, but the database has ${column.type}`);
    }
    const fieldColumns = new Set(fields.map(columnOf));
    for (const name of dbColumns.keys()) {
      if (!fieldColumns.has(name)) drift.push(`${table}.${name}: column is in the database but not in model ${model.name}`);
    }

    // Primary key, in order.
    const expectedPk = (model.primaryKey?.fields ?? model.fields.filter((f) => f.isId).map((f) => f.name)).map(fieldColumn);
    const tableIndexes = db.indexes.filter((i) => i.table === table);
    const actualPk = tableIndexes.find((i) => i.is_primary)?.columns ?? [];
    if (list(expectedPk) !== list(actualPk)) {
      drift.push(`model ${model.name}: primary key is ${list(expectedPk)} in schema.prisma but ${list(actualPk)} in the database`);
    }

    // Unique and plain indexes, matched on their exact column lists.
    const declaredIndexes = dmmf.datamodel.indexes.filter((i) => i.model === model.name);
    const expectedUnique = [
      ...model.uniqueFields.map((names) => names.map(fieldColumn)),
      ...model.fields.filter((f) => f.isUnique).map((f) => [columnOf(f)]),
    ].map(list);
    const expectedPlain = declaredIndexes
      .filter((i) => i.type === 'normal' || i.type === 'fulltext')
      .map((i) => list(i.fields.map((f) => fieldColumn(f.name))));
    const secondary = tableIndexes.filter((i) => !i.is_primary);
    for (const [kind, expected, unique] of [
      ['@@unique', expectedUnique, true],
      ['@@index', expectedPlain, false],
    ] as const) {
      const actual = secondary.filter((i) => i.is_unique === unique && !i.is_partial).map((i) => list(i.columns));
      for (const columns of expected) {
        if (!actual.includes(columns)) {
          drift.push(`model ${model.name}: ${kind}${columns} has no ${unique ? 'unique ' : ''}index on exactly those columns in the database`);
        }
      }
    }
    for (const index of secondary) {
      const declared = (index.is_unique ? expectedUnique : expectedPlain).includes(list(index.columns));
      if (index.is_partial || !declared) {
        drift.push(
          `${table}: ${index.is_unique ? 'unique ' : ''}index ${index.name} ${list(index.columns)}${index.is_partial ? ' (partial)' : ''} is not declared in model ${model.name}`,
        );
      }
    }

    // Foreign keys: every relation that holds the keys has one, with the same referential actions.
    const dbForeignKeys = db.foreignKeys.filter((fk) => fk.table === table);
    const matched = new Set<string>();
    for (const relation of model.fields.filter((f) => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)) {
      const target = modelByName.get(relation.type);
      if (!target) {
        drift.push(`${model.name}.${relation.name}: relation to unknown model ${relation.type}`);
        continue;
      }
      const targetColumn = (name: string) => columnOf(target.fields.find((f) => f.name === name) ?? ({ name } as Field));
      const columns = list((relation.relationFromFields ?? []).map(fieldColumn));
      const refColumns = list((relation.relationToFields ?? []).map(targetColumn));
      const describe = `${table} ${columns} -> ${tableOf(target)} ${refColumns}`;
      const fk = dbForeignKeys.find(
        (k) => list(k.columns) === columns && k.ref_table === tableOf(target) && list(k.ref_columns) === refColumns,
      );
      if (!fk) {
        drift.push(`${model.name}.${relation.name}: foreign key ${describe} does not exist in the database`);
        continue;
      }
      matched.add(fk.name);
      // Prisma's defaults: Restrict for a required relation, SetNull for an optional one; Cascade on update.
      const onDelete = relation.relationOnDelete ?? (relation.isRequired ? 'Restrict' : 'SetNull');
      const onUpdate = relation.relationOnUpdate ?? 'Cascade';
      for (const [clause, expected, actual] of [
        ['ON DELETE', onDelete, ACTIONS[fk.on_delete]],
        ['ON UPDATE', onUpdate, ACTIONS[fk.on_update]],
      ] as const) {
        if (expected !== actual) drift.push(`${model.name}.${relation.name}: foreign key ${describe} is ${clause} ${actual} in the database but ${expected} in schema.prisma`);
      }
    }
    for (const fk of dbForeignKeys.filter((k) => !matched.has(k.name))) {
      drift.push(`${table}: foreign key ${fk.name} ${list(fk.columns)} -> ${fk.ref_table} ${list(fk.ref_columns)} is not declared by any relation in model ${model.name}`);
    }
  }

  // Enums: same labels in the same order (the order is what ORDER BY on an enum column uses).
  const declaredEnums = new Set<string>();
  for (const e of dmmf.datamodel.enums) {
    const name = e.dbName ?? e.name;
    declaredEnums.add(name);
    const labels = e.values.map((v) => v.dbName ?? v.name);
    const actual = db.enums.get(name);
    if (!actual) drift.push(`enum ${e.name}: type ${name} does not exist in the database`);
    else if (list(labels) !== list(actual)) drift.push(`enum ${e.name}: labels are ${list(labels)} in schema.prisma but ${list(actual)} in the database`);
  }
  for (const name of db.enums.keys()) {
    if (!declaredEnums.has(name)) drift.push(`enum type ${name} is in the database but not in schema.prisma`);
  }
  return drift;
}

/** The part of the client's runtime data model this file compares (Prisma-internal shape). */
interface RuntimeDataModel {
  models: Record<string, { dbName: string | null; fields: { name: string; kind: string; type: string; dbName?: string | null }[] }>;
}

/** Differences between schema.prisma and the generated client: a stale `npm run db:generate`. */
function clientDrift(dmmf: Document, runtime: RuntimeDataModel): string[] {
  const drift: string[] = [];
  const declared = new Set(dmmf.datamodel.models.map((m) => m.name));
  for (const name of Object.keys(runtime.models)) {
    if (!declared.has(name)) drift.push(`the generated client has model ${name}, which schema.prisma does not`);
  }
  const publicModelNames = new Set<string>(Object.values(Prisma.ModelName));
  for (const model of dmmf.datamodel.models) {
    const generated = runtime.models[model.name];
    if (!generated || !publicModelNames.has(model.name)) {
      drift.push(`model ${model.name} is missing from the generated client`);
      continue;
    }
    if (tableOf(model) !== (generated.dbName ?? model.name)) {
      drift.push(`model ${model.name}: maps to ${tableOf(model)} in schema.prisma but to ${generated.dbName ?? model.name} in the generated client`);
    }
    const generatedFields = new Map(generated.fields.map((f) => [f.name, f]));
    for (const field of model.fields) {
      const g = generatedFields.get(field.name);
      if (!g) drift.push(`${model.name}.${field.name} is missing from the generated client`);
      else if (columnOf(field) !== (g.dbName ?? g.name) || field.kind !== g.kind || field.type !== g.type) {
        drift.push(`${model.name}.${field.name}: ${field.kind} ${field.type} -> ${columnOf(field)} in schema.prisma but ${g.kind} ${g.type} -> ${g.dbName ?? g.name} in the generated client`);
      }
      generatedFields.delete(field.name);
    }
    for (const name of generatedFields.keys()) drift.push(`${model.name}.${name} is in the generated client but not in schema.prisma`);
  }
  return drift;
}

/** Makes a deep copy of the DMMF that a test may edit (the published type is deeply readonly). */
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
function editableCopy(dmmf: Document): Mutable<Document> {
  return structuredClone(dmmf) as Mutable<Document>;
}

describe('schema drift: migrations vs schema.prisma vs generated client', () => {
  const owner = ownerPool();
  const { prisma } = tenantDatabase();
  let dmmf: Document;

  beforeAll(async () => {
    dmmf = await getDMMF({ datamodel: readFileSync(join(projectRoot(), 'prisma', 'schema.prisma'), 'utf8') });
  });

  it('the migrated database matches schema.prisma', async () => {
    expect(await schemaDrift(dmmf, owner)).toEqual([]);
  });

  it('the generated client was generated from schema.prisma', () => {
    // The client keeps the data model it was generated with; no public API exposes the db names.
    const runtime = (prisma.client as unknown as { _runtimeDataModel?: RuntimeDataModel })._runtimeDataModel;
    if (!runtime) {
      throw new Error(
        'The Prisma client no longer exposes _runtimeDataModel; read `config.runtimeDataModel` from ' +
          "the generated client's internal/class.ts instead.",
      );
    }
    expect(clientDrift(dmmf, runtime)).toEqual([]);
  });

  it('reports a generated client that does not match schema.prisma', () => {
    const runtime = (prisma.client as unknown as { _runtimeDataModel: RuntimeDataModel })._runtimeDataModel;
    const altered = editableCopy(dmmf);
    const invoice = altered.datamodel.models.find((m) => m.name === 'Invoice')!;
    invoice.fields.find((f) => f.name === 'customerName')!.dbName = 'customer';
    invoice.fields = invoice.fields.filter((f) => f.name !== 'version');
    expect(clientDrift(altered as Document, runtime)).toEqual([
      'Invoice.customerName: scalar String -> customer in schema.prisma but scalar String -> customer_name in the generated client',
      'Invoice.version is in the generated client but not in schema.prisma',
    ]);
  });

  it('reports drift in every part it compares', async () => {
    const altered = editableCopy(dmmf);
    const model = (name: string) => altered.datamodel.models.find((m) => m.name === name)!;
    const field = (m: string, f: string) => model(m).fields.find((x) => x.name === f)!;

    const invoice = model('Invoice');
    invoice.fields = invoice.fields.filter((f) => f.name !== 'customerTaxId');
    field('Invoice', 'customerEmail').isRequired = true;
    field('Invoice', 'currency').nativeType = ['Char', ['4']];
    field('InvoiceLine', 'invoice').relationOnDelete = 'Restrict';
    invoice.uniqueFields = [];
    model('Membership').primaryKey = { name: null, fields: ['id'] };
    altered.datamodel.enums.find((e) => e.name === 'InvoiceStatus')!.values.push({ name: 'refunded', dbName: null });
    model('User').dbName = 'people';

    // Every relation into the renamed users table drifts too; those are checked by shape below, so
    // a new table referencing users does not have to be listed here.
    const intoRenamedUsers = /^(\w+\.\w+: foreign key \w+ \(\w+\) -> people \(id\) does not exist in the database|\w+: foreign key \w+ \(\w+\) -> users \(id\) is not declared by any relation in model \w+)$/;
    const all = await schemaDrift(altered as Document, owner);
    const drift = all.filter((line) => !intoRenamedUsers.test(line) || /^(Membership\.user|memberships:|Invoice\.createdBy|invoices:)/.test(line));
    const referencingUsers = all.filter((line) => intoRenamedUsers.test(line));
    // Each foreign key into users shows up from both sides.
    expect(referencingUsers.filter((l) => l.includes('-> people')).length).toBe(referencingUsers.filter((l) => l.includes('-> users')).length);
    expect(referencingUsers.length).toBeGreaterThanOrEqual(4);
    expect([...drift].sort()).toEqual(
      [
        'invoices.customer_tax_id: column is in the database but not in model Invoice',
        'Invoice.customerEmail (invoices.customer_email): required in schema.prisma but nullable in the database',
        'Invoice.currency (invoices.currency): String @db.Char(4) means character(4), but the database has character(3)',
        'InvoiceLine.invoice: foreign key invoice_lines (tenant_id, invoice_id) -> invoices (tenant_id, id) is ON DELETE Cascade in the database but Restrict in schema.prisma',
        'invoices: unique index invoices_tenant_id_number_key (tenant_id, number) is not declared in model Invoice',
        'model Membership: primary key is (id) in schema.prisma but (tenant_id, id) in the database',
        "enum InvoiceStatus: labels are (draft, issued, paid, void, refunded) in schema.prisma but (draft, issued, paid, void) in the database",
        'table users is in the database but no model maps to it',
        'model User: table people does not exist in the database',
        // The relations into the renamed table now point at a table that is not there.
        'Membership.user: foreign key memberships (user_id) -> people (id) does not exist in the database',
        'memberships: foreign key memberships_user_id_fkey (user_id) -> users (id) is not declared by any relation in model Membership',
        'Invoice.createdBy: foreign key invoices (created_by_id) -> people (id) does not exist in the database',
        'invoices: foreign key invoices_created_by_id_fkey (created_by_id) -> users (id) is not declared by any relation in model Invoice',
      ].sort(),
    );
  });
});
