/* Switchboard web pages: what the agent widget and the supervisor dashboard share —
 * DOM helpers, the error area and the connection status line. Loaded before the page's
 * own script; exposes window.SwitchboardPages. Text goes into the DOM with textContent
 * only (never innerHTML). */
(function () {
  'use strict';

  /** How many errors the error area keeps, newest first. */
  var MAX_ERRORS = 5;

  /* ------------------------------------------------------------------ DOM helpers */

  function byId(id) {
    return document.getElementById(id);
  }

  /** Creates an element; `props.text` sets textContent, `props.attrs` sets attributes. */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    var p = props || {};
    if (p.className) node.className = p.className;
    if (p.text !== undefined && p.text !== null) node.textContent = String(p.text);
    if (p.attrs) {
      Object.keys(p.attrs).forEach(function (name) {
        var value = p.attrs[name];
        if (value !== undefined && value !== null) node.setAttribute(name, String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  /* ------------------------------------------------------------------ errors and status */

  /** The text of an Error from the library (command Result, SetAPIError, connection). */
  function errorText(err, context) {
    var message = (err && err.message) || String(err);
    var prefix = context ? context + ' failed' : (err && err.errorType) || '';
    var text = prefix ? prefix + ': ' + message : message;
    if (err && err.detail && err.detail !== message) text += ' (' + err.detail + ')';
    return text;
  }

  function showError(err, context) {
    var area = byId('errors');
    var item = el('div', { className: 'error-item', attrs: { 'data-testid': 'error-item' } }, [
      el('span', { className: 'error-text', text: errorText(err, context) }),
      el('time', { text: new Date().toLocaleTimeString() })
    ]);
    var dismiss = el('button', { text: '×', attrs: { type: 'button', 'aria-label': 'Dismiss' } });
    dismiss.addEventListener('click', function () {
      item.remove();
      area.hidden = area.children.length === 0;
    });
    item.appendChild(dismiss);
    area.insertBefore(item, area.firstChild);
    while (area.children.length > MAX_ERRORS) area.removeChild(area.lastChild);
    area.hidden = false;
  }

  /** A rejected request: shown unless its cause already reached onError (a SetAPIError). */
  function showFailure(err, context) {
    if (err && err.reported) return;
    showError(err, context);
  }

  function clearErrors() {
    var area = byId('errors');
    area.textContent = '';
    area.hidden = true;
  }

  function statusText(state, info) {
    var code = info && info.code;
    var why = code ? ' (' + code + (info.name ? ' ' + info.name : info.reason ? ' ' + info.reason : '') + ')' : '';
    switch (state) {
      case 'connecting': return 'connecting…';
      case 'open': return 'connected';
      case 'signed-in': return 'signed in';
      case 'reconnecting': return 'reconnecting in ' + (info.delayMs / 1000).toFixed(1) + ' s' + why;
      default: return 'disconnected' + (code && code !== 1000 ? why : '');
    }
  }

  function showStatus(state, info) {
    var node = byId('connection-status');
    node.dataset.state = state;
    node.textContent = statusText(state, info || {});
  }

  /** Finesse out of service (or failing over): say so in the error area. */
  function showSystemInfo(data) {
    if (!data.status || data.status === 'IN_SERVICE') return;
    var reason = data.statusReason ? ': ' + data.statusReason : '';
    showError(new Error('Finesse is ' + data.status + reason));
  }

  window.SwitchboardPages = {
    showSystemInfo: showSystemInfo,
    byId: byId,
    el: el,
    errorText: errorText,
    showError: showError,
    showFailure: showFailure,
    clearErrors: clearErrors,
    statusText: statusText,
    showStatus: showStatus
  };
})();
