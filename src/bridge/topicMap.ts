/**
 * A bridge's topic remapping (Mosquitto src/bridge_topic.c and send_publish): a message going
 * out loses the local prefix and gains the remote one; one coming in the other way round. The
 * first `topic` line whose filter matches decides, as in Mosquitto.
 * called from: worker, tests
 */
import type { BridgeTopic } from '../config/types.ts';
import { topicMatchesFilter as topicMatches } from '../auth/acl.ts';

/** The remote topic of a local message going out, or undefined when no `out`/`both` line matches it. */
export function remoteTopicOf(topics: readonly BridgeTopic[], local: string): string | undefined {
  for (const t of topics) {
    if (t.direction === 'in' || !topicMatches(t.localTopic, local)) continue;
    let topic = local;
    if (t.localPrefix !== undefined && topic.startsWith(t.localPrefix)) topic = topic.slice(t.localPrefix.length);
    return (t.remotePrefix ?? '') + topic;
  }
  return undefined;
}

/** The local topic of a remote message coming in (unchanged when no `in`/`both` line matches, as Mosquitto). */
export function localTopicOf(topics: readonly BridgeTopic[], remote: string): string {
  for (const t of topics) {
    if (t.direction === 'out' || !topicMatches(t.remoteTopic, remote)) continue;
    let topic = remote;
    if (t.remotePrefix !== undefined && topic.startsWith(t.remotePrefix)) topic = topic.slice(t.remotePrefix.length);
    return (t.localPrefix ?? '') + topic;
  }
  return remote;
}
