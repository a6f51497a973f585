/**
 * A client's subscription, as stored in its session and in the worker's topic tree.
 * called from: worker
 */
export interface SubscriptionOptions {
  /** granted (maximum) QoS */
  readonly qos: 0 | 1 | 2;
  /** v5 No Local: never deliver the subscriber's own publishes [MQTT-3.8.3-3] */
  readonly noLocal: boolean;
  /** v5 Retain As Published [MQTT-3.3.1-12] */
  readonly retainAsPublished: boolean;
  /** v5 Retain Handling 0 | 1 | 2 */
  readonly retainHandling: 0 | 1 | 2;
  /** v5 Subscription Identifier, 0 = none */
  readonly subscriptionId: number;
}

/** A topic filter as written by the client, split once for matching. */
export interface ParsedFilter {
  /** the filter as subscribed, including any `$share/group/` prefix: the session's key */
  readonly raw: string;
  /** the filter without the share prefix */
  readonly filter: string;
  /** share group name, or undefined for a non-shared subscription */
  readonly group: string | undefined;
}
