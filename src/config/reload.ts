/**
 * What a configuration reload may change while the broker runs.
 * called from: main (on SIGHUP / admin reload)
 */
import type { BrokerConfig, ListenerConfig } from './types.ts';
import { GLOBAL_OPTIONS, SPECIAL_FIELDS } from './schema.ts';
import { LISTENER_SECURITY_OPTIONS } from './listenerSecurity.ts';

/** Option name and reloadability of every BrokerConfig field. */
const FIELD_INFO: ReadonlyMap<string, { name: string; reloadable: boolean }> = new Map(
  [
    ...GLOBAL_OPTIONS.map((o) => [o.field as string, { name: o.name, reloadable: o.reloadable }] as const),
    ...[...SPECIAL_FIELDS].map(([field, info]) => [field as string, info] as const),
  ],
);

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Compares two configurations and names (by mosquitto.conf option name) the options whose
 * value changed, split into those a running broker applies and those that need a restart.
 * A field this module does not know (added to BrokerConfig later) counts as not reloadable,
 * under its field name, until schema.ts says otherwise.
 */
export function diffReloadable(
  old: BrokerConfig,
  next: BrokerConfig,
): { reloadable: string[]; notReloadable: string[] } {
  const reloadable: string[] = [];
  const notReloadable: string[] = [];
  const fields = new Set([...Object.keys(old), ...Object.keys(next)]);
  for (const field of fields) {
    const before = (old as unknown as Record<string, unknown>)[field];
    const after = (next as unknown as Record<string, unknown>)[field];
    if (sameValue(before, after)) continue;
    if (field === 'listeners') {
      diffListeners(old.listeners, next.listeners, reloadable, notReloadable);
      continue;
    }
    const info = FIELD_INFO.get(field);
    if (info === undefined) notReloadable.push(field);
    else if (info.reloadable) reloadable.push(info.name);
    else notReloadable.push(info.name);
  }
  return { reloadable, notReloadable };
}

/**
 * Listeners cannot be added, removed or changed by a reload (Mosquitto neither), except their
 * per_listener_settings security options, which Mosquitto re-reads on reload: those are
 * reloadable, named once each whichever listeners they changed on.
 */
function diffListeners(
  old: readonly ListenerConfig[],
  next: readonly ListenerConfig[],
  reloadable: string[],
  notReloadable: string[],
): void {
  const withoutSecurity = (ls: readonly ListenerConfig[]) => ls.map(({ security: _s, ...rest }) => rest);
  if (!sameValue(withoutSecurity(old), withoutSecurity(next))) {
    notReloadable.push('listener');
    return;
  }
  for (const [name, field] of LISTENER_SECURITY_OPTIONS) {
    const changed = old.some((l, i) => !sameValue(l.security?.[field], next[i]!.security?.[field]));
    if (changed && !reloadable.includes(name)) reloadable.push(name);
  }
}

/**
 * The configuration a running broker moves to on reload: `next`'s value for every reloadable
 * option, `old`'s for the others (they take effect after a restart). Listeners stay as they
 * were; their per_listener_settings security options come from `next` when the listeners are
 * otherwise the same, by position (Mosquitto re-reads them onto its running listeners).
 */
export function applyReloadable(old: BrokerConfig, next: BrokerConfig): BrokerConfig {
  const merged: Record<string, unknown> = { ...(old as unknown as Record<string, unknown>) };
  for (const field of new Set([...Object.keys(old), ...Object.keys(next)])) {
    if (field === 'listeners' || FIELD_INFO.get(field)?.reloadable !== true) continue;
    const value = (next as unknown as Record<string, unknown>)[field];
    if (value === undefined) delete merged[field];
    else merged[field] = value;
  }
  const withoutSecurity = (ls: readonly ListenerConfig[]) => ls.map(({ security: _s, ...rest }) => rest);
  if (sameValue(withoutSecurity(old.listeners), withoutSecurity(next.listeners))) {
    merged.listeners = old.listeners.map((l, i) => {
      const security = next.listeners[i]!.security;
      const { security: _s, ...rest } = l;
      return Object.freeze(security === undefined ? rest : { ...rest, security });
    });
  }
  return Object.freeze(merged) as unknown as BrokerConfig;
}
