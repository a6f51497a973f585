/**
 * How two topic filters relate, for deciding a SUBSCRIBE against ACL rules: whether some topic
 * matches both (a rule grants part of what the subscription asks for), and whether every topic
 * of one matches the other (a deny rule takes all of it). Filters are valid (isValidFilter).
 * A filter starting with a wildcard matches no `$` topic [MQTT-4.7.2-1].
 * called from: worker (SUBSCRIBE), tests
 */

/** Is there a topic that matches both `a` and `b`? */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  if (dollarMismatch(x[0]!, y[0]!)) return false;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const p = x[i];
    const q = y[i];
    // '#' matches the rest, including the parent level (`a/#` matches `a`)
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return false;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
  return true;
}

/** Does every topic that matches `inner` also match `outer`? */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const f = inner.split('/');
  if (dollarMismatch(o[0]!, f[0]!)) return false;
  for (let i = 0; i < f.length; i++) {
    const p = o[i];
    const q = f[i]!;
    if (p === '#') return true;
    if (p === undefined) return false;
    if (q === '#') return false; // inner reaches deeper than outer
    if (p !== '+' && p !== q) return false;
  }
  // inner ended: outer must end here too, or go on with only '#' (which matches the parent level)
  return o.length === f.length || (o.length === f.length + 1 && o[f.length] === '#');
}

/** A `$` topic level faces a wildcard: no topic matches both. */
function dollarMismatch(a: string, b: string): boolean {
  const da = a.startsWith('$');
  const db = b.startsWith('$');
  if (da === db) return false;
  return da ? b === '+' || b === '#' : a === '+' || a === '#';
}
