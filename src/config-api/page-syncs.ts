// The setup page's "Recent syncs": the workspace's sync receipts (GET /v1/workspaces/{ws}/receipts),
// newest first, with filters (action, outcome, conversation id, time), each outcome in its colour, the
// links into HubSpot (the contact, the note or engagement), and a Retry button on a failed sync whose
// conversation has no later successful run of that action. Every value of a receipt is untrusted text:
// the script writes it with textContent, never as markup, and links only http(s) URLs.

/** How often the view reads its first page again while the page is in view. */
export const RECENT_SYNCS_REFRESH_MS = 10_000;

/** The view's markup (inside the setup page's body). */
export const recentSyncsSection = `
<section id="syncs" aria-labelledby="syncs-title">
  <h2 id="syncs-title">Recent syncs</h2>
  <p class="muted">Every run of the workspace's HubSpot actions, newest first; the list refreshes every ${RECENT_SYNCS_REFRESH_MS / 1000} seconds.</p>
  <div id="syncs-status" role="status"></div>
  <form id="sync-filters" class="filters">
    <label>Action <input name="actionId" list="sync-actions" size="14" autocomplete="off"></label>
    <datalist id="sync-actions"></datalist>
    <label>Outcome <select name="outcome">
      <option value="">any</option><option value="created">created</option><option value="updated">updated</option>
      <option value="note_only">note only</option><option value="skipped">skipped</option><option value="failed">failed</option>
    </select></label>
    <label>Conversation <input name="conversationId" size="18" autocomplete="off"></label>
    <label>From <input name="since" type="datetime-local"></label>
    <label>To <input name="until" type="datetime-local"></label>
    <button type="submit">Apply</button> <button id="sync-filters-clear" type="button">Clear</button>
    <button id="syncs-refresh" type="button">Refresh</button>
  </form>
  <div class="table-scroll"><table id="sync-receipts"><thead><tr><th>When</th><th>Action</th><th>Conversation</th><th>Outcome</th><th>HubSpot</th><th>Properties</th><th>Run</th><th></th></tr></thead><tbody></tbody></table></div>
  <p id="syncs-empty" class="muted" hidden></p>
  <p><button id="syncs-more" type="button" hidden>Show older syncs</button></p>
</section>`;

/** Its styles: outcome colours (green synced, grey skipped, red failed). */
export const recentSyncsStyle = `
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0}.filters label{font-size:.9rem;display:flex;flex-direction:column;gap:.15rem}
#sync-receipts td{font-size:.9rem}.outcome{display:inline-block;padding:.05rem .45rem;border-radius:3px;font-weight:600;white-space:nowrap}
.outcome-created,.outcome-updated,.outcome-note_only{background:#e5f8f0;color:#00704a}.outcome-skipped{background:#eaf0f6;color:#516f90}
.outcome-failed{background:#fde8e9;color:#b3262e}.outcome-other{background:#fef8e4;color:#7a5a00}
tr.fresh td{background:#fffbe6}.link-button{border:0;padding:0;background:none;color:#0068b1;text-decoration:underline;cursor:pointer;font:inherit;text-align:left;overflow-wrap:anywhere;max-width:14rem}
.reason{display:block;min-width:14rem;max-width:24rem;overflow-wrap:anywhere}.nowrap{white-space:nowrap}.wrap{overflow-wrap:anywhere}.table-scroll{overflow-x:auto}`;

/**
 * The view's script: runs inside the setup page's script, which defines `api(method, path, body)`
 * (the workspace's API with the session cookie), `el(tag, text, cls)` and `row(cells)`.
 */
