/**
 * Secrets never leak: a canary secret placed in the output signing keys and in the operator
 * control keys must not appear in any log line of a processor run (startup config line,
 * warnings about rejected control records, shutdown — captured at debug level from pino's
 * destination) nor in `/metrics`.
 */
import { Writable } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import { describeConfig } from '../../../src/config/config.ts';
import { signControl } from '../../../src/control/sign-control.ts';
import { startKafkaRunner } from '../../../src/runners/kafka/run.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { cleanupTest, connectProducer, processorConfig, processorEnv, readTopic, uniqueNames } from '../../support/processor-harness.ts';
import { describeIntegration, sharedCluster, waitFor } from '../../support/services.ts';
import { ev } from '../../support/events.ts';

const CANARY = 'CANARY-7f3e9b1c-never-log-me';

describeIntegration('canary secrets', () => {
  const names = uniqueNames('canary');
  afterAll(() => cleanupTest(sharedCluster(), names));

  it('never appear in a log line or in /metrics', async () => {
    const config = processorConfig(
      processorEnv(sharedCluster(), names, {
        TRUSTLINE_PARTITIONS: '1',
        TRUSTLINE_SIGNING_KEYS: `live:${CANARY}-signing`,
        TRUSTLINE_SIGNING_ACTIVE_KID: 'live',
        TRUSTLINE_CONTROL_KEYS: `ops:${CANARY}-control`,
        TRUSTLINE_LOG_LEVEL: 'debug',
      }),
    );
    let text = '';
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString('utf8');
        cb();
      },
    });
    const log = createLogger({ level: 'debug', destination });
    log.info({ config: describeConfig(config) }, 'starting trustline run'); // what `trustline run` logs first
    const processor = await startKafkaRunner(config, log);
    const producer = await connectProducer(sharedCluster());
    try {
      for (let i = 0; i < 5; i++)
        await producer.send({
          topic: names.requests,
          acks: -1,
          messages: [{ key: 'a-1', value: JSON.stringify(ev({ eventId: `c-${i}`, ts: Date.now(), agent: { id: 'a-1' } })) }],
        });
      const key = config.control.keys[0]!;
      const good = signControl({ agentId: 'a-1', action: 'force_open', issuedAt: Date.now(), operator: 'alice' }, key);
      const bad = signControl({ agentId: 'a-1', action: 'force_close', issuedAt: Date.now(), operator: 'mallory' }, { ...key, secret: `${CANARY}-guess` });
      await producer.send({
        topic: names.control,
        acks: -1,
        messages: [
          { key: 'a-1', value: JSON.stringify(good) },
          { key: 'a-1', value: JSON.stringify(bad) },
        ],
      });
      await waitFor(
        async () => (await readTopic(sharedCluster(), names.circuit)).length >= 1 && (await readTopic(sharedCluster(), names.dlq)).length >= 1,
        'the control records processed',
        60_000,
      );
      const res = await fetch(`http://127.0.0.1:${processor.httpPort}/metrics`);
      const metrics = await res.text();
      expect(res.status).toBe(200);
      expect(metrics).toContain('trustline_events_total');
      expect(metrics).not.toContain(CANARY);
    } finally {
      await producer.disconnect();
      await processor.stop('test end');
    }
    expect(text).toContain('starting trustline run');
    expect(text).toContain('control record rejected');
    expect(text.split('\n').filter((l) => l.includes(CANARY))).toEqual([]);
  }, 180_000);
});
