import { PERSONAL_DATA, type TableInventory } from './personal-data.js';

/** Where `npm run docs:personal-data` writes the inventory, relative to the repository root. */
export const PERSONAL_DATA_DOC = 'docs/personal-data.md';

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(name: string, entry: TableInventory): string[] {
  const lines = [`### \`${name}\``, '', `${entry.about}. Whose data: ${entry.subjects}. Retention: **${entry.retention}**.`, ''];
  const personal = Object.entries(entry.personal);
  if (personal.length === 0) {
    lines.push('No personal data.', '');
  } else {
    lines.push('| column | category | purpose | on erasure |', '| --- | --- | --- | --- |');
    for (const [column, info] of personal) lines.push(`| \`${column}\` | ${info.category} | ${cell(info.purpose)} | ${info.erasure} |`);
    lines.push('');
  }
  lines.push(`Other columns (no personal data): ${entry.notPersonal.map((c) => `\`${c}\``).join(', ')}.`, '');
  return lines;
}

/**
 * docs/personal-data.md, generated from prisma/personal-data.ts. Deterministic (tables in name
 * order, no dates), so test/integration/personal-data.spec.ts can compare the file byte for byte.
 */
export function renderPersonalDataDoc(): string {
  const names = Object.keys(PERSONAL_DATA).sort();
  const withData = names.filter((n) => Object.keys(PERSONAL_DATA[n]!.personal).length > 0);
  const lines = [
    '# Personal-data inventory',
    '',
    '<!-- Generated from prisma/personal-data.ts by `npm run docs:personal-data`; do not edit by hand.',
    '     test/integration/personal-data.spec.ts fails when this file differs from what the generator writes. -->',
    '',
    'Every table of the database and every column of it: which columns hold personal data, of what kind, why,',
    'what a data subject erasure does to them, and the retention rule of the table. How the inventory is kept',
    'complete and how requests are served: [privacy.md](privacy.md). Engineering support, not legal advice.',
    '',
    `${names.length} tables, ${withData.length} with personal data.`,
    '',
    '| table | personal columns | retention |',
    '| --- | --- | --- |',
    ...names.map((n) => {
      const entry = PERSONAL_DATA[n]!;
      const cols = Object.keys(entry.personal);
      return `| [\`${n}\`](#${n}) | ${cols.length === 0 ? 'none' : cols.map((c) => `\`${c}\``).join(', ')} | ${cell(entry.retention)} |`;
    }),
    '',
    '## Categories',
    '',
    '- **identity**: names a person (a name, a display name).',
    '- **contact**: reaches a person (an email address).',
    '- **financial**: about money owed or paid (a tax id).',
    '- **free_text**: text someone typed, which may contain personal data about anyone.',
    '- **credential**: a secret or a hash of one.',
    '- **network**: an IP address or user agent.',
    '- **pseudonymous_id**: a key pointing at a person\'s row; it identifies no one once that row is erased.',
    '- **file**: the name or contents of an uploaded or exported file.',
    '',
    '## Tables',
    '',
    ...names.flatMap((n) => table(n, PERSONAL_DATA[n]!)),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}
