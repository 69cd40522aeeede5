/*
 * switchboard.js: the browser client of the Switchboard WebSocket protocol, version 1
 * (docs/protocol.md, docs/client.md).
 *
 * A classic script: it defines `window.Switchboard`, and `module.exports` when loaded by node.
 * No dependencies. It never logs anything, and the password of a sign-in is kept in memory
 * only (for signing in again after a reconnect), never in any storage.
 */
(function (root) {
  'use strict';

  /** Close codes of docs/protocol.md §7.3. */
  var CLOSE_CODES = {
    4000: 'shutdown',
    4401: 'not_signed_in',
    4403: 'signed_out',
    4408: 'too_slow',
    4409: 'frame_too_large',
    4429: 'too_many_connections',
    4503: 'account_locked'
  };

  var DEFAULTS = {
    reconnect: { minMs: 500, maxMs: 30000 },
    timeoutMs: 15000,
    maxFrameBytes: 65536
  };

  // WebSocket readyState values (the constants are not on every fake socket).
  var WS_CONNECTING = 0;
  var WS_OPEN = 1;

  /* ------------------------------------------------------------------ pure helpers */

  /**
   * Exponential back-off with full jitter: a random delay in [0, min(maxMs, minMs * 2^attempt)).
   * `attempt` counts from 0; `random` defaults to Math.random.
   */
  function backoffDelay(attempt, minMs, maxMs, random) {
    var rnd = random || Math.random;
    var exp = Math.min(Math.max(attempt, 0), 30); // 2^30 is plenty and stays an integer
    var cap = Math.min(maxMs, minMs * Math.pow(2, exp));
    return Math.floor(rnd() * cap);
  }

  /** Whether a close code allows reconnecting: not 4403 (signed out), not 4500-4999. */
  function mayReconnect(code) {
    if (code === 4403) return false;
    if (code >= 4500 && code <= 4999) return false;
    return true;
  }

  /** The canonical text of a topic (`Team/5000` -> `team/5000`), also its stream name. */
  function canonicalTopic(topic) {
    var text = String(topic).trim();
    if (text.toLowerCase() === 'all') return 'all';
    var slash = text.indexOf('/');
    if (slash < 0) return text;
    return text.slice(0, slash).toLowerCase() + text.slice(slash);
  }

  function toTopicList(topics) {
    var list = Array.isArray(topics) ? topics : [topics];
    return list.map(canonicalTopic);
  }

  /**
   * The last position seen in each event stream: `{[stream]: {offset, epoch}}`.
   *
   * `accept(frame)` says whether a frame is new (deliver it) or a duplicate (drop it), and
   * records its position. A frame is a duplicate when its stream's stored position has the
   * same epoch and an offset at least as large. Snapshot frames (`data.source ===
   * "snapshot"`) all carry the stream's current offset, so several share one offset: they are
   * always delivered and only move the position forward. Frames without a stream or offset
   * (e.g. `System/SetSystemInfo`) are always delivered.
   */
  function StreamTracker() {
    this.positions = {};
  }

  StreamTracker.prototype.accept = function (frame) {
    if (!frame || typeof frame.stream !== 'string' || typeof frame.offset !== 'number') {
      return true;
    }
    var epoch = frame.epoch === undefined || frame.epoch === null ? '' : String(frame.epoch);
    var stored = this.positions[frame.stream];
    var sameEpoch = stored !== undefined && stored.epoch === epoch;
    var snapshot = !!(frame.data && frame.data.source === 'snapshot');
    if (snapshot) {
      if (!sameEpoch || frame.offset > stored.offset) {
        this.positions[frame.stream] = { offset: frame.offset, epoch: epoch };
      }
      return true;
    }
    if (sameEpoch && frame.offset <= stored.offset) return false;
    this.positions[frame.stream] = { offset: frame.offset, epoch: epoch };
    return true;
  };

  /** The stored positions of the given streams (all of them for `all`), for `since`. */
  StreamTracker.prototype.since = function (topics) {
    var result = {};
    var all = topics.indexOf('all') >= 0;
    for (var stream in this.positions) {
      if (!Object.prototype.hasOwnProperty.call(this.positions, stream)) continue;
      if (all || topics.indexOf(stream) >= 0) {
        var p = this.positions[stream];
        result[stream] = { offset: p.offset, epoch: p.epoch };
      }
    }
    return result;
  };

  StreamTracker.prototype.snapshot = function () {
    return JSON.parse(JSON.stringify(this.positions));
  };

  StreamTracker.prototype.clear = function () {
    this.positions = {};
  };

  /** Size of a string in UTF-8 bytes. */
  function utf8Length(text) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(text).length;
    return unescape(encodeURIComponent(text)).length;
  }

  /** An Error for a `Cisco/Error/SetAPIError` frame: message = errorMessage (else msg). */
  function apiError(frame) {
    var outer = (frame && frame.data) || {};
    var inner = outer.data || outer;
    var message = inner.errorMessage || inner.msg || inner.errorType || 'Error';
    var err = new Error(String(message));
    err.errorType = inner.errorType;
    err.detail = inner.msg;
    err.requestId = frame && frame.requestId;
    err.frame = frame;
    err.apiError = true;
    return err;
  }

  function defaultUrl() {
    var loc = root.location;
    if (!loc || !loc.host) return undefined;
    return (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + '/ws';
  }

  function noop() {}

  function isResultSubtopic(subtopic) {
    return typeof subtopic === 'string' && /Result$/.test(subtopic);
  }

  /* ------------------------------------------------------------------ the client */

  /**
   * new Switchboard({url, source, onEvent, onState, onError, onSubscribed, onCredentialsNeeded,
   *                  reconnect: {minMs, maxMs}, timeoutMs, WebSocket})
   *
   * `onCredentialsNeeded({reason, errorType})` (optional) is asked when, after a reconnect, the
   * server refuses both the resume token and the credentials or token held (a changed password,
   * an expired token); it returns, or resolves with, `{username, password, extension}`,
   * `{token}`, or nothing (the session is then lost).
   */
  function Switchboard(options) {
    var opts = options || {};
    this.url = opts.url || defaultUrl();
    this.source = opts.source;
    this.onEvent = opts.onEvent || noop;
    this.onState = opts.onState || noop;
    this.onError = opts.onError || noop;
    this.onSubscribed = opts.onSubscribed || noop;
    this.onCredentialsNeeded = opts.onCredentialsNeeded || null;
    var rc = opts.reconnect || {};
    this.reconnectMinMs = rc.minMs !== undefined ? rc.minMs : DEFAULTS.reconnect.minMs;
    this.reconnectMaxMs = rc.maxMs !== undefined ? rc.maxMs : DEFAULTS.reconnect.maxMs;
    this.timeoutMs = opts.timeoutMs !== undefined ? opts.timeoutMs : DEFAULTS.timeoutMs;
    this.maxFrameBytes = opts.maxFrameBytes || DEFAULTS.maxFrameBytes;
    this._WebSocket = opts.WebSocket || root.WebSocket;
    this._random = opts.random || Math.random;

    this.state = 'closed';
    this.session = null; // data of the last Broker/Session/Ready
    this.streams = new StreamTracker();

    this._socket = null;
    this._counter = 0;
    this._pending = {}; // requestId -> pending request
    this._auth = null; // how to sign in again: {username, password, extension} or {token}
    this._topics = []; // topics subscribed explicitly (canonical text)
    this._attempt = 0; // reconnect attempts since the last successful sign-in
    this._timer = null; // reconnect timer
    this._stopped = true; // true after disconnect() or a final close
    this._openWaiters = [];
  }

  /* ---------------- connection */

  /** Opens the WebSocket (does nothing if it is open or opening). */
  Switchboard.prototype.connect = function () {
    this._stopped = false;
    if (this._timer) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this._socket) return;
    if (!this.url) throw new Error('Switchboard: no url (and no window.location to derive one)');
    if (!this._WebSocket) throw new Error('Switchboard: no WebSocket implementation');
    this._setState('connecting');
    var socket;
    try {
      socket = new this._WebSocket(this.url);
    } catch (e) {
      // A malformed or forbidden url: nothing to retry.
      this._stopped = true;
      this._failAll(e);
      this._setState('closed', { code: 1006, reason: String(e.message || e) });
      throw e;
    }
    this._socket = socket;
    var self = this;
    socket.onopen = function () {
      if (self._socket === socket) self._handleOpen();
    };
    socket.onmessage = function (event) {
      if (self._socket === socket) self._handleMessage(event.data);
    };
    socket.onclose = function (event) {
      if (self._socket === socket) self._handleClose(event || {});
    };
    socket.onerror = noop; // a close event always follows
  };

  /**
   * Closes the connection for good: no reconnect, the session and the credentials are
   * forgotten. `reason` (optional) is reported with the 'closed' state.
   */
  Switchboard.prototype.disconnect = function (reason) {
    var why = reason || 'client disconnect';
    this._stopped = true;
    this._forgetSession();
    if (this._timer) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    var socket = this._socket;
    this._socket = null;
    this._failAll(new Error('disconnected'));
    if (socket) {
      try {
        socket.close(1000, why);
      } catch (e) {
        /* already closing */
      }
    }
    this._setState('closed', { code: 1000, reason: why });
  };

  /** Forgets the credentials, the session, the explicit topics and the stream positions. */
  Switchboard.prototype._forgetSession = function () {
    this._auth = null;
    this.session = null;
    this._topics = [];
    this.streams.clear();
  };

  Switchboard.prototype._setState = function (state, info) {
    this.state = state;
    this.onState(state, info || {});
  };

  Switchboard.prototype._isOpen = function () {
    return !!this._socket && this._socket.readyState === WS_OPEN;
  };

  Switchboard.prototype._handleOpen = function () {
    this._setState('open');
    var waiters = this._openWaiters;
    this._openWaiters = [];
    waiters.forEach(function (w) {
      w.resolve();
    });
    if (this._auth) this._restoreSession();
  };

  Switchboard.prototype._handleClose = function (event) {
    var code = event.code || 1006;
    var reason = event.reason || '';
    var info = { code: code, reason: reason, name: CLOSE_CODES[code] };
    this._socket = null;
    var closed = new Error('connection closed (' + code + (reason ? ' ' + reason : '') + ')');
    closed.code = code;
    this._failAll(closed);

    if (!mayReconnect(code)) {
      // Signed out or told not to come back: forget the session.
      this._forgetSession();
      this._stopped = true;
      this._setState('closed', info);
      return;
    }
    // Reconnect only when there is a session to restore; without one, the next signIn()
    // or authenticate() connects again (so an idle sign-in page closed with 4401 does not
    // loop).
    if (this._stopped || !this._auth) {
      this._stopped = true;
      this._setState('closed', info);
      return;
    }
    this._scheduleReconnect(info);
  };

  Switchboard.prototype._scheduleReconnect = function (info) {
    var delay = backoffDelay(this._attempt, this.reconnectMinMs, this.reconnectMaxMs, this._random);
    this._attempt += 1;
    info.delayMs = delay;
    info.attempt = this._attempt;
    this._setState('reconnecting', info);
    var self = this;
    this._timer = setTimeout(function () {
      self._timer = null;
      if (self._stopped) return;
      try {
        self.connect();
      } catch (e) {
        self.onError(e); // already 'closed'
      }
    }, delay);
  };

  /** A promise resolved once the socket is open (connecting if needed). */
  Switchboard.prototype._whenOpen = function () {
    if (this._isOpen()) return Promise.resolve();
    var self = this;
    var promise = new Promise(function (resolve, reject) {
      self._openWaiters.push({ resolve: resolve, reject: reject });
    });
    if (!this._socket) {
      try {
        this.connect();
      } catch (e) {
        /* connect() has rejected the waiter, so `promise`, with this error */
      }
    }
    return promise;
  };

  /* ---------------- sending and replies */

  Switchboard.prototype._nextRequestId = function () {
    this._counter += 1;
    return 'c-' + this._counter;
  };

  /** Sends a frame object; throws if the socket is not open or the frame is too large. */
  Switchboard.prototype._send = function (frame) {
    if (!this._isOpen()) throw new Error('not connected');
    if (this.source && frame.source === undefined) frame.source = this.source;
    var text = JSON.stringify(frame);
    var size = utf8Length(text);
    if (size > this.maxFrameBytes) {
      throw new Error('frame too large (' + size + ' bytes, limit ' + this.maxFrameBytes + ')');
    }
    this._socket.send(text);
  };

  /**
   * Sends a frame with a fresh requestId and returns a promise settled by its reply.
   * `kind`: 'command' | 'session' | 'subscribe' | 'unsubscribe' | 'ping'; `expect`: the
   * reply's subtopic for commands; `quiet`: a SetAPIError for it is not passed to onError.
   */
  Switchboard.prototype._request = function (frame, kind, expect, quiet) {
    var self = this;
    var requestId = this._nextRequestId();
    frame.requestId = requestId;
    return new Promise(function (resolve, reject) {
      var entry = {
        kind: kind,
        expect: expect,
        quiet: !!quiet,
        resolve: resolve,
        reject: reject,
        lastError: null,
        timer: null
      };
      // Registered before sending: a reply may come back at once.
      self._pending[requestId] = entry;
      try {
        self._send(frame);
      } catch (e) {
        delete self._pending[requestId];
        reject(e);
        return;
      }
      entry.timer = setTimeout(function () {
        if (self._pending[requestId] !== entry) return;
        delete self._pending[requestId];
        // A command refused without a Result (e.g. unparseable) still told us why.
        var err = entry.lastError || new Error('timeout: no reply within ' + self.timeoutMs + ' ms');
        err.timeout = true;
        reject(err);
      }, self.timeoutMs);
    });
  };

  Switchboard.prototype._settle = function (requestId, ok, value) {
    var entry = this._pending[requestId];
    if (!entry) return;
    delete this._pending[requestId];
    clearTimeout(entry.timer);
    if (ok) entry.resolve(value);
    else entry.reject(value);
  };

  /** The requestId of the oldest pending request of a kind (for replies without one). */
  Switchboard.prototype._oldestPending = function (kind) {
    for (var id in this._pending) {
      if (this._pending[id].kind === kind) return id;
    }
    return undefined;
  };

  /** The pending request a reply answers: by requestId, else the oldest of that kind. */
  Switchboard.prototype._pendingFor = function (frame, kind) {
    var id = frame.requestId;
    if (id !== undefined && id !== null) {
      id = String(id);
      var entry = this._pending[id];
      return entry && entry.kind === kind ? id : undefined;
    }
    return this._oldestPending(kind);
  };

  Switchboard.prototype._failAll = function (error) {
    var pending = this._pending;
    this._pending = {};
    for (var id in pending) {
      clearTimeout(pending[id].timer);
      pending[id].reject(error);
    }
    var waiters = this._openWaiters;
    this._openWaiters = [];
    waiters.forEach(function (w) {
      w.reject(error);
    });
  };

  /* ---------------- incoming frames */

  Switchboard.prototype._handleMessage = function (text) {
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      this.onError(new Error('unreadable frame from the server'));
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    this._dispatch(frame);
  };

  /** Routes one parsed server frame (also used by the self-test). */
  Switchboard.prototype._dispatch = function (frame) {
    var channel = frame.channel;
    var topic = frame.topic;
    var subtopic = frame.subtopic;

    if (channel === 'Broker') {
      this._handleBroker(frame);
      return;
    }
    if (frame.requestId !== undefined && isResultSubtopic(subtopic)) {
      this._handleResult(frame);
      return;
    }
    if (!this.streams.accept(frame)) return; // duplicate
    if (topic === 'Error' && subtopic === 'SetAPIError') {
      this._handleApiError(frame);
      return;
    }
    this.onEvent(frame);
  };

  Switchboard.prototype._handleBroker = function (frame) {
    var data = frame.data || {};
    var id;
    switch (frame.topic + '/' + frame.subtopic) {
      case 'Session/Ready':
        this.session = data;
        this._attempt = 0;
        id = this._pendingFor(frame, 'session');
        this._setState('signed-in', data);
        if (id) this._settle(id, true, data);
        return;
      case 'Subscription/Subscribed':
        if (Array.isArray(data.topics)) this._remember(data.topics);
        this.onSubscribed(data);
        id = this._pendingFor(frame, 'subscribe');
        if (id) this._settle(id, true, data);
        return;
      case 'Subscription/Unsubscribed':
        id = this._pendingFor(frame, 'unsubscribe');
        if (id) {
          this._settle(id, true, data);
          return;
        }
        // Ended by the server (data.reason, e.g. left_dialog): not re-subscribed
        // after a reconnect, and told to the application.
        if (Array.isArray(data.topics)) this._forget(data.topics);
        this.onEvent(frame);
        return;
      case 'Session/Pong':
        id = this._pendingFor(frame, 'ping');
        if (id) this._settle(id, true, data);
        return;
      default:
        this.onEvent(frame);
    }
  };

  /** A `<subtopic>Result`: settles the command with that requestId. */
  Switchboard.prototype._handleResult = function (frame) {
    var id = String(frame.requestId);
    var entry = this._pending[id];
    if (!entry || entry.kind !== 'command') return;
    if (String(frame.subtopic).toLowerCase() !== entry.expect.toLowerCase()) return;
    var data = frame.data || {};
    if (data.ResponseType === 0) {
      this._settle(id, true, data);
      return;
    }
    var err = new Error(String(data.ResponseText || 'command refused'));
    err.responseType = data.ResponseType;
    err.requestId = id;
    err.frame = frame;
    if (entry.lastError) {
      // The accompanying SetAPIError, already passed to onError.
      err.errorType = entry.lastError.errorType;
      err.detail = entry.lastError.detail;
      err.reported = true;
    }
    this._settle(id, false, err);
  };

  /**
   * `Cisco/Error/SetAPIError`: always reported to onError. One carrying a sign-in's
   * requestId rejects that sign-in; one carrying a command's requestId is remembered on it
   * (the command is settled by its Result). Rejections whose cause went to onError have
   * `err.reported === true`, so a page can show each failure once.
   */
  Switchboard.prototype._handleApiError = function (frame) {
    var err = apiError(frame);
    var id = frame.requestId !== undefined && frame.requestId !== null ? String(frame.requestId) : undefined;
    var entry = id ? this._pending[id] : undefined;
    if (entry) entry.lastError = err;
    if (!(entry && entry.quiet)) {
      this.onError(err);
      err.reported = true; // a rejection carrying it need not be shown again
    }
    if (entry && entry.kind === 'session') this._settle(id, false, err);
  };

  Switchboard.prototype._remember = function (topics) {
    var own = this.session && this.session.agentId ? 'agent/' + this.session.agentId : null;
    for (var i = 0; i < topics.length; i++) {
      var t = canonicalTopic(topics[i]);
      if (t !== own && this._topics.indexOf(t) < 0) this._topics.push(t);
    }
  };

  Switchboard.prototype._forget = function (topics) {
    var list = topics.map(canonicalTopic);
    this._topics = this._topics.filter(function (t) {
      return list.indexOf(t) < 0;
    });
  };

  /* ---------------- sign-in and resume */

  /** Sends a sign-in frame once the socket is open; resolves with Ready's data. */
  Switchboard.prototype._signInFrame = function (frame) {
    var self = this;
    return this._whenOpen().then(function () {
      return self._request(frame, 'session');
    });
  };

  /**
   * Signs in with Finesse credentials (`Cisco/Agent/SetUserInfo`). Connects if needed.
   * Resolves with `{sessionId, agentId, extension, roles, teams, resumeToken}`; rejects with
   * an Error whose message is the SetAPIError's errorMessage.
   */
  Switchboard.prototype.signIn = function (credentials) {
    var creds = {
      username: String(credentials.username),
      password: String(credentials.password),
      extension: String(credentials.extension)
    };
    this._auth = null; // a new sign-in replaces the session to restore
    this.session = null;
    var self = this;
    return this._signInFrame(signInFrame(creds)).then(function (ready) {
      self._auth = creds; // kept in memory only, to sign in again after a reconnect
      return ready;
    });
  };

  /** Signs in with a token (`Broker/Session/Authenticate {token}`). Same outcome as signIn. */
  Switchboard.prototype.authenticate = function (token) {
    this._auth = null;
    this.session = null;
    var self = this;
    return this._signInFrame(authenticateFrame(token)).then(function (ready) {
      self._auth = { token: String(token) };
      return ready;
    });
  };

  function signInFrame(creds) {
    return {
      channel: 'Cisco',
      topic: 'Agent',
      subtopic: 'SetUserInfo',
      data: { username: creds.username, password: creds.password, extension: creds.extension }
    };
  }

  function authenticateFrame(token) {
    return { channel: 'Broker', topic: 'Session', subtopic: 'Authenticate', data: { token: String(token) } };
  }

  /** Refusals that may pass: the session is kept and the next reconnect tries again. */
  var TRANSIENT_ERRORS = { 'Too Many Requests': true, 'Service Unavailable': true, Timeout: true };

  /**
   * After a reconnect: authenticate with the last resumeToken; when the server does not take it
   * (`Resume Token Unknown`: used, expired, or issued before a server restart; or any other
   * refusal), sign in again with what signIn/authenticate was given; then re-subscribe the
   * explicit topics from the stored positions.
   * - A refusal that may pass (`Too Many Requests`, `Service Unavailable`, `Timeout`) keeps the
   *   session: this connection is closed and the next reconnect, after its back-off, tries again.
   * - Credentials or a token the server refuses as wrong (`Authorization Failure`): the page's
   *   `onCredentialsNeeded` is asked for new ones; without it, or when it gives none, the
   *   session is lost ('closed' state, onError).
   * A close on the way rejects everything and the next reconnect starts over.
   */
  Switchboard.prototype._restoreSession = function () {
    var self = this;
    var resumeToken = this.session && this.session.resumeToken;
    // A refused resume token is expected (a restart, an expiry): not an error for the page.
    var first = resumeToken
      ? this._request(authenticateFrame(resumeToken), 'session', undefined, true)
      : Promise.reject(new Error('no resume token'));
    first
      .catch(function (err) {
        if (err && err.code) throw err; // the connection closed: wait for the next attempt
        return self._signInAgain();
      })
      .then(function () {
        return self._resubscribe();
      })
      .catch(function (err) {
        if (err && err.code) return; // closed again; the close handler reconnects
        if (err && err.apiError && TRANSIENT_ERRORS[err.errorType]) {
          // Throttled, or Finesse unavailable: keep the session and try again later.
          if (self._socket) self._socket.close(4000, 'sign-in refused for now');
          return;
        }
        if (err && err.apiError) {
          // The server refused what we hold, and the page gave nothing better: the session is
          // gone. Stop and tell the page.
          var lost = new Error('sign-in after reconnect failed: ' + err.message);
          lost.errorType = err.errorType;
          self.onError(lost);
          self.disconnect('session lost');
          return;
        }
        // No answer in time: drop this connection; the close handler tries again later.
        if (self._socket) self._socket.close(4000, 'resume timed out');
      });
  };

  /**
   * Signs in again with what signIn/authenticate was given; when the server refuses it as wrong
   * (`Authorization Failure`: a changed password, an expired token), asks the page through
   * `onCredentialsNeeded({reason, errorType})`, which returns (or resolves with)
   * `{username, password, extension}`, `{token}`, or nothing.
   */
  Switchboard.prototype._signInAgain = function () {
    var self = this;
    var auth = this._auth;
    // Quiet: what the page must know is told once, by onCredentialsNeeded or the lost session.
    var frame = auth.token ? authenticateFrame(auth.token) : signInFrame(auth);
    return this._request(frame, 'session', undefined, true).catch(
      function (err) {
        if (err && err.code) throw err;
        if (!(err && err.apiError && err.errorType === 'Authorization Failure')) throw err;
        if (!self.onCredentialsNeeded) throw err;
        return Promise.resolve(self.onCredentialsNeeded({ reason: err.message, errorType: err.errorType })).then(
          function (given) {
            if (!given || !self._auth) throw err; // nothing given, or disconnect() meanwhile
            var next = given.token
              ? { token: String(given.token) }
              : {
                  username: String(given.username),
                  password: String(given.password),
                  extension: String(given.extension)
                };
            var retry = next.token ? authenticateFrame(next.token) : signInFrame(next);
            return self._request(retry, 'session', undefined, true).then(function (ready) {
              self._auth = next; // kept in memory only, as signIn does
              return ready;
            });
          }
        );
      }
    );
  };

  Switchboard.prototype._resubscribe = function () {
    var own = this.session && this.session.agentId ? 'agent/' + this.session.agentId : null;
    var topics = this._topics.filter(function (t) {
      return t !== own;
    });
    if (topics.length === 0) return Promise.resolve();
    return this.subscribe(topics, this.streams.since(topics));
  };

  /* ---------------- subscriptions */

  /**
   * `Broker/Subscription/Subscribe {topics, since?}`; resolves with `{topics, recovered?}`.
   * The topics are re-subscribed after a reconnect (except the agent's own topic, which the
   * server subscribes at sign-in).
   */
  Switchboard.prototype.subscribe = function (topics, since) {
    var list = toTopicList(topics);
    var data = { topics: list };
    if (since && Object.keys(since).length > 0) data.since = since;
    var frame = { channel: 'Broker', topic: 'Subscription', subtopic: 'Subscribe', data: data };
    return this._request(frame, 'subscribe');
  };

  /** `Broker/Subscription/Unsubscribe {topics}`; resolves with `{topics}`. */
  Switchboard.prototype.unsubscribe = function (topics) {
    var list = toTopicList(topics);
    this._forget(list);
    var frame = { channel: 'Broker', topic: 'Subscription', subtopic: 'Unsubscribe', data: { topics: list } };
    return this._request(frame, 'unsubscribe');
  };

  /** `Broker/Session/Ping {data}`; resolves with the Pong's data. */
  Switchboard.prototype.ping = function (data) {
    var frame = { channel: 'Broker', topic: 'Session', subtopic: 'Ping', data: data === undefined ? {} : data };
    return this._request(frame, 'ping');
  };

  /** The stored stream positions, `{[stream]: {offset, epoch}}` (a copy). */
  Switchboard.prototype.positions = function () {
    return this.streams.snapshot();
  };

  /** The topics subscribed explicitly (re-subscribed after a reconnect). */
  Switchboard.prototype.topics = function () {
    return this._topics.slice();
  };

  /* ---------------- commands */

  /**
   * Sends a command and resolves with its Result's data when `ResponseType === 0`; rejects
   * with an Error (message ResponseText, `.responseType`) otherwise, or on timeout.
   */
  Switchboard.prototype.command = function (channel, topic, subtopic, data) {
    var frame = { channel: channel, topic: topic, subtopic: subtopic, data: data || {} };
    return this._request(frame, 'command', subtopic + 'Result');
  };

  var CALL_TOPIC = 'OutboundCall'; // either call topic is accepted for any dialog

  function callCommand(client, subtopic, data) {
    return client.command('Cisco', CALL_TOPIC, subtopic, data);
  }

  function withOptional(data, key, value) {
    if (value !== undefined && value !== null && value !== '') data[key] = String(value);
    return data;
  }

  Switchboard.prototype.answer = function (callId) {
    return callCommand(this, 'SetANSWER', { CallID: String(callId) });
  };
  Switchboard.prototype.accept = function (callId) {
    return callCommand(this, 'SetACCEPT', { CallID: String(callId) });
  };
  Switchboard.prototype.reject = function (callId) {
    return callCommand(this, 'SetREJECT', { CallID: String(callId) });
  };
  Switchboard.prototype.close = function (callId) {
    return callCommand(this, 'SetCLOSE', { CallID: String(callId) });
  };
  Switchboard.prototype.hold = function (callId) {
    return callCommand(this, 'SetHOLD', { CallID: String(callId) });
  };
  Switchboard.prototype.retrieve = function (callId) {
    return callCommand(this, 'SetRETRIEVE', { CallID: String(callId) });
  };
  Switchboard.prototype.drop = function (callId) {
    return callCommand(this, 'SetDROP', { CallID: String(callId) });
  };
  /** Completes a consult as a transfer (`SetTRANSFER`). */
  Switchboard.prototype.completeTransfer = function (callId) {
    return callCommand(this, 'SetTRANSFER', { CallID: String(callId) });
  };
  /** Completes a consult as a conference (`SetCONFERENCE`). */
  Switchboard.prototype.conference = function (callId) {
    return callCommand(this, 'SetCONFERENCE', { CallID: String(callId) });
  };
  /** Single-step transfer (`SetTRANSFER_SST`). */
  Switchboard.prototype.transfer = function (callId, to) {
    return callCommand(this, 'SetTRANSFER_SST', { CallID: String(callId), TOAddress: String(to) });
  };
  Switchboard.prototype.consult = function (callId, to) {
    return callCommand(this, 'SetCONSULT_CALL', { CallID: String(callId), TOAddress: String(to) });
  };
  /** `callbackTime` is `YYYY-MM-DDTHH:MM` (the value of an `<input type="datetime-local">`). */
  Switchboard.prototype.scheduleCallback = function (callId, callbackTime, callbackNumber) {
    var data = { callID: String(callId), callbackTime: String(callbackTime) };
    return callCommand(this, 'SetUPDATE_SCHEDULED_CALLBACK', withOptional(data, 'callbackNumber', callbackNumber));
  };
  Switchboard.prototype.cancelCallback = function (callId) {
    return callCommand(this, 'SetCANCEL_SCHEDULED_CALLBACK', { callID: String(callId) });
  };
  /** `SetUPDATE_CALL_DATA {callID, callVariables: {name: value}}`. */
  Switchboard.prototype.updateCallData = function (callId, callVariables) {
    return callCommand(this, 'SetUPDATE_CALL_DATA', { callID: String(callId), callVariables: callVariables });
  };
  Switchboard.prototype.sendDtmf = function (callId, dtmf) {
    return callCommand(this, 'SetSEND_DTMF', { CallID: String(callId), dtmf: String(dtmf) });
  };
  Switchboard.prototype.makeCall = function (to) {
    return this.command('Cisco', 'InboundCall', 'SetMakeCall', { toAddress: String(to) });
  };
  Switchboard.prototype.setReady = function () {
    return this.command('Cisco', 'Agent', 'SetReadyState', {});
  };
  Switchboard.prototype.setNotReady = function (reasonCodeId) {
    return this.command('Cisco', 'Agent', 'SetNotReadyState', withOptional({}, 'ReasonCodeId', reasonCodeId));
  };
  /** Signs the agent out of Finesse (`Cisco/Connection/Logout`); the server then closes with 4403. */
  Switchboard.prototype.logout = function (reasonCodeId) {
    return this.command('Cisco', 'Connection', 'Logout', withOptional({}, 'ReasonCodeId', reasonCodeId));
  };
  Switchboard.prototype.teamAgentNotReady = function (username, reasonCodeId) {
    var data = withOptional({ Username: String(username) }, 'ReasonCodeId', reasonCodeId);
    return this.command('Cisco', 'Team', 'SetTeamAgentNotReadyState', data);
  };
  Switchboard.prototype.teamAgentLogout = function (username) {
    return this.command('Cisco', 'Team', 'SetTeamAgentLogout', { Username: String(username) });
  };

  /* ------------------------------------------------------------------ exports */

  Switchboard.CLOSE_CODES = CLOSE_CODES;
  Switchboard.backoffDelay = backoffDelay;
  Switchboard.mayReconnect = mayReconnect;
  Switchboard.canonicalTopic = canonicalTopic;
  Switchboard.StreamTracker = StreamTracker;

  if (typeof module !== 'undefined' && module.exports) module.exports = Switchboard;
  if (typeof window !== 'undefined') window.Switchboard = Switchboard;
})(typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this);
