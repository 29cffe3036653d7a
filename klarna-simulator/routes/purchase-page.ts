import type { HppSessionRecord, SessionRecord } from '../state/store.js';

// The shopper's side of a session, for people clicking through a flow by hand (and for browser
// tests): what is being bought, and Approve / Decline buttons that call the authorize control.
// Embedded by the JS SDK stand-in (/_sim/klarna-payments.js) it is Klarna's widget (view
// `widget`) or the purchase flow that `authorize()` opens (view `sdk`), and reports to the
// merchant page by postMessage, as Klarna's iframes do.

/** How the page is shown: on its own, as the SDK's payment-method widget, or as the SDK's purchase flow. */
export interface PurchasePageView {
  mode: 'page' | 'widget' | 'sdk';
  /** The merchant page's origin (SDK views): postMessage goes to it only. */
  parentOrigin?: string;
}

/** An http(s) origin as the SDK stand-in sends it, or undefined (then nothing is posted). */
export function parentOriginParam(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return /^https?:$/.test(url.protocol) && url.origin === value ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A value inside an inline <script> (JSON, with `<` escaped so no `</script>` can close it). */
const scriptValue = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const esc = (v: unknown) =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const money = (minor: number, currency: string) => `${(minor / 100).toFixed(2)} ${currency}`;

export function purchasePage(session: SessionRecord | undefined, sessionId: string, nowMs: number, view: PurchasePageView = { mode: 'page' }): string {
  const live = session !== undefined && nowMs < session.expires_at && session.status !== 'complete';
  if (view.mode === 'widget') return widgetPage(session, sessionId, live, view.parentOrigin);
  if (!session) {
    return page('Session not found', `<p>No Klarna session <code>${esc(sessionId)}</code>.</p>`);
  }
  const d = session.data;
  const expired = nowMs >= session.expires_at;
  const parent = view.mode === 'sdk' ? view.parentOrigin : undefined;
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
  // In the SDK's purchase flow, the answer authorize() calls back with (Klarna: a decline is
  // show_form false, the payment method cannot be offered again; an error leaves it offered).
  const parentOrigin = ${scriptValue(parent ?? null)};
  if (parentOrigin && window.parent !== window) {
    const result = r.ok && body.approved
      ? { approved: true, show_form: true, finalize_required: false, authorization_token: body.authorization_token }
      : r.ok ? { approved: false, show_form: false } : { approved: false, show_form: true, error: { invalid_fields: [] } };
    window.parent.postMessage({ source: 'klarna-simulator', type: 'authorize', session_id: ${scriptValue(session.session_id)}, result }, parentOrigin);
  }
}
</script>`;
  return page('Pay with Klarna (simulator)', body);
}

/**
 * The payment-method widget `Klarna.Payments.load()` renders in the merchant's container: the
 * category and the amount, no buttons (the merchant's own button calls authorize()). It tells the
 * SDK whether Klarna can be offered (show_form), as load()'s callback does.
 */
function widgetPage(session: SessionRecord | undefined, sessionId: string, live: boolean, parentOrigin: string | undefined): string {
  const d = session?.data;
  const body = d
    ? `<p><b>Pay with Klarna</b> · <span id="amount">${esc(money(d.order_amount, d.purchase_currency))}</span></p>
<p><small>Session <code>${esc(sessionId)}</code>${live ? '' : ' · <span id="unavailable">not available</span>'}</small></p>`
    : `<p id="unavailable">No Klarna session <code>${esc(sessionId)}</code>.</p>`;
  const script = parentOrigin
    ? `<script>if (window.parent !== window) window.parent.postMessage({ source: 'klarna-simulator', type: 'load', session_id: ${scriptValue(sessionId)}, result: { show_form: ${live} } }, ${scriptValue(parentOrigin)});</script>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Klarna</title>
<style>body{font-family:system-ui,sans-serif;margin:0;padding:.5rem 1rem;border:1px solid #ffb3c7;border-radius:.5rem;background:#fff5f8}</style></head>
<body>${body}${script}</body></html>`;
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
