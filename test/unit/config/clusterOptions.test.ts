/** cluster_nats_url and cluster_node_name (src/config/clusterOptions.ts): parsed, checked, refused with file and line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { diffReloadable } from '../../../src/config/reload.ts';
import { expectConfigError } from './expectConfigError.ts';

const parse = (text: string) => parseConfig(`listener 1883\n${text}\n`, 'test.conf').config;

test('without cluster options a broker is alone', () => {
  const c = parse('');
  assert.deepEqual(c.clusterNatsUrls, []);
  assert.equal(c.clusterNodeName, undefined);
});

test('URLs accumulate over lines and within a line; the node name is kept', () => {
  const c = parse('cluster_nats_url nats://127.0.0.1:4222\ncluster_nats_url nats://a.example:4223, nats://[::1]:4224 nats://b\ncluster_node_name node-1');
  assert.deepEqual(c.clusterNatsUrls, ['nats://127.0.0.1:4222', 'nats://a.example:4223', 'nats://[::1]:4224', 'nats://b']);
  assert.equal(c.clusterNodeName, 'node-1');
});

test('bad URLs, bad names, one without the other: ConfigError with file and line', () => {
  for (const [text, line, words] of [
    ['cluster_nats_url http://x:4222\ncluster_node_name a', 2, /not a nats:\/\/host/],
    ['cluster_nats_url nats://x:99999\ncluster_node_name a', 2, /port out of range/],
    ['cluster_nats_url\ncluster_node_name a', 2, /at least one/],
    ['cluster_nats_url nats://x:4222\ncluster_node_name a.b', 3, /not a node name/],
    ['cluster_nats_url nats://x:4222\ncluster_node_name a\ncluster_node_name b', 4, /duplicate cluster_node_name/],
    ['cluster_nats_url nats://x:4222', 2, /cluster_node_name must be set/],
    ['cluster_node_name a', 2, /without cluster_nats_url/],
  ] as const) {
    const err = expectConfigError(() => parseConfig(`listener 1883\n${text}\n`, 'test.conf'));
    assert.equal(err.file, 'test.conf');
    assert.equal(err.line, line, `${text}: ${err.message}`);
    assert.match(err.message, words);
  }
});

test('a reload cannot change the cluster', () => {
  const a = parse('cluster_nats_url nats://127.0.0.1:4222\ncluster_node_name n1');
  const b = parse('cluster_nats_url nats://127.0.0.1:4223\ncluster_node_name n2');
  assert.deepEqual(diffReloadable(a, b).notReloadable.sort(), ['cluster_nats_url', 'cluster_node_name']);
});
