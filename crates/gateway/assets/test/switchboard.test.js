// Self-test of the pure parts of switchboard.js, with a fake WebSocket.
// Run: node crates/gateway/assets/test/switchboard.test.js   (exits non-zero on failure)
'use strict';

const assert = require('assert');
const path = require('path');

// Record anything written to the console: the library must never log (least of all a password).
const logged = [];
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  const original = console[level];
  console[level] = (...args) => {
    logged.push(args.map(String).join(' '));
    original.apply(console, args);
  };
}

const Switchboard = require(path.join(__dirname, '..', 'switchboard.js'));

/* ------------------------------------------------------------------ fake socket */

/** A WebSocket stand-in: records sent frames; the test plays the server. */
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code, reason) {
    this.serverClose(code || 1000, reason || '');
  }
  // Test side.
  open() {
    this.readyState = 1;
    this.onopen({});
  }
  receive(frame) {
    this.onmessage({ data: JSON.stringify(frame) });
  }
  serverClose(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose({ code, reason });
  }
  last() {
    return this.sent[this.sent.length - 1];
  }
}
FakeSocket.all = [];

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

function makeClient(extra = {}) {
  const seen = { events: [], states: [], errors: [], subscribed: [] };
  const client = new Switchboard(
    Object.assign(
      {
        url: 'ws://test/ws',
        source: 'test',
        WebSocket: FakeSocket,
        random: () => 0, // reconnect at once
        onEvent: (f) => seen.events.push(f),
        onState: (s, info) => seen.states.push([s, info]),
        onError: (e) => seen.errors.push(e),
        onSubscribed: (d) => seen.subscribed.push(d)
      },
      extra
    )
  );
  return { client, seen };
}

const READY = {
  sessionId: 's-1',
  agentId: '1001001',
  extension: '5001',
  roles: ['Agent'],
  teams: ['5000'],
  resumeToken: 'rt-1'
};

function ready(requestId, data = READY) {
  return { channel: 'Broker', topic: 'Session', subtopic: 'Ready', data, requestId };
}

function apiErrorFrame(requestId, errorType, errorMessage, msg) {
  return {
    channel: 'Cisco',
    topic: 'Error',
    subtopic: 'SetAPIError',
    data: { source: 'event', packet: 'apierror', data: { errorType, errorMessage, msg: msg || errorMessage } },
    requestId
  };
}

function agentState(stream, offset, epoch, source = 'event', state = 'READY') {
  return {
    channel: 'Cisco',
    topic: 'Agent',
    subtopic: 'SetAgentState',
    data: { source, agentId: '1001002', state, event: state },
    stream,
    offset,
    epoch
  };
}

/** Signs a new client in through a fake socket; returns {client, seen, socket}. */
async function signedIn(extra) {
  const { client, seen } = makeClient(extra);
  const promise = client.signIn({ username: '1001001', password: 'demo', extension: '5001' });
  const socket = FakeSocket.all[FakeSocket.all.length - 1];
  socket.open();
  await tick();
  socket.receive(ready(socket.last().requestId));
  await promise;
  return { client, seen, socket };
}

/* ------------------------------------------------------------------ tests */

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('backoffDelay: full jitter below an exponential cap', () => {
  const max = () => 0.999999;
  assert.strictEqual(Switchboard.backoffDelay(0, 500, 30000, () => 0), 0);
  assert.ok(Switchboard.backoffDelay(0, 500, 30000, max) < 500);
  assert.ok(Switchboard.backoffDelay(0, 500, 30000, max) >= 499);
  assert.ok(Switchboard.backoffDelay(3, 500, 30000, max) >= 3999);
  assert.ok(Switchboard.backoffDelay(3, 500, 30000, max) < 4000);
  assert.ok(Switchboard.backoffDelay(10, 500, 30000, max) < 30000);
  assert.ok(Switchboard.backoffDelay(10, 500, 30000, max) >= 29999);
  assert.ok(Switchboard.backoffDelay(1000, 500, 30000, max) < 30000);
  assert.strictEqual(Switchboard.backoffDelay(2, 500, 30000, () => 0.5), 1000);
});

test('mayReconnect: not after 4403 or 4500-4999', () => {
  for (const code of [1000, 1001, 1006, 4000, 4401, 4408, 4409, 4429, 4499]) {
    assert.strictEqual(Switchboard.mayReconnect(code), true, String(code));
  }
  for (const code of [4403, 4500, 4503, 4999]) {
    assert.strictEqual(Switchboard.mayReconnect(code), false, String(code));
  }
});

