import type { HppSessionRecord, SessionRecord } from '../state/store.js';

// The shopper's side of a session, for people clicking through a flow by hand (and for browser
// tests): what is being bought, and Approve / Decline buttons that call the authorize control.

const esc = (v: unknown) =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const money = (minor: number, currency: string) => `${(minor / 100).toFixed(2)} ${currency}`;

export function purchasePage(session: SessionRecord | undefined, sessionId: string, nowMs: number): string {
  if (!session) {
    return page('Session not found', `<p>No Klarna session <code>${esc(sessionId)}</code>.</p>`);
  }
  const d = session.data;
  const expired = nowMs >= session.expires_at;
  const lines = d.order_lines
    .map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.quantity)}</td><td>${esc(money(l.total_amount, d.purchase_currency))}</td></tr>`)
    .join('');
  const disabled = expired || session.status === 'complete' ? 'disabled' : '';
  const body = `
<p>Session <code id="session-id">${esc(session.session_id)}</code> · intent <b id="intent">${esc(d.intent)}</b> · ${esc(d.purchase_country)} · ${esc(d.locale)}
 · status <b id="status">${esc(expired ? 'expired' : session.status)}</b></p>
${d.step_up_id ? `<p>Step-up recovery for a customer token (step_up_id <code>${esc(d.step_up_id)}</code>).</p>` : ''}
<table><thead><tr><th>Item</th><th>Qty</th><th>Total</th></tr></thead><tbody>${lines}</tbody>
<tfoot><tr><th colspan="2">Order amount</th><th id="amount">${esc(money(d.order_amount, d.purchase_currency))}</th></tr></tfoot></table>
<p>
  <button id="approve" ${disabled} onclick="decide('approve')">Approve</button>
  <button id="decline" ${disabled} onclick="decide('decline')">Decline</button>
</p>
<div id="result" role="status"></div>
<script>
async function decide(outcome) {
  const out = document.getElementById('result');
  out.textContent = 'Working…';
  const r = await fetch(${JSON.stringify(`/_sim/sessions/${encodeURIComponent(session.session_id)}/authorize`)}, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome }),
  });
  const body = await r.json();
  if (r.ok && body.approved) {
    out.innerHTML = '<p class="ok">Approved. authorization_token: <code id="authorization-token"></code></p>';
    document.getElementById('authorization-token').textContent = body.authorization_token;
    out.dataset.authorizationToken = body.authorization_token;
  } else if (r.ok) {
    out.innerHTML = '<p class="no" id="declined">Declined by Klarna.</p>';
  } else {
    out.innerHTML = '<p class="no">Error: <code></code></p>';
    out.querySelector('code').textContent = JSON.stringify(body);
  }
  out.dataset.outcome = r.ok ? (body.approved ? 'approved' : 'declined') : 'error';
}
</script>`;
  return page('Pay with Klarna (simulator)', body);
}

/** The Hosted Payment Page as the shopper sees it: the hosted KP session plus the ways out. */
export function hppPage(hpp: HppSessionRecord | undefined, kp: SessionRecord | undefined, id: string): string {
  if (!hpp) return page('Session not found', `<p>No Hosted Payment Page session <code>${esc(id)}</code> (unknown or expired).</p>`);
  const d = kp?.data;
  const final = ['COMPLETED', 'CANCELLED', 'DISABLED'].includes(hpp.status);
  const disabled = final ? 'disabled' : '';
  const button = (outcome: string, label: string) => `<button id="${outcome}" ${disabled} onclick="finish('${outcome}')">${label}</button>`;
  const body = `
<p>Hosted Payment Page <code id="hpp-id">${esc(hpp.session_id)}</code> · status <b id="status">${esc(hpp.status)}</b>
 · place_order_mode <b>${esc(hpp.place_order_mode)}</b></p>
${d ? `<p>Klarna Payments session <code>${esc(hpp.kp_session_id)}</code> · intent <b>${esc(d.intent)}</b> · amount <b id="amount">${esc(money(d.order_amount, d.purchase_currency))}</b></p>` : ''}
<p>${button('approve', 'Approve')}${button('decline', 'Decline')}${button('cancel', 'Cancel')}${button('back', 'Back to store')}${button('error', 'Simulate error')}</p>
<div id="result" role="status"></div>
<script>
async function finish(outcome) {
  const out = document.getElementById('result');
  out.textContent = 'Working…';
  const r = await fetch(${JSON.stringify(`/_sim/hpp/${encodeURIComponent(hpp.session_id)}/complete`)}, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ outcome }),
  });
  const body = await r.json();
  document.getElementById('status').textContent = body.status || 'error';
  out.dataset.status = body.status || 'error';
  out.innerHTML = '<pre></pre>' + (body.redirect_to ? '<p><a id="continue">Continue to the merchant</a></p>' : '');
  out.querySelector('pre').textContent = JSON.stringify(body, null, 2);
  if (body.redirect_to) document.getElementById('continue').href = body.redirect_to;
}
</script>`;
  return page('Klarna Hosted Payment Page (simulator)', body);
}

export function redirectPage(id: string): string {
  return page('Klarna redirect (simulator)', `<p>Klarna would now send the shopper back to the merchant. Reference <code>${esc(id)}</code>.</p>`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}.ok{color:#0a0}.no{color:#a00}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}
