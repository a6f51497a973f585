/**
 * Spec coverage by test title: which `[MQTT-x.y.z-n]` statements the code mentions that no test title carries.
 *
 * Run it without npm, from the repository root (Node 24 strips the types itself):
 *
 *   node_modules/.bin/node scripts/spec-coverage.ts            # the uncovered tags, then the counts
 *   node_modules/.bin/node scripts/spec-coverage.ts --covered  # also every covered tag and the titles that carry it
 *
 * - Tags in src: every `MQTT-x.y.z-n` anywhere in src/**\/*.ts (comments and strings alike), with each file:line.
 * - Tags in tests: only those inside a test title, i.e. the first argument of a `test(`, `it(`, `describe(` or
 *   `suite(` call (`.only`/`.skip`/`.todo` included) in test/**\/*.test.ts, comments stripped first. A tag in a
 *   comment or an assertion message of a test file does not count.
 * - Titles built with `${...}` are expanded as far as the file says: `[MQTT-3.3.1-${v5 ? '9' : '8'}]` is both
 *   tags, a name bound by an enclosing `for (const [name, tag] of [[...], ...])` (or `c.name` in
 *   `for (const c of cases)` over object literals) takes each row's value, a name declared `const tag = ...`
 *   the literals of its expression (see titleVariants).
 * - Titles built from a fixture table: the decode tests run every fixture of test/fixtures/packets.ts as
 *   `test(title(fixture))`, and title() puts the fixture's `spec:` tag first, so the `spec: 'MQTT-...'` fields
 *   of that table count as titles too (shown apart in the summary).
 * - Shorthands are expanded in both: `MQTT-3.3.2-17/18` is -17 and -18, `MQTT-3.1.2-11..15` is -11 to -15.
 *
 * A tag names a statement of the MQTT 3.1.1 or 5.0 specification (the two number their statements
 * separately; the code does not say which, so tags compare as text). Exit status 0: this is a report.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Fixture tables whose `spec:` field becomes a test title (see the header). */
const FIXTURE_TITLE_TABLES = ['test/fixtures/packets.ts'];

const TAG = /MQTT-(\d+\.\d+\.\d+)-(\d+)((?:\/\d+)*)(?:\.\.(\d+))?/g;

/** Every tag in `text`, shorthands expanded, with the offset where it was written. */
function tagsIn(text: string): { tag: string; at: number }[] {
  const found: { tag: string; at: number }[] = [];
  for (const m of text.matchAll(TAG)) {
    const [, section, first, more, last] = m;
    const numbers = [Number(first), ...more!.split('/').filter(Boolean).map(Number)];
    if (last !== undefined) for (let n = Number(first) + 1; n <= Number(last); n++) numbers.push(n);
    for (const n of numbers) found.push({ tag: `MQTT-${section}-${n}`, at: m.index });
  }
  return found;
}

function files(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path, suffix));
    else if (entry.isFile() && entry.name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

const rel = (path: string): string => relative(ROOT, path).split(sep).join('/');
const lineAt = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

/** Comments blanked (newlines kept, so offsets and lines stay right), strings kept. */
function withoutComments(text: string): string {
  return text.replace(
    /'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`|\/\/[^\n]*|\/\*[\s\S]*?\*\//g,
    (match) => (match.startsWith('/') ? match.replace(/[^\n]/g, ' ') : match),
  );
}

/** Index just past the string literal that starts at `i` ('...', "..." or `...` with nested `${...}`). */
function skipString(text: string, i: number): number {
  const quote = text[i]!;
  for (i++; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') i++;
    else if (c === quote) return i + 1;
    else if (quote === '`' && c === '$' && text[i + 1] === '{') i = skipCode(text, i + 2, '}');
  }
  return text.length;
}

/**
 * Scans code from `i` to the first of `stops` outside brackets and strings; returns its index
 * (for stops '}' called inside `${`, the index of that `}`, which the template loop then steps past).
 */
function skipCode(text: string, i: number, stops: string): number {
  let depth = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (depth === 0 && stops.includes(c)) return i;
    if (c === "'" || c === '"' || c === '`') { i = skipString(text, i); continue; }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    i++;
  }
  return i;
}

/** The string literals in a piece of code, without their quotes (a template's `${...}` parts as '…'). */
function literalsIn(code: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < code.length;) {
    const c = code[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const end = skipString(code, i);
      let literal = '';
      for (let j = i + 1; j < end - 1; j++) {
        if (c === '`' && code[j] === '$' && code[j + 1] === '{') {
          j = skipCode(code, j + 2, '}');
          literal += '…';
        } else literal += code[j];
      }
      out.push(literal);
      i = end;
    } else i++;
  }
  return out;
}

/** The elements of the array literal whose `[` is at `open`, as source text. */
function arrayElements(text: string, open: number): string[] {
  const elements: string[] = [];
  let i = open + 1;
  while (i < text.length && text[i] !== ']') {
    const end = skipCode(text, i, ',]');
    const element = text.slice(i, end).trim();
    if (element !== '') elements.push(element);
    i = text[end] === ',' ? end + 1 : end;
  }
  return elements;
}