test('canonicalTopic lower-cases the kind only', () => {
  assert.strictEqual(Switchboard.canonicalTopic(' Team/AbC '), 'team/AbC');
  assert.strictEqual(Switchboard.canonicalTopic('ALL'), 'all');
});

test('StreamTracker: positions, duplicates, epochs, snapshots', () => {
  const t = new Switchboard.StreamTracker();
  assert.ok(t.accept(agentState('team/5000', 1, 'e1')));
  assert.ok(t.accept(agentState('team/5000', 2, 'e1')));
  assert.ok(!t.accept(agentState('team/5000', 2, 'e1')), 'same offset is a duplicate');
  assert.ok(!t.accept(agentState('team/5000', 1, 'e1')), 'older offset is a duplicate');
  assert.ok(t.accept(agentState('team/5000', 5, 'e1')), 'a gap is not a duplicate');
  assert.deepStrictEqual(t.positions['team/5000'], { offset: 5, epoch: 'e1' });
  assert.ok(t.accept(agentState('team/5000', 1, 'e2')), 'a new epoch starts over');
  assert.deepStrictEqual(t.positions['team/5000'], { offset: 1, epoch: 'e2' });
  // Snapshot frames share the current offset: all delivered.
  assert.ok(t.accept(agentState('agent/1', 7, 'e1', 'snapshot')));
  assert.ok(t.accept(agentState('agent/1', 7, 'e1', 'snapshot')));
  assert.ok(t.accept(agentState('agent/1', 6, 'e1', 'snapshot')));
  assert.deepStrictEqual(t.positions['agent/1'], { offset: 7, epoch: 'e1' });
  assert.ok(!t.accept(agentState('agent/1', 7, 'e1')), 'an event at the snapshot offset is old');
  assert.ok(t.accept(agentState('agent/1', 8, 'e1')));
  // No stream: always delivered, nothing stored.
  assert.ok(t.accept({ channel: 'Cisco', topic: 'System', subtopic: 'SetSystemInfo', data: {} }));
  assert.ok(t.accept({ channel: 'Cisco', topic: 'System', subtopic: 'SetSystemInfo', data: {} }));
  assert.deepStrictEqual(Object.keys(t.positions).sort(), ['agent/1', 'team/5000']);
  // since() for chosen topics, all of them for `all`.
  assert.deepStrictEqual(t.since(['team/5000']), { 'team/5000': { offset: 1, epoch: 'e2' } });
  assert.deepStrictEqual(Object.keys(t.since(['all'])).sort(), ['agent/1', 'team/5000']);
  assert.deepStrictEqual(t.since(['dialog/9']), {});
});

test('signIn sends SetUserInfo and resolves with Ready', async () => {
  const { client, seen, socket } = await signedIn();
  const frame = socket.sent[0];
  assert.strictEqual(socket.url, 'ws://test/ws');
  assert.deepStrictEqual(
    { channel: frame.channel, topic: frame.topic, subtopic: frame.subtopic, source: frame.source },
    { channel: 'Cisco', topic: 'Agent', subtopic: 'SetUserInfo', source: 'test' }
  );
  assert.deepStrictEqual(frame.data, { username: '1001001', password: 'demo', extension: '5001' });
  assert.strictEqual(frame.requestId, 'c-1');
  assert.deepStrictEqual(client.session, READY);
  assert.deepStrictEqual(
    seen.states.map((s) => s[0]),
    ['connecting', 'open', 'signed-in']
  );
});

test('signIn is rejected with the errorMessage of its SetAPIError', async () => {
  const { client, seen } = makeClient();
  const promise = client.signIn({ username: '1001001', password: 'wrong', extension: '5001' });
  const socket = FakeSocket.all[FakeSocket.all.length - 1];
  socket.open();
  await tick();
  // An unrelated error does not settle it.
  socket.receive(apiErrorFrame('c-999', 'Invalid Input', 'something else'));
  socket.receive(apiErrorFrame(socket.last().requestId, 'Authorization Failure', 'Invalid credentials'));
  await assert.rejects(promise, (err) => err.message === 'Invalid credentials' && err.errorType === 'Authorization Failure' && err.reported === true);
  assert.strictEqual(seen.errors.length, 2);
  assert.strictEqual(client.state, 'open');
});

