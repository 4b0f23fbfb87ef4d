// lockstep UI: live badges. Follows the page's event stream (body[data-events]) and updates the
// health, sync and revision of each element marked data-app="namespace/name" in place, by cloning
// the server-rendered badge templates. The action forms (form.inplace) post without leaving the
// page, so the badges can be watched changing. No framework, no inline script (see the CSP).
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

  function apply(change) {
    var key = change.namespace + '/' + change.name;
    var rows = document.querySelectorAll('[data-app="' + CSS.escape(key) + '"]');
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
