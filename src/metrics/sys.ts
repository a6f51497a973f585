/**
 * `$SYS/broker/...` topics with Mosquitto's names, computed from the summed worker counters.
 * The main thread computes them every sys_interval and sends the changed ones to every worker,
 * which publishes them (retained) to its own subscribers.
 * called from: main
 */
export function sysTopics(stats: Record<string, number>, version: string, uptimeSeconds: number): [string, string][] {
  const n = (k: string) => String(stats[k] ?? 0);
  return [
    ['$SYS/broker/version', `culex version ${version}`],
    ['$SYS/broker/uptime', `${uptimeSeconds} seconds`],
    ['$SYS/broker/clients/connected', n('clientsConnected')],
    ['$SYS/broker/clients/active', n('clientsConnected')],
    ['$SYS/broker/clients/total', n('sessions')],
    ['$SYS/broker/clients/disconnected', String(Math.max(0, (stats.sessions ?? 0) - (stats.clientsConnected ?? 0)))],
    ['$SYS/broker/messages/received', n('messagesReceived')],
    ['$SYS/broker/messages/sent', n('messagesSent')],
    ['$SYS/broker/publish/messages/received', String((stats.publishReceivedQos0 ?? 0) + (stats.publishReceivedQos1 ?? 0) + (stats.publishReceivedQos2 ?? 0))],
    ['$SYS/broker/publish/messages/sent', n('messagesSent')],
    ['$SYS/broker/publish/messages/dropped', String((stats.messagesDroppedQueueFull ?? 0) + (stats.messagesDroppedQos0 ?? 0) + (stats.messagesDroppedTooLarge ?? 0))],
    ['$SYS/broker/bytes/received', n('bytesReceived')],
    ['$SYS/broker/bytes/sent', n('bytesSent')],
    ['$SYS/broker/subscriptions/count', n('subscriptions')],
    ['$SYS/broker/retained messages/count', n('retainedMessages')],
  ];
}