test('authenticate sends Broker/Session/Authenticate', async () => {
  const { client } = makeClient();
  const promise = client.authenticate('jwt-token');
  const socket = FakeSocket.all[FakeSocket.all.length - 1];
  socket.open();
  await tick();
  assert.deepStrictEqual(socket.last().data, { token: 'jwt-token' });
  assert.strictEqual(socket.last().subtopic, 'Authenticate');
  socket.receive(ready(socket.last().requestId));
  assert.strictEqual((await promise).sessionId, 's-1');
});

test('command: settled by the matching Result only; SetAPIError goes to onError', async () => {
  const { client, seen, socket } = await signedIn();

  const ok = client.answer('16786700');
  const sent = socket.last();
  assert.deepStrictEqual(
    [sent.channel, sent.topic, sent.subtopic, sent.data],
    ['Cisco', 'OutboundCall', 'SetANSWER', { CallID: '16786700' }]
  );
  // A Result with another requestId or another subtopic is ignored.
  socket.receive({ channel: 'Cisco', topic: 'OutboundCall', subtopic: 'SetANSWERResult', data: { ResponseType: 4 }, requestId: 'c-0' });
  socket.receive({ channel: 'Cisco', topic: 'OutboundCall', subtopic: 'SetHOLDResult', data: { ResponseType: 4 }, requestId: sent.requestId });
  socket.receive({
    channel: 'Cisco', topic: 'OutboundCall', subtopic: 'SetANSWERResult',
    data: { ResponseType: 0, ResponseText: 'Success', finesseRequestId: 'f-1' }, requestId: sent.requestId
  });
  assert.deepStrictEqual(await ok, { ResponseType: 0, ResponseText: 'Success', finesseRequestId: 'f-1' });

  const refused = client.hold('16786700');
  const holdId = socket.last().requestId;
  socket.receive(apiErrorFrame(holdId, 'Action Not Allowed', 'HOLD is not allowed now'));
  await tick();
  assert.strictEqual(seen.errors.length, 1);
  assert.strictEqual(seen.errors[0].message, 'HOLD is not allowed now');
  socket.receive({
    channel: 'Cisco', topic: 'OutboundCall', subtopic: 'SetHOLDResult',
    data: { ResponseType: 4, ResponseText: 'Action not allowed' }, requestId: holdId
  });
  await assert.rejects(refused, (err) => err.message === 'Action not allowed' && err.responseType === 4 && err.errorType === 'Action Not Allowed' && err.reported === true);
  // A refusal without a SetAPIError was not reported to onError.
  const bare = client.drop('16786700');
  socket.receive({ channel: 'Cisco', topic: 'OutboundCall', subtopic: 'SetDROPResult', data: { ResponseType: 8, ResponseText: 'Timeout' }, requestId: socket.last().requestId });
  await assert.rejects(bare, (err) => err.responseType === 8 && !err.reported);
  assert.strictEqual(client.topics().length, 0);
});

test('command wrappers send the documented frames', async () => {
  const { client, socket } = await signedIn({ timeoutMs: 5 });
  const cases = [
    [() => client.transfer('1', '5002'), 'OutboundCall', 'SetTRANSFER_SST', { CallID: '1', TOAddress: '5002' }],
    [() => client.consult('1', '5002'), 'OutboundCall', 'SetCONSULT_CALL', { CallID: '1', TOAddress: '5002' }],
    [() => client.scheduleCallback('1', '2026-11-24T09:30', '555'), 'OutboundCall', 'SetUPDATE_SCHEDULED_CALLBACK', { callID: '1', callbackTime: '2026-11-24T09:30', callbackNumber: '555' }],
    [() => client.scheduleCallback('1', '2026-11-24T09:30'), 'OutboundCall', 'SetUPDATE_SCHEDULED_CALLBACK', { callID: '1', callbackTime: '2026-11-24T09:30' }],
    [() => client.cancelCallback('1'), 'OutboundCall', 'SetCANCEL_SCHEDULED_CALLBACK', { callID: '1' }],
    [() => client.accept('1'), 'OutboundCall', 'SetACCEPT', { CallID: '1' }],
    [() => client.reject('1'), 'OutboundCall', 'SetREJECT', { CallID: '1' }],
    [() => client.close('1'), 'OutboundCall', 'SetCLOSE', { CallID: '1' }],
    [() => client.retrieve('1'), 'OutboundCall', 'SetRETRIEVE', { CallID: '1' }],
    [() => client.drop('1'), 'OutboundCall', 'SetDROP', { CallID: '1' }],
    [() => client.makeCall('5002'), 'InboundCall', 'SetMakeCall', { toAddress: '5002' }],
    [() => client.setReady(), 'Agent', 'SetReadyState', {}],
    [() => client.setNotReady(), 'Agent', 'SetNotReadyState', {}],
    [() => client.setNotReady('12'), 'Agent', 'SetNotReadyState', { ReasonCodeId: '12' }],
    [() => client.logout(), 'Connection', 'Logout', {}],
    [() => client.teamAgentNotReady('1001002'), 'Team', 'SetTeamAgentNotReadyState', { Username: '1001002' }],
    [() => client.teamAgentLogout('1001002'), 'Team', 'SetTeamAgentLogout', { Username: '1001002' }]
  ];
  for (const [call, topic, subtopic, data] of cases) {
    const p = call();
    const f = socket.last();
    assert.deepStrictEqual([f.channel, f.topic, f.subtopic, f.data], ['Cisco', topic, subtopic, data]);
    assert.ok(/^c-\d+$/.test(f.requestId) && f.requestId.length <= 128);
    await assert.rejects(p, (err) => err.timeout === true); // nobody answers: timeout
  }
});

