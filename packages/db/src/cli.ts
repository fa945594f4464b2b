/**
 * Schema commands: `up` applies pending migrations; `create` writes a new migration from the
 * difference between the entities and the database at DATABASE_URL.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrm, migrate } from './orm';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL must name the database to migrate.');
  process.exit(2);
}

const orm = await createOrm({ url, poolMax: 2 });
try {
  const command = process.argv[2];
  if (command === 'up') {
    const applied = await migrate(orm);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Schema is up to date.');
  } else if (command === 'create') {
    const result = await orm.getMigrator().createMigration(path.join(root, 'migrations'), false, false, process.argv[3]);
    if (!result.fileName) {
      console.log('No schema changes.');
    } else {
      const name = result.fileName.replace(/\.ts$/, '');
      const indexFile = path.join(root, 'migrations/index.ts');
      const index = await readFile(indexFile, 'utf8');
      const cls = result.code.match(/export class (\w+)/)?.[1] ?? name;
      const updated = index
        .replace('// @imports', `import { ${cls} } from './${name}';\n// @imports`)
        .replace('  // @list', `  { name: '${name}', class: ${cls} },\n  // @list`);
      await writeFile(indexFile, updated);
      console.log(`Created migrations/${result.fileName}`);
    }
  } else {
    console.error('usage: cli.ts up | create [name]');
    process.exitCode = 2;
  }
} finally {
  await orm.close(true);
}
