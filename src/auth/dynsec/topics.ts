/**
 * The topics of Mosquitto's dynamic security plugin: requests are PUBLISHed to the first, each
 * answer is published (QoS 0, not retained) on the second.
 * called from: main, worker
 */
export const DYNSEC_REQUEST_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';
