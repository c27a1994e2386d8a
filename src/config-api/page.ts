// The operators' page: the workspace's connected HubSpot accounts, "Add account" (HubSpot's install
// flow), each account's mappable contact properties, and the workspace's recent syncs (page-syncs.ts).
// Plain HTML and one script served from this origin (the Content-Security-Policy allows nothing else);
// the script calls the configuration API with the page's session cookie, never with a token.
import { recentSyncsScript, recentSyncsSection, recentSyncsStyle } from './page-syncs';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:75rem;padding:0 1rem;color:#213343}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0} th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #dfe3eb;vertical-align:top}
button{padding:.4rem .8rem;border-radius:4px;border:1px solid #425b76;background:#fff;cursor:pointer} button.primary{background:#ff7a59;border-color:#ff7a59;color:#fff}
.status-connected{color:#00a4bd}.status-needs-reconnect{color:#d94c53;font-weight:600}
.banner{padding:.6rem .8rem;border-radius:4px;background:#e5f8f6;margin:1rem 0}.banner.error{background:#fde8e9}
.muted{color:#516f90;font-size:.9rem}.bar{display:flex;gap:.5rem;margin:1rem 0}.bar form{margin:0} code{font-size:.9em}${recentSyncsStyle}`;

export function loginPage(error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in: HubSpot accounts</title><style>${STYLE}</style></head><body>
<h1>HubSpot accounts: log in</h1>
${error ? `<p class="banner error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login">
  <p><label>Workspace <input name="workspaceId" value="default" required></label></p>
  <p><label>Configuration API token <input name="token" type="password" autocomplete="off" required></label></p>
  <p><button class="primary" type="submit">Log in</button></p>
</form>
<p class="muted">The token is the configuration API's (CONFIG_API_TOKEN). It is checked once; the page then keeps an HTTP-only session cookie for this workspace.</p>
</body></html>`;
}

export function setupPage(workspaceId: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HubSpot accounts: ${esc(workspaceId)}</title><style>${STYLE}</style></head>
<body data-workspace="${esc(workspaceId)}">
<h1>HubSpot accounts of workspace <code>${esc(workspaceId)}</code></h1>
<div id="banner" role="status"></div>
<div class="bar"><button id="add-account" class="primary" type="button">Add account</button>
<form method="post" action="/logout"><button type="submit">Log out</button></form></div>
<table id="accounts"><thead><tr><th>Account</th><th>Portal</th><th>Kind</th><th>Status</th><th>Scopes</th><th></th></tr></thead><tbody></tbody></table>
<p id="empty" class="muted" hidden>No HubSpot account is connected yet: click <strong>Add account</strong>.</p>
${recentSyncsSection}
<section id="properties" hidden>
  <h2>Mappable contact properties of <code id="properties-account"></code></h2>
  <table id="mappable"><thead><tr><th>Label</th><th>Internal name</th><th>Group</th><th>Field type</th><th>Kind</th></tr></thead><tbody></tbody></table>
  <h2>Not offered</h2>
  <table id="not-offered"><thead><tr><th>Label</th><th>Internal name</th><th>Why</th></tr></thead><tbody></tbody></table>
</section>
<script src="/setup.js"></script>
</body></html>`;
}

export const setupScript = `'use strict';
(function () {
  var ws = document.body.dataset.workspace;
  var base = '/v1/workspaces/' + encodeURIComponent(ws);
  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: { 'x-config-page': '1' } };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(base + path, init).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || ('HTTP ' + r.status)); return j; });
    });
  }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function banner(text, error) { var b = document.getElementById('banner'); b.textContent = text; b.className = text ? 'banner' + (error ? ' error' : '') : ''; }
  function row(cells) { var tr = document.createElement('tr'); cells.forEach(function (c) { var td = document.createElement('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); }); return tr; }

  function showProperties(accountId) {
    var section = document.getElementById('properties');
    document.getElementById('properties-account').textContent = accountId;
    var mappable = document.querySelector('#mappable tbody'); var other = document.querySelector('#not-offered tbody');
    mappable.textContent = ''; other.textContent = '';
    section.hidden = false;
    return api('GET', '/connections/' + encodeURIComponent(accountId) + '/properties').then(function (p) {
      p.mappable.forEach(function (x) { mappable.appendChild(row([x.label, x.name, x.group, x.fieldType, x.standard ? 'standard' : 'custom'])); });
      p.notOffered.forEach(function (x) { other.appendChild(row([x.label, x.name, x.reason])); });
    }).catch(function (e) { banner(e.message, true); });
  }

  function load() {
    return api('GET', '/connections').then(function (r) {
      var body = document.querySelector('#accounts tbody'); body.textContent = '';
      document.getElementById('empty').hidden = r.connections.length > 0;
      document.getElementById('add-account').hidden = !r.addAccount;
      r.connections.forEach(function (c) {
        var actions = el('span');
        var props = el('button', 'Properties'); props.type = 'button'; props.onclick = function () { showProperties(c.accountId); document.getElementById('properties').scrollIntoView(); };
        var reconnect = el('button', 'Reconnect'); reconnect.type = 'button'; reconnect.onclick = addAccount; reconnect.hidden = c.status !== 'needs-reconnect' || !r.addAccount;
        var off = el('button', 'Disconnect'); off.type = 'button';
        off.onclick = function () {
          if (!confirm('Disconnect ' + c.accountId + '? Actions using it stop syncing.')) return;
          api('DELETE', '/connections/' + encodeURIComponent(c.accountId)).then(function () { banner('Disconnected ' + c.accountId + '.'); document.getElementById('properties').hidden = true; load(); }).catch(function (e) { banner(e.message, true); });
        };
        actions.appendChild(props); actions.appendChild(document.createTextNode(' ')); actions.appendChild(reconnect); actions.appendChild(document.createTextNode(' ')); actions.appendChild(off);
        var tr = row([c.accountId, c.portalId === undefined ? '' : String(c.portalId), c.kind, el('span', c.status, 'status-' + c.status), c.scopes.join(' '), actions]);
        tr.dataset.accountId = c.accountId;
        body.appendChild(tr);
      });
    }).catch(function (e) { banner(e.message, true); });
  }

  function addAccount() {
    api('POST', '/connections/oauth', { returnTo: '/' }).then(function (r) { window.location.assign(r.installUrl); }).catch(function (e) { banner(e.message, true); });
  }
  document.getElementById('add-account').onclick = addAccount;

  var q = new URLSearchParams(window.location.search);
  if (q.get('connected')) banner('Connected HubSpot account ' + q.get('connected') + '.');
  if (q.get('error')) banner('The account was not connected (' + q.get('error') + ').', true);
  if (q.get('connected') || q.get('error')) history.replaceState(null, '', '/');
  load().then(function () { if (q.get('connected')) showProperties(q.get('connected')); });
${recentSyncsScript}})();
`;
