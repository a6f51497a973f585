/**
 * The long tail of the codec: mqtt-packet's parser and generator behind a synchronous, exact-frame API.
 * Called from: worker. Module state (one parser per protocol version) is used only inside one
 * synchronous call, so it is safe for one thread; each worker thread has its own module instance.
 */
import mqttPacket from 'mqtt-packet';
import type { Packet, Parser } from 'mqtt-packet';
import { malformed } from './errors.ts';

// mqtt-packet's writer otherwise builds, on its first packet, a 2-byte Buffer for each of the 65,536
// numbers (about 7 MB of heap per thread, measured with native-bench/queues.ts --profile): the packets
// it still writes here (CONNACK, SUBACK, UNSUBACK, PINGRESP, DISCONNECT) are not the hot path
(mqttPacket.writeToStream as unknown as { cacheNumbers: boolean }).cacheNumbers = false;

/** MQTT protocol level: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0 */
export type ProtocolVersion = 3 | 4 | 5;

/** index = protocol version */
const parsers: (Parser | undefined)[] = [];
/** result slots written by the parser's synchronous 'packet' / 'error' events */
let parsed: Packet | undefined;
let parseError: Error | undefined;

function onPacket(packet: Packet): void {
  parsed = packet;
}
function onError(error: Error): void {
  parseError = error;
}

function newParser(slot: number): Parser {
  const parser = mqttPacket.parser({ protocolVersion: slot });
  parser.on('packet', onPacket);
  parser.on('error', onError);
  parsers[slot] = parser;
  return parser;
}

function parseIn(slot: number, frame: Buffer): Packet {
  const parser = parsers[slot] ?? newParser(slot);
  parsed = undefined;
  parseError = undefined;
  parser.parse(frame);
  const packet = parsed as Packet | undefined;
  const error = parseError as Error | undefined;
  parsed = undefined;
  parseError = undefined;
  if (error !== undefined || packet === undefined) {
    newParser(slot); // mqtt-packet keeps partial state after an error
    throw malformed('MQTT_ERR_MALFORMED', error?.message ?? 'incomplete packet');
  }
  return packet;
}

/**
 * Parses one whole packet (`frame` = fixed header + body, exactly) with mqtt-packet for a connection at
 * `version`. Throws MalformedPacket with mqtt-packet's message when it rejects the bytes.
 * The frame is not retained after the call returns, except through views the packet holds.
 */
export function parseWithMqttPacket(frame: Buffer, version: ProtocolVersion): Packet {
  return parseIn(version, frame);
}

/** Encodes with mqtt-packet's generate(). Throws a plain Error when the packet object is invalid
 *  (a caller bug, not a peer's protocol violation). */
export function generateWithMqttPacket(packet: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}