test('timeout rejects, carrying the SetAPIError seen for the request', async () => {
  const { client, socket } = await signedIn({ timeoutMs: 20 });
  const p = client.command('Cisco', 'OutboundCall', 'SetBOGUS', {});
  socket.receive(apiErrorFrame(socket.last().requestId, 'Invalid Input', 'unknown subtopic SetBOGUS'));
  await assert.rejects(p, (err) => err.timeout && err.message === 'unknown subtopic SetBOGUS');
});

test('events: onEvent once per stream offset', async () => {
  const { seen, socket } = await signedIn();
  socket.receive(agentState('team/5000', 1, 'e1', 'snapshot'));
  socket.receive(agentState('team/5000', 1, 'e1', 'snapshot'));
  socket.receive(agentState('team/5000', 2, 'e1'));
  socket.receive(agentState('team/5000', 2, 'e1'));
  socket.receive({ channel: 'Cisco', topic: 'System', subtopic: 'SetSystemInfo', data: { status: 'IN_SERVICE' } });
  assert.strictEqual(seen.events.length, 4);
});

test('frames over the size limit are refused before sending', async () => {
  const { client, socket } = await signedIn({ maxFrameBytes: 200 });
  const before = socket.sent.length;
  await assert.rejects(client.updateCallData('1', { callVariable1: 'x'.repeat(300) }), /frame too large/);
  assert.strictEqual(socket.sent.length, before);
});

test('reconnect: resume token, then credentials, then re-subscribe with since', async () => {
  const { client, seen, socket } = await signedIn();
  const sub = client.subscribe(['Team/5000']);
  const subFrame = socket.last();
  assert.deepStrictEqual(subFrame.data, { topics: ['team/5000'] });
  socket.receive({ channel: 'Broker', topic: 'Subscription', subtopic: 'Subscribed', data: { topics: ['team/5000'] }, requestId: subFrame.requestId });
  await sub;
  socket.receive(agentState('team/5000', 41, 'ep'));
  socket.receive(agentState('agent/1001001', 3, 'ep'));

  socket.serverClose(4000, 'shutdown');
  assert.strictEqual(client.state, 'reconnecting');
  await tick(5);
  const next = FakeSocket.all[FakeSocket.all.length - 1];
  assert.notStrictEqual(next, socket);
  next.open();
  await tick();
  const auth = next.last();
  assert.deepStrictEqual([auth.channel, auth.topic, auth.subtopic, auth.data], ['Broker', 'Session', 'Authenticate', { token: 'rt-1' }]);
  // Resume token refused: signs in again with the credentials held in memory.
  const errorsBefore = seen.errors.length;
  next.receive(apiErrorFrame(auth.requestId, 'Resume Token Unknown', 'this resume token is unknown'));
  await tick();
  assert.strictEqual(seen.errors.length, errorsBefore, 'a refused resume token is not an error');
  const again = next.last();
  assert.strictEqual(again.subtopic, 'SetUserInfo');
  assert.deepStrictEqual(again.data, { username: '1001001', password: 'demo', extension: '5001' });
  next.receive(ready(again.requestId, Object.assign({}, READY, { resumeToken: 'rt-2' })));
  await tick();
  const resub = next.last();
  assert.strictEqual(resub.subtopic, 'Subscribe');
  assert.deepStrictEqual(resub.data, { topics: ['team/5000'], since: { 'team/5000': { offset: 41, epoch: 'ep' } } });
  next.receive({ channel: 'Broker', topic: 'Subscription', subtopic: 'Subscribed', data: { topics: ['team/5000'], recovered: true }, requestId: resub.requestId });
  await tick();
  assert.strictEqual(seen.subscribed[seen.subscribed.length - 1].recovered, true);
  assert.strictEqual(client.session.resumeToken, 'rt-2');
  // Replayed events after the position are delivered; the old ones are not.
  const count = seen.events.length;
  next.receive(agentState('team/5000', 41, 'ep', 'replay'));
  next.receive(agentState('team/5000', 42, 'ep', 'replay'));
  assert.strictEqual(seen.events.length, count + 1);

  // Next reconnect uses the newest resume token and succeeds directly.
  next.serverClose(4408, 'too slow');
  await tick(5);
  const third = FakeSocket.all[FakeSocket.all.length - 1];
  third.open();
  await tick();
  assert.deepStrictEqual(third.last().data, { token: 'rt-2' });
  assert.deepStrictEqual(
    seen.states.map((s) => s[0]).slice(-4),
    ['signed-in', 'reconnecting', 'connecting', 'open']
  );
  assert.strictEqual(seen.states.find((s) => s[0] === 'reconnecting')[1].code, 4000);
});

