// lockstep UI: live badges and rows. Follows the page's event stream (body[data-events]) and updates
// the health, sync and revision of each element marked data-app="namespace/name" in place, by cloning
// the server-rendered badge templates. On the list (#apps), a row the server says belongs on the
// page (`shown`, with its server-rendered, escaped `row`) is inserted in order when missing, and a
// row of an Application deleted or no longer passing the page's filters is removed. On the detail
// page, the last operation and conditions are fetched again when its Application changes. The action
// forms (form.inplace) post without leaving the page, so the badges can be watched changing. No
// framework, no inline script (see the CSP).
(function () {
  'use strict';
  var result = document.getElementById('action-result');

  function tell(text, failed) {
    if (!result) { return; }
    result.textContent = text;
    result.classList.toggle('error', failed);
    result.hidden = false;
  }

  // Asks for JSON (the server answers a plain form with a redirect); the hidden CSRF field is in
  // the body as for a plain post. Without JavaScript the forms post as they are.
  function postInPlace(event) {
    var form = event.currentTarget;
    var button = form.querySelector('button[type="submit"]');
    event.preventDefault();
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' },
      body: new URLSearchParams(new FormData(form))
    }).then(function (response) {
      var json = (response.headers.get('content-type') || '').indexOf('application/json') === 0;
      var answer = json ? response.json() : Promise.resolve({});
      return answer.then(function (body) {
        if (response.ok) { tell(body.notice || 'Done.', false); return; }
        if (response.status === 401) { window.location.assign('/login'); return; }
        tell(body.error || (response.status + ' ' + response.statusText), true);
      });
    }, function () {
      tell('The request could not be sent; try again.', true);
    }).then(function () {
      if (button) { button.disabled = false; }
    });
  }
  document.querySelectorAll('form.inplace').forEach(function (form) {
    form.addEventListener('submit', postInPlace);
  });

  var url = document.body && document.body.getAttribute('data-events');
  var status = document.getElementById('live-status');
  if (!url || !window.EventSource) { return; }

  function say(text) { if (status) { status.textContent = text; } }

  function shortRevision(revision) {
    return /^[0-9a-f]{40,}$/i.test(revision) ? revision.slice(0, 7) : revision;
  }

  function badge(family, code) {
    var template = document.getElementById('tpl-' + family + '-' + code) ||
      document.getElementById('tpl-' + family + '-Unknown');
    return template ? template.content.firstElementChild.cloneNode(true) : null;
  }

  function replaceBadge(scope, family, code) {
    var old = scope.querySelector('.' + family + ' > .' + family + '-badge');
    if (!old || old.getAttribute('data-status') === code) { return; }
    var fresh = badge(family, code);
    if (fresh) { old.replaceWith(fresh); }
  }

  var list = document.querySelector('#apps > tbody');
  var count = document.getElementById('shown-count');

  function rowOf(html) {
    var holder = document.createElement('template');
    holder.innerHTML = html;
    var row = holder.content.firstElementChild;
    return row && row.matches('tr[data-app]') ? row : null;
  }

  // The list is sorted by namespace, then name, as the server sorts it.
  function comesBefore(a, b) {
    return a.namespace < b.namespace || (a.namespace === b.namespace && a.name < b.name);
  }

  function keyParts(row) {
    var key = row.getAttribute('data-app') || '';
    var slash = key.indexOf('/');
    return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
  }

  function updateList(change, present) {
    if (!list) { return; }
    if (change.deleted || !change.shown) {
      present.forEach(function (row) { if (list.contains(row)) { row.remove(); } });
    } else if (!present.some(function (row) { return list.contains(row); }) && change.row) {
      var row = rowOf(change.row);
      if (!row) { return; }
      var next = Array.prototype.find.call(list.rows, function (other) {
        return comesBefore(change, keyParts(other));
      });
      list.insertBefore(row, next || null);
    }
    if (count) { count.textContent = String(list.rows.length); }
  }

  // The detail page's last operation and conditions: fetched again (server-rendered, escaped)
  // after any change of its Application, at most every 300 ms.
  var live = document.querySelector('[data-live-for]');
  var liveTimer = null;
  function refreshLive() {
    liveTimer = null;
    fetch(live.getAttribute('data-live'), { credentials: 'same-origin' }).then(function (response) {
      if (response.status === 401) { window.location.assign('/login'); return null; }
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null) { live.innerHTML = html; }
    }, function () { /* the next change tries again */ });
  }

  function apply(change) {
    var key = change.namespace + '/' + change.name;
    if (live && !change.deleted && live.getAttribute('data-live-for') === key && !liveTimer) {
      liveTimer = setTimeout(refreshLive, 300);
    }
    var rows = Array.prototype.slice.call(document.querySelectorAll('[data-app="' + CSS.escape(key) + '"]'));
    updateList(change, rows);
    rows.forEach(function (row) {
      if (change.deleted) { row.classList.add('deleted'); return; }
      row.classList.remove('deleted');
      replaceBadge(row, 'health', change.health);
      replaceBadge(row, 'sync', change.sync);
      var revision = row.querySelector('.revision');
      if (revision) {
        revision.textContent = shortRevision(change.revision);
        revision.title = change.revision;
      }
    });
  }

  var delay = 1000;
  function connect() {
    var source = new EventSource(url);
    source.addEventListener('open', function () { delay = 1000; say('live'); });
    source.addEventListener('app', function (event) {
      try { apply(JSON.parse(event.data)); } catch (e) { /* a malformed message changes nothing */ }
    });
    source.addEventListener('reload', function () { window.location.reload(); });
    source.addEventListener('error', function () {
      say('reconnecting…');
      if (source.readyState !== EventSource.CLOSED) { return; }
      // The server refused the stream (the session may have ended): ask, then retry or sign in.
      fetch('/session', { credentials: 'same-origin' }).then(function (response) {
        if (response.status === 401) { window.location.assign('/login'); return; }
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      }, function () {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      });
    });
  }
  connect();
}());
