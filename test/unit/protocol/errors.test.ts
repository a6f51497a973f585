import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttProtocolError, ReasonCode, reasonStringAdds, v3ConnackReturnCode } from '../../../src/protocol/errors.ts';

test('v3ConnackReturnCode maps v5 reason codes to 3.1.1 CONNACK return codes', () => {
  const table: Array<[number, number]> = [
    [ReasonCode.Success, 0],
    [ReasonCode.UnsupportedProtocolVersion, 1],
    [ReasonCode.ClientIdentifierNotValid, 2],
    [ReasonCode.ServerUnavailable, 3],
    [ReasonCode.ServerBusy, 3],
    [ReasonCode.UnspecifiedError, 3],
    [ReasonCode.MalformedPacket, 3],
    [ReasonCode.BadUserNameOrPassword, 4],
    [ReasonCode.NotAuthorized, 5],
    [ReasonCode.Banned, 5],
    [ReasonCode.PacketTooLarge, 5], // a will over message_size_limit: Mosquitto 2.0.11 sends "not authorised"
  ];
  for (const [reason, code] of table) assert.equal(v3ConnackReturnCode(reason), code, `0x${reason.toString(16)}`);
});

test('MqttProtocolError carries reason, stable code and spec tag', () => {
  const error = new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_X', 'bad thing', 'MQTT-1.2.3-4');
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'MqttProtocolError');
  assert.equal(error.reasonCode, 0x82);
  assert.equal(error.code, 'MQTT_ERR_X');
  assert.equal(error.spec, 'MQTT-1.2.3-4');
  assert.equal(error.protocolVersion, undefined);
  assert.equal(new MqttProtocolError(0x81, 'MQTT_ERR_Y', 'm').spec, undefined);
});

test('a Reason String is added only to the codes that do not say what went wrong (0x80, 0x83); Mosquitto 2.0.11 sends none', () => {
  assert.equal(reasonStringAdds(ReasonCode.UnspecifiedError), true);
  assert.equal(reasonStringAdds(ReasonCode.ImplementationSpecificError), true);
  for (const code of [ReasonCode.MalformedPacket, ReasonCode.ProtocolError, ReasonCode.NotAuthorized, ReasonCode.SessionTakenOver,
    ReasonCode.KeepAliveTimeout, ReasonCode.PacketTooLarge, ReasonCode.ServerShuttingDown, ReasonCode.TopicNameInvalid]) {
    assert.equal(reasonStringAdds(code), false, `0x${code.toString(16)}`);
  }
});
