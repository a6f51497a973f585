/**
 * Micro-benchmark: src/broker/topicTree.ts `TopicTree.match` with the smart-city layout:
 * 10000 exact subscriptions city/lights/<zone>/<id>/status, a back-end wildcard city/lights/#,
 * per-zone city/lights/<zone>/+/status and a $share group on city/#.
 *   node native-bench/micro/topic-match.ts
 */
import type { SubscriptionOptions } from '../../src/model/subscription.ts';
import { TopicTree, type MatchVisitor, type ShareGroup } from '../../src/broker/topicTree.ts';
import { bench, header } from './harness.ts';

const DEVICES = 10000;
const ZONES = 10;
const options: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 };

let matches = 0;
const visitor: MatchVisitor<number> = {
  subscriber(): void { matches++; },
  group(_g: ShareGroup<number>): void { matches++; },
};

const topics: string[] = [];
for (let i = 0; i < DEVICES; i++) topics.push(`city/lights/${i % ZONES}/${i}/status`);

header('TopicTree.match');
const wildcardOnly = new TopicTree<number>();
wildcardOnly.add('city/lights/#', undefined, 0, options);
const full = new TopicTree<number>();
for (let i = 0; i < DEVICES; i++) full.add(topics[i]!, undefined, i + 1, options);
full.add('city/lights/#', undefined, 0, options);
for (let z = 0; z < ZONES; z++) full.add(`city/lights/${z}/+/status`, undefined, DEVICES + 1 + z, options);
full.add('city/#', 'ingest', DEVICES + 100, options);

let cursor = 0;
for (const [name, tree] of [['1 subscription: city/lights/#', wildcardOnly], [`${full.size} subscriptions (exact, +, #, $share)`, full]] as const) {
  bench(name, 1000, () => {
    for (let i = 0; i < 1000; i++) {
      tree.match(topics[cursor]!, visitor);
      if (++cursor === DEVICES) cursor = 0;
    }
  });
}
if (matches === 0) throw new Error('nothing matched');