test('a subscription the server ends goes to onEvent and is not re-subscribed', async () => {
  const { client, seen, socket } = await signedIn();
  const sub = client.subscribe(['dialog/42', 'team/5000']);
  const subFrame = socket.last();
  socket.receive({ channel: 'Broker', topic: 'Subscription', subtopic: 'Subscribed', data: { topics: ['dialog/42', 'team/5000'] }, requestId: subFrame.requestId });
  await sub;
  const ended = { channel: 'Broker', topic: 'Subscription', subtopic: 'Unsubscribed', data: { topics: ['dialog/42'], reason: 'left_dialog' } };
  socket.receive(ended);
  assert.deepStrictEqual(seen.events[seen.events.length - 1], ended);
  assert.deepStrictEqual(client.topics(), ['team/5000']);
});

test('reconnect: both sign-ins refused, the session is lost', async () => {
  const { client, seen, socket } = await signedIn();
  socket.serverClose(1006, '');
  await tick(5);
  const next = FakeSocket.all[FakeSocket.all.length - 1];
  next.open();
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Authorization Failure', 'resume token expired'));
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Authorization Failure', 'Invalid credentials'));
  await tick();
  assert.strictEqual(client.state, 'closed');
  assert.strictEqual(client.session, null);
  const last = seen.errors[seen.errors.length - 1];
  assert.ok(/sign-in after reconnect failed: Invalid credentials/.test(last.message), last.message);
  const sockets = FakeSocket.all.length;
  await tick(5);
  assert.strictEqual(FakeSocket.all.length, sockets, 'no further reconnect');
});

test('reconnect after a restart: throttled sign-in keeps the session and tries again later', async () => {
  const { client, seen, socket } = await signedIn();
  socket.serverClose(4000, 'shutdown');
  await tick(5);
  const next = FakeSocket.all[FakeSocket.all.length - 1];
  next.open();
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Resume Token Unknown', 'unknown resume token'));
  await tick();
  assert.strictEqual(next.last().subtopic, 'SetUserInfo');
  next.receive(apiErrorFrame(next.last().requestId, 'Too Many Requests', 'try again in 3 s'));
  await tick();
  // Not lost: the session and the credentials are kept, and a new connection tries again.
  assert.notStrictEqual(client.session, null);
  assert.strictEqual(seen.errors.length, 0, seen.errors.map(String).join());
  assert.ok(seen.states.some((s) => s[0] === 'reconnecting' && s[1].reason === 'sign-in refused for now'));
  await tick(5);
  const third = FakeSocket.all[FakeSocket.all.length - 1];
  assert.notStrictEqual(third, next);
  third.open();
  await tick();
  assert.deepStrictEqual(third.last().data, { token: 'rt-1' });
  third.receive(apiErrorFrame(third.last().requestId, 'Resume Token Unknown', 'unknown resume token'));
  await tick();
  const again = third.last();
  assert.deepStrictEqual(again.data, { username: '1001001', password: 'demo', extension: '5001' });
  third.receive(ready(again.requestId, Object.assign({}, READY, { resumeToken: 'rt-3' })));
  await tick();
  assert.strictEqual(client.state, 'signed-in');
  assert.strictEqual(client.session.resumeToken, 'rt-3');
  client.disconnect();
});

