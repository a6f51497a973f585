/**
 * The import graph of src/ follows the layers: a lower layer never imports a higher one, and the
 * folders import each other without a cycle. Every `import ... from '...'`, `export ... from '...'`,
 * `import '...'` and `import('...')` specifier of every src/**\/*.ts is read with a regex (comments
 * stripped first); relative ones are resolved to their folder under src/ (or to log.ts / server.ts,
 * the two files that sit directly in src/). npm packages and `node:` built-ins are always allowed.
 *
 * A folder that is not in LAYERS fails the test: a new folder must be given its place here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every layer: a folder of src/, or one of the files directly in src/. */
const ALL = [
  'protocol', 'model', 'records', 'durability', 'broker', 'link', 'persistence', 'workers',
  'transport', 'auth', 'metrics', 'config', 'log.ts', 'log', 'server.ts', 'cli', 'migrate', 'bridge', 'nats',
] as const;
type Layer = (typeof ALL)[number];

const except = (...denied: Layer[]): Layer[] => ALL.filter((layer) => !denied.includes(layer));
/** The edge layers (transport, auth, metrics, config, log.ts) use no part of the broker's core. */
const EDGE = except('broker', 'link', 'durability', 'workers', 'persistence', 'server.ts', 'cli', 'migrate', 'bridge', 'nats');

/** What each layer may import besides itself (and npm packages, node: built-ins). */
const LAYERS: Record<Layer, readonly Layer[]> = {
  protocol: [],
  model: ['protocol'],
  records: ['protocol', 'model'],
  durability: ['protocol', 'model', 'records', 'metrics', 'log.ts'],
  broker: ['protocol', 'model', 'records', 'durability', 'metrics', 'config', 'log.ts', 'auth'],
  link: ['protocol', 'model', 'records', 'durability', 'broker', 'metrics', 'config', 'log.ts', 'auth'],
  persistence: ['records', 'model', 'config', 'metrics', 'log.ts'],
  workers: except('cli', 'server.ts', 'migrate'),
  transport: EDGE,
  auth: EDGE,
  metrics: EDGE,
  config: EDGE,
  'log.ts': EDGE,
  /** the logger's parts (time stamps, destinations): leaves */
  log: [],
  'server.ts': ALL,
  cli: ALL,
  /** importers of other brokers' files (culex import-mosquitto): they write through the store */
  migrate: ['protocol', 'model', 'records', 'persistence', 'config', 'auth', 'log.ts'],
  /** bridges (Mosquitto `connection` blocks): a local session and an outbound client connection; started by workers */
  bridge: ['protocol', 'model', 'records', 'durability', 'broker', 'link', 'metrics', 'config', 'auth', 'log.ts'],
  /** nodes joined through NATS (issue 17): each worker's NATS connection, loaded by workers only when configured */
  nats: ['protocol', 'model', 'records', 'durability', 'broker', 'metrics', 'config', 'log.ts'],
};

interface Edge {
  /** Both relative to src/, with forward slashes. */
  from: string;
  to: string;
  fromLayer: string;
  toLayer: string;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.ts')) files.push(path);
  }
  return files.sort();
}

/** Comments out, strings kept (a `//` inside 'ws://...' is not a comment). */
function withoutComments(text: string): string {
  return text.replace(
    /'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`|\/\/[^\n]*|\/\*[\s\S]*?\*\//g,
    (match) => (match.startsWith('/') ? match.replace(/[^\n]/g, ' ') : match),
  );
}

const SPECIFIER = new RegExp(
  [
    /\b(?:import|export)\s+(?:type\s+)?[\w$*{][^;'"]*?\bfrom\s*['"]([^'"]+)['"]/.source, // import x from '...', export { x } from '...'
    /\bimport\s*['"]([^'"]+)['"]/.source, // import '...'
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/.source, // import('...'), typeof import('...')
  ].join('|'),
  'g',
);

function specifiers(text: string): string[] {
  return [...withoutComments(text).matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** 'broker/qos/inbound.ts' -> 'broker'; 'log.ts' -> 'log.ts'; outside src/ -> '(outside src)'. */
function layerOf(fromSrc: string): string {
  if (fromSrc.startsWith('..')) return '(outside src)';
  return fromSrc.split('/')[0]!;
}

const toSrc = (path: string): string => relative(SRC, path).split(sep).join('/');

function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = toSrc(file);
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue; // npm package or node: built-in
      const to = toSrc(resolve(dirname(file), specifier));
      edges.push({ from, to, fromLayer: layerOf(from), toLayer: layerOf(to) });
    }
  }
  return edges;
}

const isLayer = (name: string): name is Layer => (ALL as readonly string[]).includes(name);

test('src/: every file belongs to a known layer, and imports only the layers below it', () => {
  const edges = importEdges();
  assert.ok(edges.length > 50, `only ${edges.length} relative imports found in src/: is the regex broken?`);

  const problems: string[] = [];
  const unknown = new Set(sourceFiles(SRC).map((file) => layerOf(toSrc(file))).filter((layer) => !isLayer(layer)));
  for (const layer of unknown) problems.push(`src/${layer} is not in the LAYERS table of test/unit/layering.test.ts`);

  for (const { from, to, fromLayer, toLayer } of edges) {
    if (fromLayer === toLayer || !isLayer(fromLayer)) continue; // an unknown layer is reported above
    if (isLayer(toLayer) && LAYERS[fromLayer].includes(toLayer)) continue;
    problems.push(`src/${from} -> src/${to} (layer ${fromLayer} may not import layer ${toLayer})`);
  }
  assert.deepEqual(problems, [], `${problems.length} layering violation(s):\n  ${problems.join('\n  ')}\n`);
});

test('src/: the folders import each other without a cycle', () => {
  // The folder-level graph: an edge A -> B when some file of A imports some file of B.
  const graph = new Map<string, Map<string, Edge>>();
  for (const edge of importEdges()) {
    if (edge.fromLayer === edge.toLayer) continue;
    if (!graph.has(edge.fromLayer)) graph.set(edge.fromLayer, new Map());
    const out = graph.get(edge.fromLayer)!;
    if (!out.has(edge.toLayer)) out.set(edge.toLayer, edge); // the first file that makes the edge, as an example
  }

  // Tarjan's strongly connected components: every component of more than one folder holds a cycle.
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    indexOf.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indexOf.has(node)) visit(node);

  // One concrete cycle per component (the shortest way back to its first folder), with an example import per step.
  const cycles = components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    const cameFrom = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length > 0 && last === undefined) {
      const node = queue.shift()!;
      for (const next of [...(graph.get(node)?.keys() ?? [])].sort()) {
        if (!members.has(next)) continue;
        if (next === start) { last = node; break; }
        if (!cameFrom.has(next)) { cameFrom.set(next, node); queue.push(next); }
      }
    }
    const path = [start];
    for (let node = last!; node !== start; node = cameFrom.get(node)!) path.splice(1, 0, node);
    path.push(start);
    const steps = path.slice(0, -1).map((node, i) => {
      const edge = graph.get(node)!.get(path[i + 1]!)!;
      return `    src/${edge.from} -> src/${edge.to}`;
    });
    return `${path.join(' -> ')} (folders in the cycle: ${[...component].sort().join(', ')})\n${steps.join('\n')}`;
  });
  assert.deepEqual(cycles, [], `${cycles.length} import cycle(s) between folders:\n  ${cycles.join('\n  ')}\n`);
});
