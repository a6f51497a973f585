/**
 * The close lines of Mosquitto 2.0.11's do_disconnect (src/loop.c), by the reason culex closes
 * a connection with, and for socket errors (ECONNRESET is the client closing, as Mosquitto reads it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeLine, socketErrorLine, UNKNOWN_CLIENT } from '../../../src/link/closeLog.ts';
import { ReasonCode } from '../../../src/protocol/errors.ts';

test('Mosquitto do_disconnect: the line for each close reason', () => {
  const cases: [number, string][] = [
    [ReasonCode.NotAuthorized, 'Client c disconnected, not authorised.'],
    [ReasonCode.BadUserNameOrPassword, 'Client c disconnected, not authorised.'],
    [ReasonCode.KeepAliveTimeout, 'Client c has exceeded timeout, disconnecting.'],
    [ReasonCode.MaximumConnectTime, 'Client c has exceeded timeout, disconnecting.'],
    [ReasonCode.MalformedPacket, 'Client c disconnected due to malformed packet.'],
    [ReasonCode.ProtocolError, 'Client c disconnected due to protocol error.'],
    [ReasonCode.TopicAliasInvalid, 'Client c disconnected due to protocol error.'],
    [ReasonCode.PacketTooLarge, 'Client c disconnected due to oversize packet.'],
    [ReasonCode.QoSNotSupported, 'Client c disconnected due to QoS too high or retain not supported.'],
    [ReasonCode.RetainNotSupported, 'Client c disconnected due to QoS too high or retain not supported.'],
    [ReasonCode.AdministrativeAction, 'Client c been disconnected by administrative action.'],
    [ReasonCode.SessionTakenOver, ''],
    [ReasonCode.ServerShuttingDown, ''],
  ];
  for (const [code, line] of cases) assert.equal(closeLine('c', code), line, `0x${code.toString(16)}`);
  assert.equal(closeLine(UNKNOWN_CLIENT, ReasonCode.ProtocolError), 'Client <unknown> disconnected due to protocol error.');
  assert.equal(closeLine('c', ReasonCode.UnspecifiedError, 'could not be stored'), 'Client c disconnected: could not be stored.');
});

test('Mosquitto: ECONNRESET is "closed its connection"; other socket errors print strerror\'s text', () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });
  assert.equal(socketErrorLine('c', reset), 'Client c closed its connection.');
  const timedOut = Object.assign(new Error('read ETIMEDOUT'), { code: 'ETIMEDOUT', errno: -110 });
  assert.equal(socketErrorLine('c', timedOut), 'Client c disconnected: Connection timed out.');
});
