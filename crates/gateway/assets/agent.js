/*
 * The agent widget (/agent): sign in, the agent's state, one card per call with the buttons
 * the server allows (ActionsAllowed). Uses window.Switchboard (/switchboard.js).
 * Every text from the server goes into the DOM through textContent.
 */
(function () {
  'use strict';

  var LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];
  var DEMO = { username: '1001001', password: 'demo', extension: '5001' };

  // Actions that need more input than the call id: an inline form per card.
  var FORM_ACTIONS = {
    SetTRANSFER_SST: { submit: 'Transfer', fields: [{ name: 'to', label: 'Transfer to', type: 'tel', required: true }] },
    SetCONSULT_CALL: { submit: 'Consult', fields: [{ name: 'to', label: 'Consult', type: 'tel', required: true }] },
    SetUPDATE_SCHEDULED_CALLBACK: {
      submit: 'Schedule',
      fields: [
        { name: 'callbackTime', label: 'Callback time', type: 'datetime-local', required: true },
        { name: 'callbackNumber', label: 'Callback number (optional)', type: 'tel', required: false }
      ]
    },
    SetUPDATE_CALL_DATA: {
      submit: 'Update',
      fields: [
        { name: 'name', label: 'Variable', type: 'text', required: true, value: 'callVariable1' },
        { name: 'value', label: 'Value', type: 'text', required: false }
      ]
    }
  };

  var client = null;
  var agent = null; // data of the last SetAgentState
  var cards = new Map(); // call id -> {id, topic, data, root, body, slot, openAction}
  var seenSinceOpen = new Set(); // call ids that had an event on the current connection

  /* DOM helpers, the error area and the status line: /assets/pages.js */
  var Pages = window.SwitchboardPages;
  var byId = Pages.byId;
  var el = Pages.el;
  var showError = Pages.showError;
  var showFailure = Pages.showFailure;
  var clearErrors = Pages.clearErrors;
  var showStatus = Pages.showStatus;

  /* ------------------------------------------------------------------ views */

  function isLocalPage() {
    return LOCAL_HOSTS.indexOf(window.location.hostname) >= 0;
  }

  function showSignIn() {
    byId('signin-view').hidden = false;
    byId('agent-view').hidden = true;
    byId('signout').hidden = true;
    byId('signin').disabled = false;
    if (isLocalPage()) {
      // Demo convenience only: the simulator's default agent.
      if (!byId('username').value) byId('username').value = DEMO.username;
      if (!byId('password').value) byId('password').value = DEMO.password;
      if (!byId('extension').value) byId('extension').value = DEMO.extension;
    }
  }

  function showAgentView() {
    byId('signin-view').hidden = true;
    byId('agent-view').hidden = false;
    byId('signout').hidden = false;
  }

  function resetAgentView() {
    agent = null;
    cards.forEach(function (card) {
      card.root.remove();
    });
    cards.clear();
    seenSinceOpen.clear();
    renderAgent();
    updateNoCalls();
  }

  /* ------------------------------------------------------------------ agent state */

  function onAgentState(data) {
    var session = client.session;
    if (session && session.agentId && data.agentId && data.agentId !== session.agentId) return;
    if (data.event === 'DELETED') return;
    agent = data;
    renderAgent();
  }

  function renderAgent() {
    var session = client && client.session;
    var a = agent || {};
    var name = [a.firstName, a.lastName].filter(Boolean).join(' ') || a.loginName || '';
    byId('agent-name').textContent = name;
    byId('agent-id').textContent = a.agentId || (session && session.agentId) || '';
    byId('agent-extension').textContent = a.extension || (session && session.extension) || '';
    var stateNode = byId('agent-state');
    stateNode.textContent = a.state || '';
    stateNode.dataset.state = a.state || '';
    var reason = a.reasonCode && a.reasonCode.label ? a.reasonCode.label : a.reasonCodeId ? 'reason ' + a.reasonCodeId : '';
    byId('reason-label').textContent = reason;
    byId('pending-state').textContent = a.pendingState ? 'next: ' + a.pendingState : '';
  }

  /* ------------------------------------------------------------------ call cards */

  function callOf(data) {
    return (data && data.call) || {};
  }

  function dialogOf(data) {
    var actual = callOf(data).ResponseActual || {};
    return actual.dialog || {};
  }

  function onCallEvent(frame) {
    var data = frame.data || {};
    var id = callOf(data).id;
    if (id === undefined || id === null) return;
    id = String(id);
    seenSinceOpen.add(id);
    if (data.event === 'DELETED') {
      removeCard(id);
      return;
    }
    var card = cards.get(id) || createCard(id);
    card.topic = frame.topic;
    card.data = data;
    renderCard(card);
  }

  function createCard(id) {
    var body = el('div', { className: 'call-body' });
    var slot = el('div', { className: 'call-form-slot' });
    var root = el('article', { className: 'call-card', attrs: { 'data-call-id': id } }, [body, slot]);
    var card = { id: id, topic: '', data: null, root: root, body: body, slot: slot, openAction: null };
    cards.set(id, card);
    byId('calls').appendChild(root);
    updateNoCalls();
    return card;
  }

  function removeCard(id) {
    var card = cards.get(id);
    if (!card) return;
    card.root.remove();
    cards.delete(id);
    updateNoCalls();
  }

  function updateNoCalls() {
    byId('no-calls').hidden = cards.size > 0;
  }

  /** Rebuilds a card from its last event; an open inline form survives if still allowed. */
  function renderCard(card) {
    var data = card.data;
    var dialog = dialogOf(data);
    var media = dialog.mediaProperties || {};
    var callType = media.callType || dialog.Type || '';
    var allowed = actionsAllowed(data);

    card.root.setAttribute('data-event', data.event || '');
    card.root.setAttribute('data-call-type', callType);
    card.body.replaceChildren(
      renderHead(card, callType, data.event),
      renderParties(dialog),
      renderVariables(data, dialog),
      renderActions(card, allowed)
    );
    if (card.openAction && !allowed[card.openAction]) closeForm(card);
  }

  function renderHead(card, callType, event) {
    return el('div', { className: 'call-head' }, [
      el('div', {}, [
        el('span', { className: 'call-type', text: callType || 'Call', attrs: { 'data-testid': 'call-type' } }),
        el('span', { className: 'call-topic', text: card.topic })
      ]),
      el('span', { className: 'badge', text: event || '', attrs: { 'data-testid': 'call-state', 'data-state': event || '' } })
    ]);
  }

  function renderParties(dialog) {
    return el('div', { className: 'call-parties' }, [
      el('span', { text: dialog.fromAddress || '?', attrs: { 'data-testid': 'call-from' } }),
      el('span', { text: ' → ' }),
      el('span', { text: dialog.toAddress || '?', attrs: { 'data-testid': 'call-to' } }),
      el('div', { className: 'call-id', text: 'Call ' + (dialog.id || '') })
    ]);
  }

  /** The BA* campaign fields, the non-empty callVariable1-10 and a scheduled callback. */
  function callFields(data, dialog) {
    var vars = callOf(data).CallVariables || {};
    var fields = [];
    Object.keys(vars).forEach(function (name) {
      if (name.indexOf('BA') === 0 && vars[name] !== '' && vars[name] !== null) fields.push([name, vars[name]]);
    });
    for (var i = 1; i <= 10; i++) {
      var key = 'callVariable' + i;
      if (vars[key] !== undefined && vars[key] !== null && vars[key] !== '') fields.push([key, vars[key]]);
    }
    var callback = dialog.scheduledCallbackInfo;
    if (callback && callback.callbackTime) fields.push(['Callback time', callback.callbackTime]);
    if (callback && callback.callbackNumber) fields.push(['Callback number', callback.callbackNumber]);
    return fields;
  }

  function renderVariables(data, dialog) {
    var list = el('dl', { className: 'call-vars' });
    callFields(data, dialog).forEach(function (field) {
      list.appendChild(el('dt', { text: field[0] }));
      list.appendChild(el('dd', { text: field[1], attrs: { 'data-var': field[0] } }));
    });
    return list;
  }

  function actionsAllowed(data) {
    var allowed = callOf(data).ActionsAllowed;
    return (allowed && allowed.items) || {};
  }

  function renderActions(card, allowed) {
    var bar = el('div', { className: 'call-actions' });
    Object.keys(allowed).forEach(function (action) {
      var label = (allowed[action] && allowed[action].ButtonName) || action.replace(/^Set/, '');
      var button = el('button', { text: label, attrs: { type: 'button', 'data-action': action } });
      button.addEventListener('click', function () {
        onActionClick(card, action, button);
      });
      bar.appendChild(button);
    });
    return bar;
  }

  function onActionClick(card, action, button) {
    if (FORM_ACTIONS[action]) {
      openForm(card, action);
      return;
    }
    button.disabled = true;
    runAction(card, action, {}).finally(function () {
      button.disabled = false;
    });
  }

  /** Sends the command of an action; errors go to the error area. */
  function runAction(card, action, values) {
    var id = card.id;
    var promise;
    switch (action) {
      case 'SetTRANSFER_SST':
        promise = client.transfer(id, values.to);
        break;
      case 'SetCONSULT_CALL':
        promise = client.consult(id, values.to);
        break;
      case 'SetUPDATE_SCHEDULED_CALLBACK':
        promise = client.scheduleCallback(id, values.callbackTime.slice(0, 16), values.callbackNumber);
        break;
      case 'SetCANCEL_SCHEDULED_CALLBACK':
        promise = client.cancelCallback(id);
        break;
      case 'SetUPDATE_CALL_DATA':
        var variables = {};
        variables[values.name] = values.value;
        promise = client.updateCallData(id, variables);
        break;
      default:
        // ANSWER, ACCEPT, REJECT, CLOSE, HOLD, RETRIEVE, DROP, TRANSFER, CONFERENCE...
        promise = client.command('Cisco', card.topic || 'OutboundCall', action, { CallID: id });
    }
    return promise.then(
      function () {
        return true;
      },
      function (err) {
        showFailure(err, action.replace(/^Set/, ''));
        return false;
      }
    );
  }

  /** `YYYY-MM-DDTHH:MM` one hour from now, local time (a datetime-local value). */
  function inAnHour() {
    var d = new Date(Date.now() + 3600 * 1000);
    var pad = function (n) {
      return String(n).padStart(2, '0');
    };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function openForm(card, action) {
    var spec = FORM_ACTIONS[action];
    var form = el('form', { className: 'call-form', attrs: { 'data-form': action } });
    spec.fields.forEach(function (field) {
      var inputId = 'f-' + card.id + '-' + action + '-' + field.name;
      var input = el('input', {
        attrs: { id: inputId, name: field.name, type: field.type, required: field.required ? '' : null }
      });
      if (field.value) input.value = field.value;
      if (field.type === 'datetime-local') input.value = inAnHour();
      form.appendChild(el('div', {}, [el('label', { text: field.label, attrs: { for: inputId } }), input]));
    });
    var submit = el('button', { className: 'primary', text: spec.submit, attrs: { type: 'submit' } });
    var cancel = el('button', { text: 'Cancel', attrs: { type: 'button', 'data-role': 'cancel' } });
    cancel.addEventListener('click', function () {
      closeForm(card);
    });
    form.appendChild(submit);
    form.appendChild(cancel);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      submit.disabled = true;
      runAction(card, action, formValues(form, spec)).then(function (ok) {
        if (ok && card.openAction === action) closeForm(card);
        else submit.disabled = false;
      });
    });
    card.slot.replaceChildren(form);
    card.openAction = action;
    var first = form.querySelector('input');
    if (first) first.focus();
  }

  function formValues(form, spec) {
    var values = {};
    spec.fields.forEach(function (field) {
      values[field.name] = form.elements[field.name].value.trim();
    });
    return values;
  }

  function closeForm(card) {
    card.slot.replaceChildren();
    card.openAction = null;
  }

  /** After a (re)sign-in the server has sent every current dialog: drop the others. */
  function pruneCards() {
    Array.from(cards.keys()).forEach(function (id) {
      if (!seenSinceOpen.has(id)) removeCard(id);
    });
  }

  /* ------------------------------------------------------------------ events from the library */

  function onEvent(frame) {
    if (frame.channel !== 'Cisco') return;
    if (frame.topic === 'Agent' && frame.subtopic === 'SetAgentState') {
      onAgentState(frame.data || {});
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
      pruneCards();
      renderAgent();
      showAgentView();
    }
    if (state === 'closed') {
      resetAgentView();
      showSignIn();
    }
  }

  /* ------------------------------------------------------------------ controls */

  function guarded(button, context, action) {
    button.disabled = true;
    return action()
      .catch(function (err) {
        showFailure(err, context);
      })
      .finally(function () {
        button.disabled = false;
      });
  }

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
      .then(function () {
        byId('password').value = '';
        showAgentView();
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
    guarded(button, 'Sign out', function () {
      return client.logout().then(function () {
        client.disconnect('signed out');
      });
    });
  }

  function wireControls() {
    byId('signin-form').addEventListener('submit', onSignIn);
    byId('signout').addEventListener('click', onSignOut);
    byId('ready').addEventListener('click', function () {
      guarded(byId('ready'), 'Ready', function () {
        return client.setReady();
      });
    });
    byId('not-ready').addEventListener('click', function () {
      var reason = byId('reason-code-id').value.trim();
      guarded(byId('not-ready'), 'Not Ready', function () {
        return client.setNotReady(reason || undefined);
      });
    });
    byId('make-call-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var number = byId('dial-number').value.trim();
      if (!number) return;
      guarded(byId('make-call'), 'Call', function () {
        return client.makeCall(number);
      });
    });
  }

  function start() {
    client = new window.Switchboard({
      source: 'switchboard-agent-widget',
      onEvent: onEvent,
      onState: onState,
      onError: function (err) {
        showError(err);
      }
    });
    wireControls();
    showStatus('closed', {});
    showSignIn();
    updateNoCalls();
  }

  start();
})();
