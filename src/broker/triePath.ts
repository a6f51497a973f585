/**
 * The path walk the broker's tries share (topic tree, interest mirror, retained store): the nodes
 * from the root to the node of `levels`, and pruning that path from the bottom once nodes are empty.
 * called from: worker
 */

/** A trie node with children by topic level. */
export interface TrieNode<N> {
  readonly children: Map<string, N>;
}

/** [root, node of level 0, …, node of the last level], or undefined when a level is missing. */
export function pathTo<N extends TrieNode<N>>(root: N, levels: readonly string[]): N[] | undefined {
  const path: N[] = [root];
  let node = root;
  for (const level of levels) {
    const next = node.children.get(level);
    if (next === undefined) return undefined;
    path.push(next);
    node = next;
  }
  return path;
}

/** Removes empty nodes from the bottom of `path` up, stopping at the first node still in use. */
export function prunePath<N extends TrieNode<N>>(path: readonly N[], levels: readonly string[], isEmpty: (node: N) => boolean): void {
  for (let i = levels.length; i > 0 && isEmpty(path[i]!); i--) path[i - 1]!.children.delete(levels[i - 1]!);
}
