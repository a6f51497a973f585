/**
 * One broker per persistence_location: a second culex on the same directory refuses to start,
 * naming the first one's pid; after the first is killed (-9), the directory can be used again.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, startCli } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';

after(() => cleanupBrokerProcesses());

test('a second broker on the same persistence_location refuses to start and names the holder; a killed holder frees it', async () => {
  const { dir, port, conf } = await brokerDir();
  const first = await startBrokerProcess(conf, dir, port);
  const secondPort = await freePort();
  const secondConf = path.join(dir, 'second.conf');
  writeFileSync(secondConf, [`listener ${secondPort} 127.0.0.1`, 'allow_anonymous true', 'persistence true',
    `persistence_location ${path.join(dir, 'data')}`, 'workers 1'].join('\n') + '\n');
  const second = startCli(['-c', secondConf], dir);
  const exit = await second.exit;
  assert.notEqual(exit.code, 0);
  assert.match(second.output(), new RegExp(`in use by another culex \\(pid ${first.proc.pid}`));
  // the first one still serves
  const { client } = await connectTo(port);
  await client.endAsync();

  first.proc.kill('SIGKILL');
  await first.exit;
  const third = await startBrokerProcess(secondConf, dir, secondPort);
  const { client: again } = await connectTo(secondPort);
  await again.endAsync();
  third.proc.kill('SIGTERM');
  assert.equal((await third.exit).code, 0);
});
