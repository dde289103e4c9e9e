import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { Fifo } from './fifo.js';

test('behaves like an array queue under any sequence of operations (model-based)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer(), fc.constant('shift' as const), fc.constant('drop-even' as const)), {
        maxLength: 3000,
      }),
      (ops) => {
        const fifo = new Fifo<number>();
        let model: number[] = [];
        for (const op of ops) {
          if (op === 'shift') assert.equal(fifo.shift(), model.shift());
          else if (op === 'drop-even') {
            const removed = fifo.removeWhere((n) => n % 2 === 0);
            assert.deepEqual(
              removed,
              model.filter((n) => n % 2 === 0),
            );
            model = model.filter((n) => n % 2 !== 0);
          } else {
            fifo.push(op);
            model.push(op);
          }
          assert.equal(fifo.length, model.length);
          assert.equal(fifo.peek(), model[0]);
          assert.ok(fifo.held <= fifo.length + Math.max(1024, fifo.length) + 1, 'dead slots are bounded');
        }
        assert.deepEqual([...fifo], model);
      },
    ),
    { numRuns: 200 },
  );
});

test('dead slots are compacted past 1,024 and only when more are dead than live', () => {
  const filled = (n: number) => {
    const fifo = new Fifo<number>();
    for (let i = 0; i < n; i++) fifo.push(i);
    return fifo;
  };
  const shifted = (fifo: Fifo<number>, n: number) => {
    for (let i = 0; i < n; i++) fifo.shift();
    return fifo;
  };
  assert.equal(shifted(filled(10), 6).held, 10, 'a few dead slots are not worth a copy');
  assert.equal(shifted(filled(2000), 1024).held, 2000, '1,024 dead slots stay');
  assert.equal(shifted(filled(2000), 1025).held, 975, 'the 1,025th dead slot compacts');
  assert.equal(shifted(filled(3000), 1500).held, 3000, 'as many dead as live stay');
  const fifo = shifted(filled(3000), 1501);
  assert.equal(fifo.held, 1499, 'more dead than live compacts');
  assert.equal(fifo.peek(), 1501);
  assert.equal(fifo.length, 1499);
});
