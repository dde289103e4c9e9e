import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { toWebSocketUrl } from './websocket.js';

test('toWebSocketUrl: http to ws, https to wss, ws and wss kept', () => {
  assert.equal(toWebSocketUrl('http://example.test:8080/ws'), 'ws://example.test:8080/ws');
  assert.equal(toWebSocketUrl('https://example.test/ws?x=1'), 'wss://example.test/ws?x=1');
  assert.equal(toWebSocketUrl('ws://example.test/ws'), 'ws://example.test/ws');
  assert.equal(toWebSocketUrl('wss://example.test/ws'), 'wss://example.test/ws');
});
