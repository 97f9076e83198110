// The wasmward status page. Everything shown is set with textContent,
// never as HTML: route names, module references and violation details
// come from configurations and guests. The admin token lives in the
// password field only; it is read when a button is pressed and sent in an
// Authorization header to the admin API, never stored.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function badge(tr, text, cls) {
    const td = document.createElement('td');
    const span = document.createElement('span');
    span.textContent = text;
    span.className = cls;
    td.appendChild(span);
    tr.appendChild(td);
    return td;
  }

  function short(sha) {
    return sha ? sha.slice(0, 12) : '';
  }

  function when(t) {
    if (!t) return '';
    const d = new Date(t);
    return isNaN(d) ? '' : d.toLocaleTimeString();
  }

  function fill(id, rows, build) {
    const tbody = $(id).tBodies[0];
    const frag = document.createDocumentFragment();
    for (const r of rows || []) {
      const tr = document.createElement('tr');
      build(tr, r);
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.dataset.kind = kind || 'info';
    m.hidden = false;
  }

  // post calls the admin API with the operator's token.
  async function post(path, what) {
    const token = $('token').value.trim();
    if (!token) {
      say(what + ': type the admin token first', 'error');
      $('token').focus();
      return;
    }
    let resp;
    try {
      resp = await fetch(path, {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + token },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      say(what + ': ' + e.message, 'error');
      return;
    }
    let body = {};
    try { body = await resp.json(); } catch (e) { /* not JSON */ }
    if (resp.ok) {
      say(what + ': done', 'info');
    } else {
      say(what + ': ' + (body.error || resp.status + ' ' + resp.statusText), 'error');
    }
  }

  // rollbackTarget is the deployment a route's rollback undoes: the one
  // in progress, else the one that made the active version active.
  function rollbackTarget(r) {
    if (r.deployment) return r.deployment;
    for (const v of r.versions || []) {
      if (v.state === 'active' && v.deployment) return v.deployment;
    }
    return '';
  }

  function render(s) {
    fill('routes', s.routes, (tr, r) => {
      tr.dataset.route = r.route;
      tr.dataset.health = r.health;
      cell(tr, r.route, 'mono');
      badge(tr, r.health, 'health health-' + r.health);
      const vs = (r.versions || []).map((v) => v.state + ' ' + short(v.sha256) + (v.percent ? ' (' + v.percent + '%)' : ''));
      cell(tr, vs.join(', '), 'mono versions');
      cell(tr, r.requests);
      cell(tr, r.errors);
      cell(tr, r.violations);
      cell(tr, r.in_flight);
      const td = document.createElement('td');
      const dep = s.deploy_enabled ? rollbackTarget(r) : '';
      if (dep) {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Roll back';
        b.className = 'rollback';
        b.addEventListener('click', () => post('/v1/deployments/' + encodeURIComponent(dep) + '/rollback', 'Roll back ' + r.route));
        td.appendChild(b);
      }
      tr.appendChild(td);
    });
    $('alerts-off').hidden = !!s.alerts_enabled;
    fill('alerts', s.alerts, (tr, a) => {
      tr.dataset.alert = a.name;
      tr.dataset.state = a.state;
      cell(tr, a.name);
      badge(tr, a.severity, 'sev sev-' + a.severity);
      cell(tr, a.state);
      cell(tr, a.route, 'mono');
      cell(tr, short(a.sha256), 'mono');
      cell(tr, a.action);
      cell(tr, when(a.since));
    });
    fill('quarantines', s.quarantines, (tr, q) => {
      tr.dataset.quarantine = q.id;
      cell(tr, q.id, 'mono');
      cell(tr, (q.module ? q.module + ' ' : '') + short(q.sha256), 'mono');
      cell(tr, (q.routes || []).join(', '), 'mono');
      cell(tr, q.reason, 'detail');
      cell(tr, when(q.since));
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Release';
      b.className = 'release';
      b.addEventListener('click', () => post('/v1/quarantine/' + encodeURIComponent(q.id) + '/release', 'Release ' + short(q.sha256)));
      td.appendChild(b);
      tr.appendChild(td);
    });
    fill('violations', s.violations, (tr, v) => {
      tr.dataset.kind = v.kind || v.type;
      tr.dataset.route = v.route;
      cell(tr, when(v.time));
      cell(tr, v.route, 'mono');
      cell(tr, v.type);
      cell(tr, v.kind);
      cell(tr, short(v.sha256), 'mono');
      cell(tr, v.request_id, 'mono');
      cell(tr, v.detail, 'detail');
    });
    fill('deployments', s.deployments, (tr, d) => {
      tr.dataset.deployment = d.id;
      tr.dataset.state = d.state;
      cell(tr, d.id, 'mono');
      cell(tr, d.route, 'mono');
      cell(tr, d.module + ' ' + short(d.sha256), 'mono');
      cell(tr, d.state + (d.percent ? ' (' + d.percent + '%)' : ''));
      cell(tr, when(d.updated));
      cell(tr, d.reason, 'detail');
    });
    $('updated').textContent = 'updated ' + when(s.time);
  }

  function connect() {
    const conn = $('conn');
    const es = new EventSource('/v1/events/stream');
    es.addEventListener('open', () => {
      conn.dataset.state = 'live';
      conn.textContent = 'live';
    });
    es.addEventListener('state', (e) => {
      conn.dataset.state = 'live';
      conn.textContent = 'live';
      render(JSON.parse(e.data));
    });
    es.addEventListener('error', () => {
      // EventSource reconnects on its own (retry: 2000).
      conn.dataset.state = 'lost';
      conn.textContent = 'reconnecting…';
    });
  }

  connect();
}());