test('reconnect: credentials refused, the page is asked for new ones', async () => {
  const asked = [];
  const { client, seen, socket } = await signedIn({
    onCredentialsNeeded: (info) => {
      asked.push(info);
      return Promise.resolve({ token: 'fresh-jwt' });
    }
  });
  socket.serverClose(1006, '');
  await tick(5);
  const next = FakeSocket.all[FakeSocket.all.length - 1];
  next.open();
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Resume Token Unknown', 'unknown resume token'));
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Authorization Failure', 'wrong user name or password'));
  await tick();
  assert.deepStrictEqual(asked, [{ reason: 'wrong user name or password', errorType: 'Authorization Failure' }]);
  const auth = next.last();
  assert.deepStrictEqual([auth.subtopic, auth.data], ['Authenticate', { token: 'fresh-jwt' }]);
  next.receive(ready(auth.requestId, Object.assign({}, READY, { resumeToken: 'rt-9' })));
  await tick();
  assert.strictEqual(client.state, 'signed-in');
  assert.strictEqual(seen.errors.length, 0);
  // What the page gave is what the next fallback uses.
  next.serverClose(1006, '');
  await tick(5);
  const third = FakeSocket.all[FakeSocket.all.length - 1];
  third.open();
  await tick();
  third.receive(apiErrorFrame(third.last().requestId, 'Resume Token Unknown', 'unknown resume token'));
  await tick();
  assert.deepStrictEqual(third.last().data, { token: 'fresh-jwt' });
  client.disconnect();
});

test('reconnect: the page gives nothing, the session is lost', async () => {
  const { client, seen, socket } = await signedIn({ onCredentialsNeeded: () => null });
  socket.serverClose(1006, '');
  await tick(5);
  const next = FakeSocket.all[FakeSocket.all.length - 1];
  next.open();
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Resume Token Unknown', 'unknown resume token'));
  await tick();
  next.receive(apiErrorFrame(next.last().requestId, 'Authorization Failure', 'wrong user name or password'));
  await tick();
  assert.strictEqual(client.state, 'closed');
  assert.ok(/wrong user name or password/.test(seen.errors[seen.errors.length - 1].message));
});

test('no reconnect after 4403, 4503 or disconnect()', async () => {
  for (const code of [4403, 4503]) {
    const { client, socket } = await signedIn();
    const sockets = FakeSocket.all.length;
    socket.serverClose(code, 'bye');
    await tick(5);
    assert.strictEqual(FakeSocket.all.length, sockets);
    assert.strictEqual(client.state, 'closed');
    assert.strictEqual(client.session, null);
  }
  const { client, seen } = await signedIn();
  const sockets = FakeSocket.all.length;
  client.disconnect();
  await tick(5);
  assert.strictEqual(FakeSocket.all.length, sockets);
  assert.strictEqual(seen.states[seen.states.length - 1][0], 'closed');
});

test('requests in flight are rejected when the connection drops', async () => {
  const { client, socket } = await signedIn();
  const p = client.drop('1');
  socket.serverClose(1006, '');
  await assert.rejects(p, (err) => err.code === 1006);
  client.disconnect();
});

test('a url the WebSocket constructor refuses rejects signIn', async () => {
  class Refusing {
    constructor() {
      throw new SyntaxError('bad url');
    }
  }
  const { client, seen } = makeClient({ WebSocket: Refusing });
  await assert.rejects(client.signIn({ username: 'u', password: 'p', extension: '1' }), /bad url/);
  assert.strictEqual(client.state, 'closed');
  assert.deepStrictEqual(seen.states.map((s) => s[0]), ['connecting', 'closed']);
});

test('the library never writes to the console', () => {
  assert.deepStrictEqual(logged, []);
});

(async () => {
  let failed = 0;
  for (const { name, fn } of tests) {
    try {
      await fn();
      process.stdout.write(`ok   ${name}\n`);
    } catch (err) {
      failed += 1;
      process.stdout.write(`FAIL ${name}\n${err && err.stack}\n`);
    }
  }
  process.stdout.write(`${tests.length - failed} passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
})();
