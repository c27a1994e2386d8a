// The layout shows the architecture, and the code keeps to it: every part has a README saying what it
// owns and what it may import, and the imports follow those lines; the workflow bundle holds deterministic
// code only; nothing loads the HubSpot emulator but tests, benchmarks and the main job's development mode;
// the layout table of the top-level README names what is in the tree.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';

const ROOT = join(__dirname, '..');
const CODE_ROOTS = ['src', 'workflows', 'activities', 'hubspot-emulator', 'scripts'];

const posix = (p: string) => p.split(sep).join('/');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const rel = posix(join(dir, name));
    if (statSync(join(ROOT, rel)).isDirectory()) walk(rel, out);
    else out.push(rel);
  }
  return out;
}

interface Import {
  spec: string;
  /** Resolved repository path, for relative imports. */
  target?: string;
  typeOnly: boolean;
  dynamic: boolean;
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = posix(normalize(join(dirname(from), spec)));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (existsSync(join(ROOT, candidate)) && statSync(join(ROOT, candidate)).isFile()) return candidate;
  }
  return undefined;
}

function importsOf(file: string): Import[] {
  const code = readFileSync(join(ROOT, file), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const found: Import[] = [];
  const add = (spec: string, typeOnly: boolean, dynamic: boolean) =>
    found.push({ spec, typeOnly, dynamic, target: spec.startsWith('.') ? resolveImport(file, spec) : undefined });
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)'/gms))
    add(m[4]!, Boolean(m[2]), false);
  for (const m of code.matchAll(/^\s*import\s+'([^']+)'/gm)) add(m[1]!, false, false);
  for (const m of code.matchAll(/\bimport\(\s*(?:\/\*[^*]*\*\/\s*)?'([^']+)'\s*\)/g)) add(m[1]!, false, true);
  for (const m of code.matchAll(/\brequire(?:\.resolve)?\(\s*'([^']+)'\s*\)/g)) add(m[1]!, false, false);
  return found;
}

const files = CODE_ROOTS.flatMap((r) => walk(r)).filter((f) => /\.(ts|mjs)$/.test(f));

/** A part is a folder with a README.md that says what it may import. */
interface Part {
  folder: string;
  mayImport: string[];
  mayImportTypes: string[];
}

function listAfter(readme: string, label: string): string[] | undefined {
  const line = readme.split('\n').find((l) => l.replace(/\*/g, '').startsWith(`${label}:`));
  if (line === undefined) return undefined;
  return [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ''));
}

const parts: Part[] = CODE_ROOTS.flatMap((r) => [r, ...walk(r).map((f) => dirname(f))])
  .filter((d, i, all) => all.indexOf(d) === i && existsSync(join(ROOT, d, 'README.md')))
  .map((folder) => {
    const readme = readFileSync(join(ROOT, folder, 'README.md'), 'utf8');
    const mayImport = listAfter(readme, 'May import');
    assert.ok(mayImport, `${folder}/README.md has no "May import:" line`);
    return { folder, mayImport, mayImportTypes: listAfter(readme, 'May import types from') ?? [] };
  });

/** The innermost part a file belongs to. */
function partOf(file: string): Part | undefined {
  return parts.filter((p) => file.startsWith(`${p.folder}/`)).sort((a, b) => b.folder.length - a.folder.length)[0];
}

const within = (file: string, entry: string) => file === entry || file.startsWith(`${entry}/`);

describe('layout', () => {
  test('every code folder belongs to a part with a README that says what it owns and may import', () => {
    const folders = [...new Set(files.map((f) => dirname(f)))];
    const orphans = folders.filter((d) => !partOf(`${d}/x`));
    assert.deepEqual(orphans, [], 'folders outside any part');
    for (const p of parts) {
      const readme = readFileSync(join(ROOT, p.folder, 'README.md'), 'utf8');
      assert.match(readme, /^# /m, `${p.folder}/README.md has a title`);
      for (const entry of [...p.mayImport, ...p.mayImportTypes])
        assert.ok(existsSync(join(ROOT, entry)), `${p.folder}/README.md names ${entry}, which does not exist`);
    }
    assert.ok(parts.length >= 12, `${parts.length} parts`);
  });

  test('imports point where the READMEs say they may', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const part = partOf(file)!;
      for (const imp of importsOf(file)) {
        if (!imp.spec.startsWith('.')) continue;
        assert.ok(imp.target, `${file}: ${imp.spec} does not resolve`);
        if (within(imp.target, part.folder)) continue;
        const allowed = imp.typeOnly ? [...part.mayImport, ...part.mayImportTypes] : part.mayImport;
        if (!allowed.some((entry) => within(imp.target!, entry)))
          wrong.push(`${file} imports ${imp.target}${imp.typeOnly ? ' (types)' : ''}, not in ${part.folder}/README.md`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('the workflow bundle holds deterministic code only: no Node built-in, no zod, nothing with I/O', () => {
    // Everything the v2 workflow loads at run time, transitively (the frozen first release loads the zod
    // contract it had, only for its own histories).
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const imp of importsOf(file)) {
        if (imp.typeOnly) continue;
        if (imp.target) {
          if (!imp.target.startsWith('workflows/legacy/')) visit(imp.target);
        } else packages.add(imp.spec);
      }
    };
    visit('workflows/index.ts');
    const outside = [...seen].filter(
      (f) =>
        !f.startsWith('workflows/') &&
        !['src/action/', 'src/platform/definitions.ts', 'src/platform/search-attributes.ts'].some((e) =>
          f.startsWith(e),
        ),
    );
    assert.deepEqual(outside, [], 'files outside the deterministic definitions');
    const foreign = [...packages].filter((p) => !['@temporalio/workflow', '@temporalio/common'].includes(p));
    assert.deepEqual(foreign, [], 'packages other than the workflow SDK');
    assert.ok(seen.has('src/platform/definitions.ts'));
  });

  test('only tests, benchmarks and the main job in development mode load the HubSpot emulator', () => {
    const loaders: string[] = [];
    for (const file of [...files, ...walk('test'), ...walk('bench')].filter((f) => f.endsWith('.ts'))) {
      for (const imp of importsOf(file)) {
        if (!imp.target || imp.typeOnly) continue;
        const emulator = within(imp.target, 'hubspot-emulator');
        const development = within(imp.target, 'src/worker/development');
        if (!emulator && !development) continue;
        if (['test/', 'bench/', 'hubspot-emulator/', 'src/worker/development/'].some((p) => file.startsWith(p)))
          continue;
        if (file === 'src/worker/main.ts' && development && imp.dynamic) continue;
        loaders.push(`${file} → ${imp.target}${imp.dynamic ? ' (dynamic)' : ''}`);
      }
    }
    assert.deepEqual(loaders, []);
    // The production image leaves the emulator out.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.doesNotMatch(dockerfile, /COPY hubspot-emulator/);
  });

  test('the fast tests (npm run test:fast) start no Temporal server and no HubSpot emulator', () => {
    const script = readFileSync(join(ROOT, 'scripts/run-tests.mjs'), 'utf8');
    const list = script.slice(
      script.indexOf('const FAST = ['),
      script.indexOf('].map', script.indexOf('const FAST = [')),
    );
    const fast = [...list.matchAll(/'([^']+)'/g)].map((m) => `test/${m[1]}.test.ts`);
    assert.ok(
      fast.length >= 5 && fast.every((f) => existsSync(join(ROOT, f))),
      `the fast list names files that exist: ${fast.join(', ')}`,
    );
    const slow = [
      'test/helpers/temporal-env.ts',
      'test/helpers/conversation-harness.ts',
      'hubspot-emulator/index.ts',
      'src/temporal-servers/index.ts',
    ];
    const reached: string[] = [];
    for (const start of fast) {
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        if (slow.includes(file)) reached.push(`${start} → ${file}`);
        for (const imp of importsOf(file)) if (imp.target && !imp.typeOnly) visit(imp.target);
      };
      visit(start);
    }
    assert.deepEqual(reached, []);
  });

  test("the README's layout table names every folder of the tree, and each path it names exists", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Layout'), readme.indexOf('\n## ', readme.indexOf('## Layout') + 1));
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    const named = rows.flatMap((r) =>
      [...r.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, '')),
    );
    assert.ok(named.length > 10, 'the layout table has rows');
    for (const path of named)
      assert.ok(existsSync(join(ROOT, path)), `the layout table names ${path}, which does not exist`);
    const tracked = readdirSync(ROOT).filter(
      (n) =>
        !n.startsWith('.') &&
        !['node_modules', 'test-artifacts', 'dist', 'secrets'].includes(n) &&
        statSync(join(ROOT, n)).isDirectory(),
    );
    const folders = [
      ...tracked,
      ...readdirSync(join(ROOT, 'src'))
        .map((n) => `src/${n}`)
        .filter((d) => statSync(join(ROOT, d)).isDirectory()),
    ];
    const missing = folders.filter((d) => !named.includes(d));
    assert.deepEqual(missing, [], 'folders the layout table does not name');
    const partsMissing = parts.map((p) => p.folder).filter((f) => !named.includes(f));
    assert.deepEqual(partsMissing, [], 'parts the layout table does not name');
    // Its "may import" column says what each part's README says.
    for (const row of rows) {
      const cells = row.split('|');
      const folder = cells[1]!.match(/`([^`]+)`/)![1]!.replace(/\/$/, '');
      const part = parts.find((p) => p.folder === folder);
      if (!part) continue;
      const column = [...cells[3]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).sort();
      assert.deepEqual(
        column,
        [...part.mayImport, ...part.mayImportTypes].sort(),
        `the layout table's "may import" for ${folder} differs from ${folder}/README.md`,
      );
    }
  });
});
