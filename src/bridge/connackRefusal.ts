/**
 * What Mosquitto 2.0.11 logs when the remote broker's CONNACK refuses a bridge
 * (src/handle_connack.c): "Connection Refused: …", at error level, with its words for each
 * 3.1/3.1.1 return code (it says "broker unavailable" for code 4 as well, as here) and, for
 * MQTT 5, mosquitto_reason_string (lib/strings_mosq.c); 0x9A and 0x9B add "(will retry)".
 * called from: worker (bridge.ts)
 */

const V3_TEXT: Readonly<Record<number, string>> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'broker unavailable',
  4: 'broker unavailable',
  5: 'not authorised',
};

/** mosquitto_reason_string for the codes a CONNACK may carry */
const V5_TEXT: Readonly<Record<number, string>> = {
  0x80: 'Unspecified error',
  0x81: 'Malformed Packet',
  0x82: 'Protocol Error',
  0x83: 'Implementation specific error',
  0x84: 'Unsupported Protocol Version',
  0x85: 'Client Identifier not valid',
  0x86: 'Bad User Name or Password',
  0x87: 'Not authorized',
  0x88: 'Server unavailable',
  0x89: 'Server busy',
  0x8a: 'Banned',
  0x8c: 'Bad authentication method',
  0x90: 'Topic Name invalid',
  0x95: 'Packet too large',
  0x97: 'Quota exceeded',
  0x99: 'Payload format invalid',
  0x9a: 'retain not available (will retry)',
  0x9b: 'QoS not supported (will retry)',
  0x9c: 'Use another server',
  0x9d: 'Server moved',
  0x9f: 'Connection rate exceeded',
};

/** The line Mosquitto logs for a CONNACK refusing its bridge with `code` at protocol `version`. */
export function connackRefusalLine(version: 3 | 4 | 5, code: number): string {
  const text = version === 5 ? (V5_TEXT[code] ?? 'Unknown reason') : (V3_TEXT[code] ?? 'unknown reason');
  return `Connection Refused: ${text}`;
}
