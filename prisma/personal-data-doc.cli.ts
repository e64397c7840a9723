import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '@benteng/database';
import { PERSONAL_DATA_DOC, renderPersonalDataDoc } from './personal-data-doc.js';

// `npm run docs:personal-data` writes docs/personal-data.md from prisma/personal-data.ts;
// `npm run docs:personal-data -- <file>` writes it elsewhere (the spec compares the two).
const target = process.argv[2] ? resolve(process.argv[2]) : join(projectRoot(), PERSONAL_DATA_DOC);
writeFileSync(target, renderPersonalDataDoc());
process.stdout.write(`wrote ${target}\n`);
