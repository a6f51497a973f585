/**
 * `mount_point`: the topic prefix of a listener's clients. Everything a client of such a
 * listener names is prefixed on the way in — PUBLISH topics (after its topic alias is resolved:
 * aliases map the topics the client sees), the will topic, SUBSCRIBE and UNSUBSCRIBE filters —
 * and removed from the messages it is sent (before the outbound topic alias is chosen). The
 * prefix is plain text put in front, as in Mosquitto (`tenant` + `a/b` = `tenanta/b`), and ACL
 * checks see the prefixed topic (Mosquitto checks after mounting: handle_publish.c,
 * handle_subscribe.c, context__send_will). So a client of a mount_point listener reaches only
 * topics under its prefix — not `$SYS` (its `$SYS/#` is `prefix/$SYS/#`), nor another
 * listener's tenants — while a client of a plain listener sees the prefixed topics.
 *
 * Mosquitto 2.0.11 differs in three places that are its bugs, and culex follows
 * mosquitto.conf(5) ("This prefix is removed when any messages are sent to the client"):
 * - 2.0.11 sends the prefixed topic to the client (fixed in 2.0.12, lib/send_publish.c);
 * - UNSUBSCRIBE filters are not prefixed in 2.0.x, so a client of a mount_point listener
 *   cannot unsubscribe;
 * - `$share/group/filter` is prefixed as a whole in 2.0.x (`prefix/$share/group/filter`, an
 *   ordinary subscription to a literal `$share` level); culex mounts the filter inside the share
 *   (`$share/group/prefixfilter`), so shared subscriptions work and share within the tenant.
 * A message whose topic does not continue past the prefix (`tenant1` for `tenant1/#` with mount
 * point `tenant1/`) is not sent, as Mosquitto 2.0.12+ ("should never happen … silently
 * swallow").
 * called from: worker
 */
import type { ParsedFilter } from '../model/subscription.ts';

/** The topic a client of a `mount` listener names as `topic`, as the broker routes it. */
export function mountTopic(mount: string, topic: string): string {
  return mount + topic;
}

/** A filter (shared or not) of a client of a `mount` listener, as the broker keeps it. */
export function mountFilter(mount: string, parsed: ParsedFilter): ParsedFilter {
  const filter = mount + parsed.filter;
  const group = parsed.group;
  return { raw: group === undefined ? filter : `$share/${group}/${filter}`, filter, group };
}

/** The topic a client of a `mount` listener sees for a routed `topic`; undefined = not for it. */
export function unmountTopic(mount: string, topic: string): string | undefined {
  if (topic.length <= mount.length || !topic.startsWith(mount)) return undefined;
  return topic.slice(mount.length);
}
