/**
 * MQTT 5 topic aliases of one connection, both directions: the client's aliases for what it
 * publishes (bounded by our Topic Alias Maximum) and ours for what we send (bounded by the
 * client's). The maps are made on first use: most connections never use an alias.
 * called from: worker (the connection's own)
 */
import { MqttProtocolError, ReasonCode } from '../protocol/errors.ts';

export class TopicAliases {
  /** the client's Topic Alias Maximum: how many aliases we may set; 0 = none */
  outboundMax = 0;
  private inbound: Map<number, string> | undefined = undefined;
  private outbound: Map<string, number> | undefined = undefined;

  /**
   * The topic of an inbound PUBLISH that carries Topic Alias `alias`: a non-empty `topic` sets the
   * alias, an empty one uses it. `max` is our Topic Alias Maximum.
   */
  resolveInbound(alias: number, topic: string, max: number): string {
    if (alias === 0 || alias > max) {
      // [MQTT-3.3.2-8/9] alias 0 or above our Topic Alias Maximum
      throw new MqttProtocolError(ReasonCode.TopicAliasInvalid, 'MQTT_ERR_TOPIC_ALIAS_INVALID', 'topic alias invalid', 'MQTT-3.3.2-9');
    }
    if (topic.length > 0) {
      (this.inbound ??= new Map()).set(alias, topic);
      return topic;
    }
    const known = this.inbound?.get(alias);
    if (known === undefined) {
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_TOPIC_ALIAS_UNKNOWN', 'unknown topic alias', 'MQTT-3.3.4-?');
    }
    return known;
  }

  /**
   * Outbound topic alias for a topic when the client allows aliases: a positive number is a new
   * alias (sent with the topic), a negative one an alias the client already knows (sent with an
   * empty topic); undefined = no alias.
   */
  outboundFor(topic: string): number | undefined {
    if (this.outboundMax === 0) return undefined;
    const aliases = (this.outbound ??= new Map());
    const existing = aliases.get(topic);
    if (existing !== undefined) return -existing; // negative: alias already known to the client
    if (aliases.size >= this.outboundMax) return undefined;
    const alias = aliases.size + 1;
    aliases.set(topic, alias);
    return alias;
  }

  /** A new alias for `topic` was not sent after all (the packet was too large): forget it. */
  forgetOutbound(topic: string): void {
    this.outbound?.delete(topic);
  }
}