/** What a name used in a title may hold: the string literals of its nearest `const name = ...` before the call. */
function valuesOf(name: string, text: string, before: number): string[] {
  const declaration = new RegExp(`(?:const|let)\\s+${name.replace(/\$/g, '\\$')}\\s*(?::[^=]+)?=`, 'g');
  const last = [...text.slice(0, before).matchAll(declaration)].at(-1);
  if (last === undefined) return [];
  const start = last.index + last[0].length;
  return literalsIn(text.slice(start, skipCode(text, start, ';\n')));
}

/** The value a table cell gives a title: a string literal's text, anything else as written. */
const cellValue = (cell: string): string => (/^['"`]/.test(cell) ? literalsIn(cell)[0] ?? '' : cell);

/** The elements of the arrays a loop runs over: an array literal, and arrays declared in the file by name (`...cases`). */
function tableRows(text: string, iterable: string, before: number): string[] {
  const rows = iterable.startsWith('[') ? arrayElements(iterable, 0).filter((e) => !e.startsWith('...')) : [];
  for (const [, name] of iterable.matchAll(/(?:^|\.\.\.)\s*([A-Za-z_$][\w$]*)\b/g)) {
    const declaration = [...text.slice(0, before).matchAll(new RegExp(`(?:const|let)\\s+${name!.replace(/\$/g, '\\$')}\\b[^=;]*=\\s*\\[`, 'g'))].at(-1);
    if (declaration !== undefined) rows.push(...arrayElements(text, declaration.index + declaration[0].length - 1));
  }
  return rows;
}

/**
 * The rows of the table loops around the call, as one map per row from what a title may write to the value:
 * `for (const [a, b] of [['x', 1], ...])` gives a and b; `for (const c of [...cases, ...more])` over object
 * literals gives `c.name` for each `name: '...'`. Loops over an array declared by name in the file count too.
 * Several loops around one call combine; [] when there is none.
 */
function loopRows(text: string, before: number): Map<string, string>[] {
  let combined: Map<string, string>[] = [];
  for (const loop of text.slice(0, before).matchAll(/for\s*\(\s*const\s+(\[[^\]]*\]|[A-Za-z_$][\w$]*)\s+of\s+/g)) {
    const headerEnd = skipCode(text, loop.index + loop[0].length, ')');
    const body = headerEnd + 1 + /^\s*/.exec(text.slice(headerEnd + 1))![0].length;
    const bodyEnd = text[body] === '{' ? skipCode(text, body + 1, '}') : skipCode(text, body, ';');
    if (bodyEnd < before) continue; // the call is not in this loop
    const binding = loop[1]!;
    const rows = tableRows(text, text.slice(loop.index + loop[0].length, headerEnd).trim(), before).flatMap((row) => {
      if (binding.startsWith('[')) {
        if (!row.startsWith('[')) return [];
        const cells = arrayElements(row, 0);
        return [new Map(binding.slice(1, -1).split(',').map((name, i) => [name.trim(), cellValue(cells[i] ?? '')] as const))];
      }
      if (!row.startsWith('{')) return [new Map([[binding, cellValue(row)]])];
      const fields = new Map<string, string>();
      for (const field of arrayElements(`[${row.slice(1, -1)}]`, 0)) {
        const m = /^([A-Za-z_$][\w$]*)\s*:\s*([\s\S]*)$/.exec(field);
        if (m !== null) fields.set(`${binding}.${m[1]}`, cellValue(m[2]!.trim()));
      }
      return [fields];
    });
    if (rows.length === 0) continue;
    combined = combined.length === 0 ? rows
      : combined.flatMap((outer) => rows.map((inner) => new Map([...outer, ...inner]))).slice(0, 1024);
  }
  return combined;
}

/**
 * The texts a test title may take: the first argument of the call whose `(` is at `open`. A template
 * literal is expanded: each `${...}` becomes each string it may give: a name (or `c.name`) bound by a table
 * loop around the call, its value in each row (loopRows); another name, the literals it was declared with
 * (valuesOf); a literal or an `a ? 'x' : 'y'` choice, its literals (so `[MQTT-3.3.1-${v5 ? '9' : '8'}]` is
 * both tags); anything else '…'. Any other argument is taken as written (a ternary of two literals gives both).
 */
function titleVariants(text: string, open: number): string[] {
  let start = open + 1;
  while (/\s/.test(text[start] ?? '')) start++;
  const end = skipCode(text, start, ',)');
  const argument = text.slice(start, end).trim();
  if (!argument.startsWith('`') || skipString(text, start) !== start + argument.length) {
    return [argument, ...(/^[\w$]+$/.test(argument) ? valuesOf(argument, text, open) : [])];
  }
  const rows = loopRows(text, open);
  return (rows.length > 0 ? rows : [new Map<string, string>()]).flatMap((row) => expand(text, start + 1, start + argument.length - 1, row, open));
}

/** The template text between `from` and `to`, each `${...}` replaced by each value it may take (see titleVariants). */
function expand(text: string, from: number, to: number, row: Map<string, string>, open: number): string[] {
  let variants = [''];
  for (let i = from; i < to;) {
    if (text[i] === '$' && text[i + 1] === '{') {
      const close = skipCode(text, i + 2, '}');
      const expression = text.slice(i + 2, close).trim();
      const choice = /^([\w$.]+)\s*\?\s*(['"`][^'"`]*['"`])\s*:\s*(['"`][^'"`]*['"`])$/.exec(expression);
      const values = row.has(expression) ? [row.get(expression)!]
        : choice !== null && row.has(choice[1]!) ? literalsIn(row.get(choice[1]!) === 'false' ? choice[3]! : choice[2]!) // `${valid ? 'a' : 'b'}` in a table row
        : /^[\w$]+$/.test(expression) ? valuesOf(expression, text, open)
        : /^['"`]|\?/.test(expression) ? literalsIn(expression) : []; // a literal or a choice of literals, not a call's arguments
      const choices = values.length > 0 ? values : ['…'];
      variants = variants.flatMap((v) => choices.map((choice) => v + choice)).slice(0, 256);
      i = close + 1;
    } else {
      const next = text.indexOf('${', i);
      const stop = next < 0 || next > to ? to : next;
      variants = variants.map((v) => v + text.slice(i, stop));
      i = stop;
    }
  }
  return variants;
}

const TEST_CALL = /(?<![\w$.])(?:test|it|describe|suite)(?:\.(?:only|skip|todo))?\s*\(/g;

interface Place { file: string; line: number }
interface Title extends Place { title: string }

// ---- tags in src ----
const inSrc = new Map<string, Place[]>();
for (const file of files(join(ROOT, 'src'), '.ts')) {
  const text = readFileSync(file, 'utf8');
  for (const { tag, at } of tagsIn(text)) {
    const places = inSrc.get(tag) ?? [];
    const place = { file: rel(file), line: lineAt(text, at) };
    if (!places.some((p) => p.file === place.file && p.line === place.line)) places.push(place);
    inSrc.set(tag, places);
  }
}

// ---- tags in test titles ----
const inTitles = new Map<string, Title[]>();
const viaFixtures = new Set<string>();
const addTitle = (tag: string, title: Title): void => {
  const titles = inTitles.get(tag) ?? [];
  titles.push(title);
  inTitles.set(tag, titles);
};
for (const file of files(join(ROOT, 'test'), '.test.ts')) {
  const text = withoutComments(readFileSync(file, 'utf8'));
  for (const call of text.matchAll(TEST_CALL)) {
    const open = call.index + call[0].length - 1;
    const seen = new Set<string>();
    for (const title of titleVariants(text, open)) {
      for (const { tag } of tagsIn(title)) {
        if (seen.has(tag)) continue;
        seen.add(tag);
        addTitle(tag, { file: rel(file), line: lineAt(text, call.index), title: title.replace(/\s+/g, ' ') });
      }
    }
  }
}
for (const table of FIXTURE_TITLE_TABLES) {
  const text = withoutComments(readFileSync(join(ROOT, table), 'utf8'));
  for (const m of text.matchAll(/\bspec:\s*(['"`])([^'"`]*)\1/g)) {
    for (const { tag } of tagsIn(m[2]!)) {
      if (!inTitles.has(tag)) viaFixtures.add(tag);
      addTitle(tag, { file: table, line: lineAt(text, m.index), title: `fixture spec: '${m[2]}'` });
    }
  }
}
for (const tag of viaFixtures) if (inTitles.get(tag)!.some((t) => !FIXTURE_TITLE_TABLES.includes(t.file))) viaFixtures.delete(tag);

// ---- report ----
const bySpecOrder = (a: string, b: string): number => {
  const parts = (tag: string): number[] => tag.slice(5).split(/[.-]/).map(Number);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
};
const srcTags = [...inSrc.keys()].sort(bySpecOrder);
const uncovered = srcTags.filter((tag) => !inTitles.has(tag));
const covered = srcTags.filter((tag) => inTitles.has(tag));
const showCovered = process.argv.includes('--covered');

if (showCovered) {
  console.log('Covered (tag: the titles that carry it):');
  for (const tag of covered) {
    console.log(`  ${tag}`);
    for (const t of inTitles.get(tag)!) console.log(`      ${t.file}:${t.line}  ${t.title}`);
  }
  console.log('');
}
console.log(`Mentioned in src/ but in no test title (${uncovered.length}):`);
for (const tag of uncovered) {
  console.log(`  ${tag.padEnd(16)} ${inSrc.get(tag)!.map((p) => `${p.file}:${p.line}`).join(', ')}`);
}
const onlyInTests = [...inTitles.keys()].filter((tag) => !inSrc.has(tag)).sort(bySpecOrder);
console.log('');
console.log(`${srcTags.length} tags in src, ${covered.length} covered by test titles`
  + ` (${[...viaFixtures].filter((tag) => inSrc.has(tag)).length} of them only through fixture-table titles);`
  + ` ${onlyInTests.length} more tags in test titles that src/ does not mention.`);
