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
        }
        assert.deepEqual([...fifo], model);
      },
    ),
    { numRuns: 200 },
  );
});