export const recentSyncsScript = `
  var OUTCOMES = { created: 'created', updated: 'updated', note_only: 'note only', skipped: 'skipped', failed: 'failed' };
  var TRIGGERS = { 'in-conversation': 'during the conversation', offline: 'after the conversation', 'follow-up': 'follow-up',
    'operator-retry': 'retried by an operator', 'convergence-repair': 'repair of an unconfirmed write' };
  var RECORDS = { note: 'Note', call: 'Call', communication: 'Communication' };
  var syncs = { query: '', pages: 0, cursor: undefined, shown: [], fresh: undefined, asked: 0, loadFailed: false, retrying: 0 };
  var filtersForm = document.getElementById('sync-filters');
  function syncsBanner(text, error) { var b = document.getElementById('syncs-status'); b.textContent = text; b.className = text ? 'banner' + (error ? ' error' : '') : ''; }

  // A link into HubSpot, only for an http(s) URL; any other value is shown as text.
  function hubspotLink(url, text) {
    var href = null;
    try { var u = new URL(String(url)); if (u.protocol === 'https:' || u.protocol === 'http:') href = u.href; } catch (e) { href = null; }
    if (!href) return el('span', text);
    var a = el('a', text); a.href = href; a.target = '_blank'; a.rel = 'noopener noreferrer';
    return a;
  }
  function str(v) { return v === undefined || v === null ? '' : String(v); }
  function label(names, key) { key = str(key); return Object.prototype.hasOwnProperty.call(names, key) ? names[key] : key; }
  function when(iso) { var d = new Date(str(iso)); return isNaN(d.getTime()) ? str(iso) : d.toLocaleString(); }
  function seconds(ms) { var n = Number(ms); return isFinite(n) ? (n < 1000 ? Math.round(n) + ' ms' : (n / 1000).toFixed(1) + ' s') : ''; }
  function plural(n, word) { n = Number(n) || 0; return n + ' ' + word + (n === 1 ? '' : 's'); }
  function lines(parts) { var s = el('span'); parts.forEach(function (p, i) { if (i) s.appendChild(el('br')); s.appendChild(p instanceof Node ? p : el('span', p)); }); return s; }
  function sameRun(a, b) { return a.actionId === b.actionId && a.conversationId === b.conversationId; }
  // A failed run is retried from here unless a later run of the same action and conversation succeeded.
  function fixedLater(r) {
    return syncs.shown.some(function (o) { return o !== r && sameRun(o, r) && o.outcome !== 'failed' && Date.parse(str(o.startedAt)) > Date.parse(str(r.startedAt)); });
  }

  function filters() {
    var f = new FormData(filtersForm); var q = new URLSearchParams();
    ['actionId', 'outcome', 'conversationId'].forEach(function (k) { var v = str(f.get(k)).trim(); if (v) q.set(k, v); });
    ['since', 'until'].forEach(function (k) { var v = str(f.get(k)); if (v) { var d = new Date(v); if (!isNaN(d.getTime())) q.set(k, d.toISOString()); } });
    return q;
  }

  function receiptRow(r) {
    var outcome = str(r.outcome);
    var cls = Object.prototype.hasOwnProperty.call(OUTCOMES, outcome) ? outcome : 'other';
    // A run that has not reported yet: under way, or its worker stopped (Temporal retries it).
    var badge = r.finished === false ? el('span', 'not finished', 'outcome outcome-other') : el('span', label(OUTCOMES, outcome), 'outcome outcome-' + cls);
    var conversation = el('button', str(r.conversationId), 'link-button');
    conversation.type = 'button'; conversation.title = 'Show only this conversation';
    conversation.onclick = function () { filtersForm.elements.conversationId.value = str(r.conversationId); loadSyncs(); };

    var h = r.hubspot || {}; var hubspot = [];
    if (h.contactId) hubspot.push(hubspotLink(h.contactUrl, 'Contact ' + str(h.contactId)));
    if (h.record && h.record.id) hubspot.push(hubspotLink(h.record.url, label(RECORDS, h.record.object) + ' ' + str(h.record.id)));
    hubspot.push(el('span', 'account ' + str(h.accountId), 'muted wrap'));

    var written = Array.isArray(r.propertiesWritten) ? r.propertiesWritten.map(str) : [];
    var left = Array.isArray(r.propertiesLeft) ? r.propertiesLeft : [];
    var props = [];
    if (written.length) props.push('written: ' + written.join(', '));
    left.forEach(function (p) { props.push(el('span', 'left: ' + str(p && p.name) + ' (' + str(p && p.why) + ')', 'muted')); });
    if (!props.length) props.push(el('span', 'none written', 'muted'));

    var retry = el('span');
    if (outcome === 'failed') {
      if (fixedLater(r)) retry.appendChild(el('span', 'a later run succeeded', 'muted'));
      else { var b = el('button', 'Retry'); b.type = 'button'; b.onclick = function () { retrySync(r, b); }; retry.appendChild(b); }
    }

    var tr = row([
      lines([el('span', when(r.startedAt), 'nowrap'), el('span', label(TRIGGERS, r.trigger), 'muted')]),
      str(r.actionId),
      conversation,
      lines([badge, el('span', str(r.reason), 'reason')]),
      lines(hubspot),
      lines(props),
      lines([el('span', plural(r.hubspotCalls, 'HubSpot call')), el('span', plural(r.attempts, 'attempt') + ', ' + seconds(r.durationMs), 'muted')]),
      retry,
    ]);
    tr.dataset.receiptId = str(r.id); tr.dataset.outcome = r.finished === false ? 'not-finished' : outcome;
    tr.cells[0].title = str(r.startedAt);
    if (syncs.fresh && syncs.fresh === r.id) tr.className = 'fresh';
    return tr;
  }

  function render() {
    var body = document.querySelector('#sync-receipts tbody'); body.textContent = '';
    syncs.shown.forEach(function (r) { body.appendChild(receiptRow(r)); });
    var empty = document.getElementById('syncs-empty');
    empty.hidden = syncs.shown.length > 0;
    empty.textContent = syncs.query ? 'No sync matches these filters.' : 'No sync yet: runs of the workspace\\'s HubSpot actions are listed here.';
    document.getElementById('syncs-more').hidden = !syncs.cursor;
    var actions = document.getElementById('sync-actions');
    var known = Object.create(null); Array.prototype.forEach.call(actions.options, function (o) { known[o.value] = true; });
    syncs.shown.forEach(function (r) { var id = str(r.actionId); if (id && !known[id]) { known[id] = true; var o = document.createElement('option'); o.value = id; actions.appendChild(o); } });
  }

  // A page of receipts with the filters last applied (not what is being typed into the form).
  // A refresh (passive) never displaces a load the operator asked for: its answer is dropped instead.
  function fetchSyncs(cursor, passive) {
    var q = new URLSearchParams(syncs.query); q.set('limit', '25');
    if (cursor) q.set('cursor', cursor);
    var asked = passive ? syncs.asked : ++syncs.asked;
    return api('GET', '/receipts?' + q.toString()).then(function (page) {
      if (asked !== syncs.asked) return undefined; // a later load answers instead
      if (syncs.loadFailed) { syncs.loadFailed = false; syncsBanner(''); }
      return page;
    }, function (e) { syncs.loadFailed = true; syncsBanner('The recent syncs could not be read: ' + e.message, true); });
  }

  function loadSyncs(more) {
    if (!more) { syncs.query = filters().toString(); syncs.pages = 0; }
    return fetchSyncs(more ? syncs.cursor : undefined).then(function (page) {
      if (!page) return;
      var got = Array.isArray(page.receipts) ? page.receipts : [];
      syncs.shown = more ? syncs.shown.concat(got) : got;
      syncs.cursor = page.nextCursor || undefined;
      syncs.pages += 1;
      render();
    });
  }

  // The first page is read again every ${RECENT_SYNCS_REFRESH_MS / 1000} seconds while the page is in view, and shown when it changed.
  function refreshSyncs() {
    if (document.hidden || syncs.pages !== 1 || syncs.retrying) return;
    fetchSyncs(undefined, true).then(function (page) {
      if (!page || syncs.pages !== 1 || syncs.retrying) return;
      var got = Array.isArray(page.receipts) ? page.receipts : [];
      if (JSON.stringify(got) === JSON.stringify(syncs.shown)) return;
      syncs.shown = got; syncs.cursor = page.nextCursor || undefined;
      render();
    });
  }

  function retrySync(r, button) {
    button.disabled = true; button.textContent = 'Retrying…'; syncs.retrying += 1;
    var settled = false;
    function settle() { if (!settled) { settled = true; syncs.retrying -= 1; } }
    api('POST', '/receipts/' + encodeURIComponent(str(r.id)) + '/retry', {}).then(function (answer) {
      var n = answer.receipt || {};
      syncs.fresh = n.id;
      syncsBanner(n.outcome === 'failed'
        ? 'The retry of ' + str(r.actionId) + ' for conversation ' + str(r.conversationId) + ' failed again: ' + str(n.reason)
        : 'Retried ' + str(r.actionId) + ' for conversation ' + str(r.conversationId) + ': ' + label(OUTCOMES, n.outcome) + '. ' + str(n.reason), n.outcome === 'failed');
      settle();
      return loadSyncs();
    }).catch(function (e) {
      settle();
      syncsBanner('The sync was not retried: ' + e.message, true);
      button.disabled = false; button.textContent = 'Retry';
      return loadSyncs();
    });
  }

  filtersForm.onsubmit = function (ev) { ev.preventDefault(); loadSyncs(); };
  document.getElementById('sync-filters-clear').onclick = function () { filtersForm.reset(); loadSyncs(); };
  document.getElementById('syncs-refresh').onclick = function () { loadSyncs(); };
  document.getElementById('syncs-more').onclick = function () { loadSyncs(true); };
  loadSyncs();
  setInterval(refreshSyncs, ${RECENT_SYNCS_REFRESH_MS});
`;
