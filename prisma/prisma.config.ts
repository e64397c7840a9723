// Prisma 7 CLI configuration. Only `prisma generate` is used on machines without internet access;
// migrations are applied by `npm run db:migrate` (see docs/architecture.md, "Migrations"), which records
// them exactly as `prisma migrate deploy` does.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://benteng_owner@127.0.0.1:5432/benteng',
  },
});
