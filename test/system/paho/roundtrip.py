"""Round trip through the broker with Eclipse paho (Python): subscribe, publish at QoS 0/1/2,
and a retained message, at MQTT 3.1.1 or 5.0. Prints one JSON line with what arrived.
usage: roundtrip.py PORT 4|5 [SUBSCRIBER_PORT (default PORT: another culex node of a cluster)]"""
import json
import sys
import threading

import paho.mqtt.client as mqtt

port, version = int(sys.argv[1]), int(sys.argv[2])
sub_port = int(sys.argv[3]) if len(sys.argv) > 3 else port
proto = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
got, done, subscribed = [], threading.Event(), threading.Event()


def make(client_id):
    try:  # paho 2.x wants the callback API version
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id, protocol=proto)
    except AttributeError:
        return mqtt.Client(client_id=client_id, protocol=proto)


def on_message(_c, _u, msg):
    got.append({"topic": msg.topic, "payload": msg.payload.decode(), "qos": msg.qos, "retain": bool(msg.retain)})
    if len(got) == 4:
        done.set()


pub = make(f"paho-pub-{version}")
pub.connect("127.0.0.1", port)
pub.loop_start()
pub.publish("paho/retained", "kept", qos=1, retain=True).wait_for_publish(5)

sub = make(f"paho-sub-{version}")
sub.on_message = on_message
sub.on_subscribe = lambda *a: subscribed.set()
sub.connect("127.0.0.1", sub_port)
sub.loop_start()
sub.subscribe("paho/#", qos=2)
subscribed.wait(5)
for q in (0, 1, 2):
    pub.publish("paho/live", f"q{q}", qos=q).wait_for_publish(5)
done.wait(5)
print(json.dumps(got))
for c in (pub, sub):
    c.disconnect()
    c.loop_stop()
