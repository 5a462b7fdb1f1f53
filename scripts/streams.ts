/**
 * `npm run streams`: the event broker's state for operators: each stream (messages, bytes, first
 * and last sequence) and each durable consumer (delivered, acknowledged, lag = pending + waiting
 * for an ack, redelivered). `--json` prints the same as JSON. Exit 2 when the broker cannot be used.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { loadStreamsConfig } from '../config/streams';
import { connectBroker } from '../lib/events/nats';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(rows[0]!), ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const config = loadStreamsConfig();
  const nc = await connectBroker(config.NATS_URL, 'streams-cli');
  try {
    const jsm = await jetstreamManager(nc);
    const streams = [];
    for await (const s of jsm.streams.list()) {
      const consumers = [];
      for await (const c of jsm.consumers.list(s.config.name)) {
        consumers.push({
          name: c.name,
          filter: c.config.filter_subjects?.join(',') ?? c.config.filter_subject ?? '>',
          delivered: c.delivered.stream_seq,
          ackFloor: c.ack_floor.stream_seq,
          pending: c.num_pending,
          ackPending: c.num_ack_pending,
          lag: c.num_pending + c.num_ack_pending,
          redelivered: c.num_redelivered,
        });
      }
      streams.push({
        name: s.config.name,
        subjects: s.config.subjects,
        storage: s.config.storage,
        messages: s.state.messages,
        bytes: s.state.bytes,
        firstSeq: s.state.first_seq,
        lastSeq: s.state.last_seq,
        consumers,
      });
    }
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify({ natsUrl: config.NATS_URL, streams }, null, 2));
      return;
    }
    console.log(`Broker ${config.NATS_URL}\n`);
    console.log(
      table([
        ['stream', 'subjects', 'storage', 'messages', 'bytes', 'first', 'last'],
        ...streams.map((s) => [
          s.name,
          s.subjects.join(','),
          s.storage,
          String(s.messages),
          String(s.bytes),
          String(s.firstSeq),
          String(s.lastSeq),
        ]),
      ]),
    );
    const consumers = streams.flatMap((s) => s.consumers.map((c) => ({ stream: s.name, ...c })));
    console.log('');
    console.log(
      consumers.length === 0
        ? 'No consumers.'
        : table([
            ['stream', 'consumer', 'filter', 'delivered', 'ack floor', 'lag', 'ack pending', 'redelivered'],
            ...consumers.map((c) => [
              c.stream,
              c.name,
              c.filter,
              String(c.delivered),
              String(c.ackFloor),
              String(c.lag),
              String(c.ackPending),
              String(c.redelivered),
            ]),
          ]),
    );
  } finally {
    await nc.close();
  }
}

main().catch((err: unknown) => {
  console.error(`streams: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
