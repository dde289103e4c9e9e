/**
 * The benchmark harness's arithmetic: a wrong quantile or median would misreport every result.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Histogram } from '../../bench/lib/histogram.js';
import { makePayload, sentAt, seqOf } from '../../bench/lib/payload.js';
import { formatTable, summarize, type Row } from '../../bench/lib/report.js';

test('histogram: exact below 128 µs, within 1% above, merges across processes', () => {
  const h = new Histogram();
  for (let us = 1; us <= 100; us++) h.record(us);
  assert.equal(h.quantile(0.5), 50);
  assert.equal(h.quantile(0.99), 99);
  assert.equal(h.quantile(1), 100);

  const wide = new Histogram();
  for (let i = 1; i <= 10_000; i++) wide.record(i * 100); // 100 µs … 1 s
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = Math.ceil(q * 10_000) * 100;
    const got = wide.quantile(q);
    assert.ok(Math.abs(got - exact) / exact < 0.01, `q${q}: ${got} vs ${exact}`);
  }

  const merged = new Histogram();
  merged.add(h.toJSON());
  merged.add(wide.toJSON());
  assert.equal(merged.total, 10_100);
  // The 51st of the 10,100 values is h's 51 µs (exact); the largest is wide's 1 s (within 1%).
  assert.equal(merged.quantile(0.005), 51);
  assert.ok(Math.abs(merged.quantile(1) - 1_000_000) / 1_000_000 < 0.01, `max ${merged.quantile(1)}`);
  assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
});

test('payload: exact size, sequence and send time read back without parsing JSON', () => {
  // The send time is the monotonic clock's, in µs, taken while the payload was made.
  const micros = () => {
    const [s, ns] = process.hrtime();
    return s * 1e6 + Math.floor(ns / 1e3);
  };
  const before = micros();
  const payload = makePayload(42, 100);
  const after = micros();
  assert.equal(payload.length, 100);
  assert.equal(seqOf(payload), 42);
  assert.ok(
    sentAt(payload) >= before && sentAt(payload) <= after,
    `${before} ≤ ${sentAt(payload)} ≤ ${after}`,
  );
  assert.equal(seqOf(makePayload(1_234_567_890, 10)), 1_234_567_890, 'a header longer than the size asked');
});

test('summaries: median with min–max per system and configuration', () => {
  const row = (system: string, throughput: number): Row => ({
    scenario: 'fanout',
    system,
    subscribers: 100,
    rate: 20,
    throughput,
    p50Ms: 1,
    p99Ms: 2,
    serverCpuPct: 10,
    cpuPerDeliveryMicros: throughput / 100,
    rssMb: 50,
    requestsPerSec: 0,
    loadCpuPct: 5,
    deliveryRatio: 1,
  });
  const [a, b] = summarize([row('a', 300), row('b', 7), row('a', 100), row('a', 200)]);
  assert.equal(a?.system, 'a');
  assert.equal(a?.runs, 3);
  assert.deepEqual(a?.metrics.throughput, { median: 200, min: 100, max: 300 });
  assert.equal(b?.metrics.throughput?.median, 7);
  const table = formatTable('fanout', [a, b]);
  assert.match(table, /\| a \| 100 \| 20\/s \| 200 \(100–300\) \|/);
});
