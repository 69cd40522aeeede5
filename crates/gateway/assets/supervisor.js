/*
 * The supervisor dashboard (/supervisor): sign in, subscribe to team/<id> for each team of
 * Ready's `teams`, then a live table of the team's agents (with Not Ready / Sign out), a
 * table of live calls, and counts by agent state and by call type.
 * Uses window.Switchboard (/switchboard.js). Server text goes in through textContent only.
 */
(function () {
  'use strict';

  var LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];
  var DEMO = { username: '2001001', password: 'demo', extension: '5999' };
  // Always shown, even at 0; other states get a counter when they first appear.
  var FIXED_STATES = ['READY', 'NOT_READY', 'TALKING', 'HOLD', 'RESERVED', 'WORK_READY', 'LOGOUT'];

  var client = null;
  var teams = null; // team ids from Ready (null before the first Ready)
  var teamNames = {}; // id -> name, learnt from agent states
  var agents = new Map(); // agentId -> {data, row, cells}
  var calls = new Map(); // "<callId>|<agentId>" -> {key, callId, agentId, stream, info, row}
  var seenSinceOpen = new Set(); // call keys that had an event on this connection
  var callTypesSeen = new Set(); // call types that have (had) a counter
  var statesSeen = new Set(FIXED_STATES);

  /* DOM helpers, the error area and the status line: /assets/pages.js */
  var Pages = window.SwitchboardPages;
  var byId = Pages.byId;
  var el = Pages.el;
  var showError = Pages.showError;
  var showFailure = Pages.showFailure;
  var clearErrors = Pages.clearErrors;
  var showStatus = Pages.showStatus;

  /* ------------------------------------------------------------------ views */

  function showSignIn() {
    byId('signin-view').hidden = false;
    byId('dashboard').hidden = true;
    byId('signout').hidden = true;
    byId('signin').disabled = false;
    if (LOCAL_HOSTS.indexOf(window.location.hostname) >= 0) {
      // Demo convenience only: the simulator's default supervisor.
      if (!byId('username').value) byId('username').value = DEMO.username;
      if (!byId('password').value) byId('password').value = DEMO.password;
      if (!byId('extension').value) byId('extension').value = DEMO.extension;
    }
  }

  function showDashboard() {
    byId('signin-view').hidden = true;
    byId('dashboard').hidden = false;
    byId('signout').hidden = false;
  }

  function resetDashboard() {
    teams = null;
    teamNames = {};
    agents.forEach(function (a) {
      a.row.remove();
    });
    agents.clear();
    calls.forEach(function (c) {
      c.row.remove();
    });
    calls.clear();
    seenSinceOpen.clear();
    callTypesSeen.clear();
    statesSeen = new Set(FIXED_STATES);
    renderTeams();
    renderCounts();
    updateEmpty();
  }

  function updateEmpty() {
    byId('no-agents').hidden = agents.size > 0;
    byId('no-calls').hidden = calls.size > 0;
  }

  /** Team ids of Ready's `teams` (strings, or objects with an `id`). */
  function teamIds(list) {
    return (list || []).map(function (t) {
      return t && typeof t === 'object' ? String(t.id) : String(t);
    });
  }

  function renderTeams() {
    var text = (teams || [])
      .map(function (id) {
        var name = teamNames[id];
        // A name that already says the id (the simulator's "Team 5000") is not repeated.
        return name && name.indexOf(id) < 0 ? id + ' · ' + name : id;
      })
      .join(', ');
    byId('team-names').textContent = text;
  }

  /* ------------------------------------------------------------------ agents */

  function inMyTeams(data) {
    return teams === null || teams.indexOf(String(data.teamId)) >= 0;
  }

  function onAgentState(frame) {
    var data = frame.data || {};
    var id = data.agentId;
    if (!id) return;
    if (data.teamId && data.teamName) teamNames[String(data.teamId)] = data.teamName;
    (data.teams || []).forEach(function (t) {
      if (t && t.id && t.name) teamNames[String(t.id)] = t.name;
    });
    renderTeams();
    if (data.event === 'DELETED' || !inMyTeams(data)) {
      removeAgent(id);
    } else {
      var entry = agents.get(id) || createAgentRow(id);
      entry.data = data;
      renderAgentRow(entry);
    }
    renderCounts();
  }

  function createAgentRow(id) {
    var cells = {
      name: el('td'),
      id: el('td', { text: id }),
      extension: el('td'),
      state: el('span', { className: 'badge', attrs: { 'data-testid': 'agent-state' } }),
      reason: el('td', { attrs: { 'data-testid': 'reason-code' } }),
      time: el('td', { className: 'num', attrs: { 'data-testid': 'time-in-state' } }),
      notReady: el('button', { className: 'small', text: 'Not Ready', attrs: { type: 'button', 'data-action': 'not-ready' } }),
      signOut: el('button', { className: 'small', text: 'Sign out', attrs: { type: 'button', 'data-action': 'sign-out' } })
    };
    var row = el('tr', { attrs: { 'data-agent-id': id } }, [
      cells.name,
      cells.id,
      cells.extension,
      el('td', {}, [cells.state]),
      cells.reason,
      cells.time,
      el('td', {}, [el('div', { className: 'row' }, [cells.notReady, cells.signOut])])
    ]);
    var entry = { id: id, data: {}, row: row, cells: cells };
    cells.notReady.addEventListener('click', function () {
      teamCommand(entry, cells.notReady, 'Not Ready', function () {
        return client.teamAgentNotReady(id);
      });
    });
    cells.signOut.addEventListener('click', function () {
      teamCommand(entry, cells.signOut, 'Sign out', function () {
        return client.teamAgentLogout(id);
      });
    });
    agents.set(id, entry);
    byId('agent-rows').appendChild(row);
    updateEmpty();
    return entry;
  }

  function renderAgentRow(entry) {
    var d = entry.data;
    var c = entry.cells;
    c.name.textContent = [d.firstName, d.lastName].filter(Boolean).join(' ') || d.loginName || '';
    c.extension.textContent = d.extension || '';
    c.state.textContent = d.state || '';
    c.state.setAttribute('data-state', d.state || '');
    entry.row.setAttribute('data-state', d.state || '');
    var reason = d.reasonCode && d.reasonCode.label ? d.reasonCode.label : d.reasonCodeId || '';
    c.reason.textContent = d.pendingState ? reason + (reason ? ' · ' : '') + 'next: ' + d.pendingState : reason;
    c.notReady.disabled = d.state === 'LOGOUT';
    c.signOut.disabled = d.state === 'LOGOUT';
    renderTimeInState(entry);
  }

  function removeAgent(id) {
    var entry = agents.get(id);
    if (!entry) return;
    entry.row.remove();
    agents.delete(id);
    updateEmpty();
  }

  /** `h:mm:ss` or `m:ss` since the agent's stateChangeTime. */
  function formatDuration(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var pad = function (n) {
      return String(n).padStart(2, '0');
    };
    return h > 0 ? h + ':' + pad(m) + ':' + pad(s) : m + ':' + pad(s);
  }

  function renderTimeInState(entry) {
    var since = Date.parse(entry.data.stateChangeTime || '');
    entry.cells.time.textContent = isNaN(since) ? '' : formatDuration(Date.now() - since);
  }

  /** Sends a team command for one agent; the buttons come back per the agent's state. */
  function teamCommand(entry, button, context, action) {
    button.disabled = true;
    action()
      .catch(function (err) {
        showFailure(err, context);
      })
      .finally(function () {
        renderAgentRow(entry);
      });
  }

  /* ------------------------------------------------------------------ calls */

  /** The fields of a call event the table shows. */
  function callInfo(frame) {
    var data = frame.data || {};
    var call = data.call || {};
    var actual = call.ResponseActual || {};
    var dialog = actual.dialog || {};
    var media = dialog.mediaProperties || {};
    var vars = call.CallVariables || {};
    return {
      callId: call.id === undefined || call.id === null ? '' : String(call.id),
      agentId: actual.user && actual.user.username ? String(actual.user.username) : '',
      state: data.event || '',
      callType: media.callType || dialog.Type || '',
      from: dialog.fromAddress || '',
      to: dialog.toAddress || '',
      campaign: vars.BACampaign || ''
    };
  }

  function onCallEvent(frame) {
    var info = callInfo(frame);
    if (!info.callId) return;
    var key = info.callId + '|' + info.agentId;
    seenSinceOpen.add(key);
    if (info.state === 'DELETED') {
      removeCall(key);
    } else {
      var entry = calls.get(key) || createCallRow(key, info);
      entry.info = info;
      entry.stream = frame.stream;
      renderCallRow(entry);
    }
    renderCounts();
  }

  function createCallRow(key, info) {
    // Not data-agent-id: `tr[data-agent-id]` means the agents table's rows.
    var row = el('tr', { attrs: { 'data-call-id': info.callId, 'data-username': info.agentId } });
    var entry = { key: key, info: info, stream: undefined, row: row };
    calls.set(key, entry);
    byId('call-rows').appendChild(row);
    updateEmpty();
    return entry;
  }

  function agentLabel(agentId) {
    var a = agents.get(agentId);
    var d = a ? a.data : {};
    var name = [d.firstName, d.lastName].filter(Boolean).join(' ');
    return name ? name + ' (' + agentId + ')' : agentId;
  }

  function renderCallRow(entry) {
    var i = entry.info;
    entry.row.setAttribute('data-event', i.state);
    entry.row.replaceChildren(
      el('td', { text: agentLabel(i.agentId) }),
      el('td', { text: i.callId }),
      el('td', { text: i.callType, attrs: { 'data-testid': 'call-type' } }),
      el('td', {}, [el('span', { className: 'badge', text: i.state, attrs: { 'data-testid': 'call-state', 'data-state': i.state } })]),
      el('td', { text: i.from }),
      el('td', { text: i.to }),
      el('td', { text: i.campaign })
    );
  }

  function removeCall(key) {
    var entry = calls.get(key);
    if (!entry) return;
    entry.row.remove();
    calls.delete(key);
    updateEmpty();
  }

  /** Drops the call rows for which `shouldDrop(entry)` is true. */
  function pruneCalls(shouldDrop) {
    Array.from(calls.values()).forEach(function (entry) {
      if (shouldDrop(entry)) removeCall(entry.key);
    });
    renderCounts();
  }

  /* ------------------------------------------------------------------ counts */

  function countChip(testid, label, value) {
    return el('div', { className: 'count', attrs: { 'data-count': testid } }, [
      el('span', { className: 'count-label', text: label }),
      el('span', { className: 'count-value', text: value, attrs: { 'data-testid': testid } })
    ]);
  }

  function renderCounts() {
    var byState = {};
    agents.forEach(function (a) {
      var state = a.data.state || 'UNKNOWN';
      byState[state] = (byState[state] || 0) + 1;
      statesSeen.add(state);
    });
    var stateChips = Array.from(statesSeen).map(function (state) {
      return countChip('count-' + state, state, byState[state] || 0);
    });
    byId('state-counts').replaceChildren(...stateChips);

    // One call per dialog id, whichever agent's view it came from.
    var typeOf = new Map();
    calls.forEach(function (c) {
      typeOf.set(c.info.callId, c.info.callType || 'UNKNOWN');
    });
    var byType = {};
    typeOf.forEach(function (type) {
      byType[type] = (byType[type] || 0) + 1;
      callTypesSeen.add(type);
    });
    var chips = [countChip('count-calls', 'All calls', typeOf.size)].concat(
      Array.from(callTypesSeen).map(function (type) {
        return countChip('count-call-' + type, type, byType[type] || 0);
      })
    );
    byId('call-counts').replaceChildren(...chips);
  }

  /* ------------------------------------------------------------------ events from the library */

  function onEvent(frame) {
    if (frame.channel !== 'Cisco') return;
    if (frame.topic === 'Agent' && frame.subtopic === 'SetAgentState') {
      onAgentState(frame);
    } else if (/CallStateChange$/i.test(frame.subtopic || '')) {
      onCallEvent(frame);
    } else if (frame.topic === 'System' && frame.subtopic === 'SetSystemInfo') {
      Pages.showSystemInfo(frame.data || {});
    }
  }

  function onState(state, info) {
    showStatus(state, info);
    if (state === 'open') seenSinceOpen.clear();
    if (state === 'signed-in') {
      teams = teamIds(info.teams);
      renderTeams();
      // Agents seen before Ready (the supervisor's own state) but outside its teams.
      agents.forEach(function (a) {
        if (!inMyTeams(a.data)) removeAgent(a.id);
      });
      // The sign-in snapshot listed every dialog of the supervisor's own agent stream.
      pruneCalls(function (entry) {
        return /^agent\//.test(entry.stream || '') && !seenSinceOpen.has(entry.key);
      });
      showDashboard();
    }
    if (state === 'closed') {
      resetDashboard();
      showSignIn();
    }
  }

  /**
   * Every Subscribed reply, also the library's own after a reconnect. Unless every missed
   * event was replayed (`recovered: true`), a snapshot of those topics follows: forget their
   * calls now, the snapshot brings back the live ones.
   */
  function onSubscribed(data) {
    if (data.recovered === true) return;
    var topics = (data.topics || []).map(String);
    pruneCalls(function (entry) {
      return topics.indexOf(entry.stream) >= 0;
    });
  }

  /* ------------------------------------------------------------------ controls */

  function onSignIn(event) {
    event.preventDefault();
    clearErrors();
    var button = byId('signin');
    button.disabled = true;
    var credentials = {
      username: byId('username').value.trim(),
      password: byId('password').value,
      extension: byId('extension').value.trim()
    };
    client
      .signIn(credentials)
      .then(function (ready) {
        byId('password').value = '';
        showDashboard();
        var topics = teamIds(ready.teams).map(function (id) {
          return 'team/' + id;
        });
        if (topics.length === 0) {
          showError(new Error('this user supervises no team'));
          return undefined;
        }
        return client.subscribe(topics).catch(function (err) {
          showFailure(err, 'Subscribe');
        });
      })
      .catch(function (err) {
        showFailure(err, 'Sign-in');
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  function onSignOut() {
    var button = byId('signout');
    if (client.state !== 'signed-in') {
      client.disconnect('signed out');
      return;
    }
    button.disabled = true;
    client
      .logout()
      .then(function () {
        client.disconnect('signed out');
      })
      .catch(function (err) {
        showFailure(err, 'Sign out');
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  function tick() {
    agents.forEach(renderTimeInState);
  }

  function start() {
    client = new window.Switchboard({
      source: 'switchboard-supervisor-dashboard',
      onEvent: onEvent,
      onState: onState,
      onSubscribed: onSubscribed,
      onError: function (err) {
        showError(err);
      }
    });
    byId('signin-form').addEventListener('submit', onSignIn);
    byId('signout').addEventListener('click', onSignOut);
    showStatus('closed', {});
    showSignIn();
    renderCounts();
    updateEmpty();
    setInterval(tick, 1000);
  }

  start();
})();
