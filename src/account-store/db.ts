// The account store's database: PostgreSQL through `pg` when a URL is given, otherwise an embedded
// PostgreSQL (PGlite) in a directory (or in memory, for tests). Both run the same SQL.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, type PoolClient } from 'pg';
import { PGlite } from '@electric-sql/pglite';

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>;
}

export interface Database extends Queryable {
  /** 'postgres' (a server through pg) or 'pglite' (embedded). */
  readonly engine: 'postgres' | 'pglite';
  /** Runs fn in one transaction on one connection. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… : a PostgreSQL server. */
  url?: string;
  /** PGlite data directory; undefined with no url: in memory. */
  dataDir?: string;
  /** pg pool size. Default 5. */
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const pool = new Pool({ connectionString: options.url, max: options.poolSize ?? 5 });
    // An idle client that loses its server must not crash the process: the next query reports it.
    pool.on('error', () => undefined);
    const asQueryable = (c: Pool | PoolClient): Queryable => ({
      async query(sql, params) {
        const r = await c.query(sql, params as unknown[]);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      },
    });
    await pool.query('SELECT 1');
    return {
      engine: 'postgres',
      ...asQueryable(pool),
      async transaction(fn) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const result = await fn(asQueryable(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      },
      close: () => pool.end(),
    };
  }
  let unlock = () => undefined as void;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    unlock = lockDataDir(options.dataDir);
  }
  const db = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  try {
    await db.waitReady;
  } catch (err) {
    unlock();
    throw err;
  }
  const rowCount = (r: { rows: unknown[]; affectedRows?: number; command?: string }) =>
    r.command === 'SELECT' ? r.rows.length : (r.affectedRows ?? r.rows.length);
  return {
    engine: 'pglite',
    async query(sql, params) {
      const r = await db.query(sql, params);
      return { rows: r.rows as never[], rowCount: rowCount(r as never) };
    },
    transaction(fn) {
      return db.transaction((tx) =>
        fn({
          async query(sql, params) {
            const r = await tx.query(sql, params);
            return { rows: r.rows as never[], rowCount: rowCount(r as never) };
          },
        }),
      );
    },
    close: async () => {
      await db.close();
      unlock();
    },
  };
}

/** The embedded database is one process's: a second process opening the same directory would corrupt it. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
}

function lockDataDir(dir: string): () => void {
  const lock = join(dir, 'account-store.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
      if (alive) throw new DataDirInUse(`the embedded account store in ${dir} is in use by process ${pid}`);
      rmSync(lock, { force: true }); // left by a process that is gone
    }
  }
  throw new DataDirInUse(`the embedded account store in ${dir} could not be locked`);
}
