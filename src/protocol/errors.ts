/**
 * Reason codes and the one protocol-error type of the codec (STYLE pattern 9).
 * Pure: no I/O. Called from: worker.
 */

/** MQTT 5 reason codes (spec 2.4). v3.1/3.1.1 CONNACK return codes come from {@link v3ConnackReturnCode}. */
export const ReasonCode = {
  Success: 0x00, GrantedQoS1: 0x01, GrantedQoS2: 0x02, DisconnectWithWill: 0x04,
  NoMatchingSubscribers: 0x10, NoSubscriptionExisted: 0x11, ContinueAuthentication: 0x18, ReAuthenticate: 0x19,
  UnspecifiedError: 0x80, MalformedPacket: 0x81, ProtocolError: 0x82, ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84, ClientIdentifierNotValid: 0x85, BadUserNameOrPassword: 0x86, NotAuthorized: 0x87,
  ServerUnavailable: 0x88, ServerBusy: 0x89, Banned: 0x8a, ServerShuttingDown: 0x8b, BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d, SessionTakenOver: 0x8e, TopicFilterInvalid: 0x8f, TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91, PacketIdentifierNotFound: 0x92, ReceiveMaximumExceeded: 0x93, TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95, MessageRateTooHigh: 0x96, QuotaExceeded: 0x97, AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99, RetainNotSupported: 0x9a, QoSNotSupported: 0x9b, UseAnotherServer: 0x9c,
  ServerMoved: 0x9d, SharedSubscriptionsNotSupported: 0x9e, ConnectionRateExceeded: 0x9f, MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1, WildcardSubscriptionsNotSupported: 0xa2,
} as const;

/** Any value of {@link ReasonCode}. */
export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode];

/**
 * One error type for every protocol violation (STYLE pattern 9). `code` is a stable MQTT_ERR_* string
 * usable as a log/metric label; `spec` is the normative statement tag when one applies.
 */
export class MqttProtocolError extends Error {
  readonly reasonCode: number;
  readonly code: string;
  readonly spec?: string;
  /** set by decodeConnect when the failing packet is a CONNECT whose protocol level is known (3, 4 or 5):
   *  tells the connection layer which CONNACK format to answer with */
  protocolVersion?: 3 | 4 | 5;

  constructor(reasonCode: number, code: string, message: string, spec?: string) {
    super(spec === undefined ? message : `[${spec}] ${message}`);
    this.name = 'MqttProtocolError';
    this.reasonCode = reasonCode;
    this.code = code;
    if (spec !== undefined) this.spec = spec;
  }
}

/** Shorthand for a Malformed Packet (0x81) error. */
export function malformed(code: string, message: string, spec?: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.MalformedPacket, code, message, spec);
}

/** Shorthand for a Protocol Error (0x82). */
export function protocolError(code: string, message: string, spec?: string): MqttProtocolError {
  return new MqttProtocolError(ReasonCode.ProtocolError, code, message, spec);
}

/** v3.1/3.1.1 CONNACK return code (0..5) for a v5 reason code: 0x84→1, 0x85→2, 0x88/0x89/others→3, 0x86→4,
 *  0x87/0x8a→5, and 0x95 (a will larger than message_size_limit)→5 as Mosquitto 2.0.11 answers it
 *  (handle_connect.c will__read) */
export function v3ConnackReturnCode(reasonCode: number): number {
  switch (reasonCode) {
    case ReasonCode.Success: return 0;
    case ReasonCode.UnsupportedProtocolVersion: return 1;
    case ReasonCode.ClientIdentifierNotValid: return 2;
    case ReasonCode.BadUserNameOrPassword: return 4;
    case ReasonCode.NotAuthorized:
    case ReasonCode.PacketTooLarge:
    case ReasonCode.Banned: return 5;
    default: return 3;
  }
}

/**
 * Whether the server adds a Reason String to a CONNACK or DISCONNECT with `reasonCode`: only for 0x80
 * Unspecified error and 0x83 Implementation specific error, whose code does not say what went wrong.
 * Every other code names the cause, and Mosquitto 2.0.11 never sends a Reason String, so clients and
 * tests comparing packets byte for byte see Mosquitto's bytes; the broker's log has the detail. The caller
 * also leaves it out when the client set Request Problem Information 0 [MQTT-3.1.2-29].
 */
export function reasonStringAdds(reasonCode: number): boolean {
  return reasonCode === ReasonCode.UnspecifiedError || reasonCode === ReasonCode.ImplementationSpecificError;
}
