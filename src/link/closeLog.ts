/**
 * The line Mosquitto 2.0.11 logs when a client's connection ends (do_disconnect in src/loop.c,
 * logged when connection_messages is on), by the reason culex closes it. Log parsers match these
 * texts, so they are Mosquitto's word for word; `<unknown>` stands for a client that never got
 * past CONNECT, as in Mosquitto.
 * called from: worker
 */
import { getSystemErrorMessage } from 'node:util';
import { ReasonCode } from '../protocol/errors.ts';

/** The client id as Mosquitto prints it in these lines. */
export const UNKNOWN_CLIENT = '<unknown>';

/**
 * The line for a close the broker decides with `reasonCode` (CONNACK refusal or DISCONNECT
 * reason); '' when Mosquitto logs nothing (session taken over, broker shutting down).
 * `detail`: what to print for a reason Mosquitto has no line of its own for.
 */
export function closeLine(id: string, reasonCode: number, detail?: string): string {
  switch (reasonCode) {
    case ReasonCode.SessionTakenOver:
    case ReasonCode.ServerShuttingDown:
      return '';
    case ReasonCode.NotAuthorized:
    case ReasonCode.BadUserNameOrPassword:
    case ReasonCode.BadAuthenticationMethod:
    case ReasonCode.Banned:
      return `Client ${id} disconnected, not authorised.`;
    case ReasonCode.KeepAliveTimeout:
    case ReasonCode.MaximumConnectTime:
      return `Client ${id} has exceeded timeout, disconnecting.`;
    case ReasonCode.MalformedPacket:
      return `Client ${id} disconnected due to malformed packet.`;
    case ReasonCode.PacketTooLarge:
      return `Client ${id} disconnected due to oversize packet.`;
    case ReasonCode.QoSNotSupported:
    case ReasonCode.RetainNotSupported:
      return `Client ${id} disconnected due to QoS too high or retain not supported.`;
    case ReasonCode.AdministrativeAction:
      // sic: Mosquitto's wording
      return `Client ${id} been disconnected by administrative action.`;
    case ReasonCode.UnspecifiedError:
    case ReasonCode.ImplementationSpecificError:
    case ReasonCode.ServerUnavailable:
    case ReasonCode.ServerBusy:
    case ReasonCode.QuotaExceeded:
      if (detail !== undefined) return `Client ${id} disconnected: ${detail}.`;
      return `Client ${id} disconnected due to protocol error.`;
    default:
      return `Client ${id} disconnected due to protocol error.`;
  }
}

/**
 * The line for a socket error: a reset is the client closing its connection (Mosquitto reads
 * ECONNRESET as MOSQ_ERR_CONN_LOST); anything else prints strerror's text.
 */
export function socketErrorLine(id: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNRESET') return `Client ${id} closed its connection.`;
  let text = err.message;
  if (err.errno !== undefined) {
    try {
      text = getSystemErrorMessage(err.errno);
    } catch {
      // not a system error number: keep the message
    }
  }
  // libuv's texts are strerror's with a lower-case first letter
  return `Client ${id} disconnected: ${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
