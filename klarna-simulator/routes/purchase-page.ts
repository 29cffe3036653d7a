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
${loginFields(d.billing_address?.email)}
<p>
  <button id="login" ${disabled} onclick="decide()">Continue with Klarna</button>
  <button id="approve" ${disabled} onclick="decide('approve')">Approve</button>
  <button id="decline" ${disabled} onclick="decide('decline')">Decline</button>
</p>
<div id="result" role="status"></div>
<script>
async function decide(outcome) {
  const out = document.getElementById('result');
  out.textContent = 'Working…';
  // Without an outcome the login decides (playground addresses, OTP), as at Klarna.
  const login = {};
  for (const f of ['email', 'otp']) { const v = document.getElementById(f).value.trim(); if (v) login[f] = v; }
  const r = await fetch(${JSON.stringify(`/_sim/sessions/${encodeURIComponent(session.session_id)}/authorize`)}, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(outcome ? { outcome } : login),
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

/** The Klarna login the shopper types: the playground address decides the outcome (facts §6). */
function loginFields(email: string | undefined): string {
  return `<p><label>Email <input id="email" name="email" value="${esc(email)}" size="36"></label>
 <label>OTP <input id="otp" name="otp" value="123456" size="8"></label>
 <small>customer+denied@… declines; customer+denied+auth_otp_email@… needs the OTP (999999 fails)</small></p>`;
}

/**
 * A plain HTML form (works without JavaScript): each button posts its outcome; "Continue with
 * Klarna" posts none, so the login decides. The server answers with Klarna's redirect back to
 * the merchant (303) or a result page.
 */
export function shopperForm(action: string, email: string | undefined, buttons: [string, string][], disabled: boolean): string {
  const off = disabled ? 'disabled' : '';
  return `<form method="post" action="${esc(action)}">
${loginFields(email)}
<p><button id="login" type="submit" ${off}>Continue with Klarna</button>
${buttons.map(([outcome, label]) => `<button id="${esc(outcome)}" type="submit" name="outcome" value="${esc(outcome)}" ${off}>${esc(label)}</button>`).join('')}</p>
</form>`;
}

/** The Hosted Payment Page as the shopper sees it: the hosted KP session plus the ways out. */
export function hppPage(hpp: HppSessionRecord | undefined, kp: SessionRecord | undefined, id: string): string {
  if (!hpp) return page('Session not found', `<p>No Hosted Payment Page session <code>${esc(id)}</code> (unknown or expired).</p>`);
  const d = kp?.data;
  const final = ['COMPLETED', 'CANCELLED', 'DISABLED'].includes(hpp.status);
  const buttons: [string, string][] = [
    ['approve', 'Approve'],
    ['decline', 'Decline'],
    ['cancel', 'Cancel'],
    ['back', 'Back to store'],
    ['error', 'Simulate error'],
  ];
  const body = `
<p>Hosted Payment Page <code id="hpp-id">${esc(hpp.session_id)}</code> · status <b id="status">${esc(hpp.status)}</b>
 · place_order_mode <b>${esc(hpp.place_order_mode)}</b></p>
${d ? `<p>Klarna Payments session <code>${esc(hpp.kp_session_id)}</code> · intent <b>${esc(d.intent)}</b> · amount <b id="amount">${esc(money(d.order_amount, d.purchase_currency))}</b></p>` : ''}
${shopperForm(`/_sim/hpp/${encodeURIComponent(hpp.session_id)}/complete`, d?.billing_address?.email, buttons, final)}`;
  return page('Klarna Hosted Payment Page (simulator)', body);
}

/** After a form post with nowhere to redirect to: the outcome, for a person clicking through. */
export function resultPage(title: string, answer: unknown): string {
  return page(title, `<pre id="result">${esc(JSON.stringify(answer, null, 2))}</pre>`);
}

export function redirectPage(id: string): string {
  return page('Klarna redirect (simulator)', `<p>Klarna would now send the shopper back to the merchant. Reference <code>${esc(id)}</code>.</p>`);
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}.ok{color:#0a0}.no{color:#a00}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}
