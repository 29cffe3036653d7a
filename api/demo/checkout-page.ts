// The demo checkout (development only, api/demo/checkout-routes.ts): a merchant's checkout page
// recovering a refused renewal with Klarna, through the public API only. Its script is served as
// a file (/demo/checkout.js) so the page's Content-Security-Policy needs no inline script.

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function checkoutPage(klarnaSdkUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo shop · checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#17120f}
section{border:1px solid #ddd;border-radius:.5rem;padding:.2rem 1rem 1rem;margin:1rem 0}
button{font-size:1rem;padding:.5rem 1.1rem;margin:.3rem .5rem .3rem 0;cursor:pointer}
#klarna-payments-container{margin:.8rem 0}
.note{color:#555;font-size:.9rem}.ok{color:#087a2c}.no{color:#a00}
#log{font-family:ui-monospace,monospace;font-size:.8rem;color:#333;padding-left:1.4rem}
#log li{margin:.15rem 0;word-break:break-all}
</style></head>
<body>
<h1>Demo shop · checkout</h1>
<p class="note">A merchant's checkout page for trying the product in development (never served in
production mode). It uses only the public API (<code>/v1/…</code>) and the Klarna simulator's
stand-in for Klarna's JS SDK.</p>

<section id="charge-section">
  <h2>1. Your renewal was refused</h2>
  <p id="charge-info">No charge yet. The button makes one: a Klarna token saved earlier (made
  directly at the simulator) whose card has since failed, charged with you present. Klarna refuses
  it and offers a step-up.</p>
  <button id="setup" type="button">Set up a refused charge</button>
</section>

<section id="pay-section" hidden>
  <h2>2. Pay again with Klarna</h2>
  <p>The payment method on file failed. Choose how to fix it:</p>
  <p id="choose">
    <button id="pay-widget" type="button">Pay with Klarna here (widget)</button>
    <button id="pay-hpp" type="button">Pay on Klarna's page</button>
  </p>
  <div id="klarna-payments-container"></div>
  <button id="authorize" type="button" hidden>Buy with Klarna</button>
  <p id="hpp-retry" hidden><a id="hpp-link" href="#">Continue on Klarna's page</a></p>
</section>

<section id="outcome-section" hidden>
  <h2>3. Outcome</h2>
  <p id="outcome" role="status"></p>
</section>

<h2>What the checkout did</h2>
<ol id="log"></ol>

<script src="${esc(klarnaSdkUrl)}"></script>
<script src="/demo/checkout.js"></script>
</body></html>`;
}

export const checkoutScript = `(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var chargeId = params.get('charge');
  var returned = params.get('return');
  var terminal = ['COMPLETED', 'DECLINED', 'CANCELLED', 'ABANDONED', 'EXPIRED', 'FAILED'];

  function log(text) {
    var li = document.createElement('li');
    li.textContent = text;
    $('log').appendChild(li);
  }
  function api(method, path, body) {
    var init = { method: method, headers: body ? { 'content-type': 'application/json' } : {} };
    if (body) init.body = JSON.stringify(body);
    return fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var json;
        try { json = text ? JSON.parse(text) : undefined; } catch (e) { json = text; }
        log(method + ' ' + path + ' → ' + r.status + (json && json.state ? ' ' + json.state : json && json.error ? ' ' + json.error : ''));
        return { status: r.status, body: json };
      });
    }, function (err) {
      // No answer (the API is down, or the page is being left): shown, never thrown.
      log(method + ' ' + path + ' → no answer (' + err.message + ')');
      return { status: 0, body: undefined };
    });
  }
  var stepUpPath = function (suffix) { return '/v1/charges/' + encodeURIComponent(chargeId) + '/step-up' + (suffix || ''); };
  var back = function (kind) { return location.origin + '/demo/checkout?charge=' + encodeURIComponent(chargeId) + '&return=' + kind; };

  function showCharge(charge) {
    var failure = charge.failure ? ' (' + charge.failure.kind + ')' : '';
    $('charge-info').textContent = 'Charge ' + chargeId + ': ' + charge.state + failure + ', ' + (charge.order_amount / 100).toFixed(2) + ' ' + charge.purchase_currency + '.';
    $('setup').hidden = true;
    $('pay-section').hidden = false;
  }

  function showOutcome(status) {
    $('outcome-section').hidden = false;
    var out = $('outcome');
    out.dataset.state = status.state;
    $('pay-section').hidden = true;
    if (status.state === 'COMPLETED') {
      out.className = 'ok';
      out.dataset.orderId = status.order.order_id;
      out.textContent = 'Paid. Klarna order ' + status.order.order_id + ' (placed by ' + status.order.placed_by + '); your saved Klarna payment method is updated.';
    } else {
      out.className = 'no';
      out.textContent = status.state + (status.failure ? ': ' + status.failure.kind + ' (' + status.failure.message + ')' : '');
    }
  }

  // Long polls the recovery until it ends (GET …/step-up?wait=10s answers as soon as it changes).
  function waitForOutcome(deadline) {
    deadline = deadline || Date.now() + 5 * 60000;
    return api('GET', stepUpPath('?wait=10s')).then(function (r) {
      if (r.status !== 200) return;
      if (terminal.indexOf(r.body.state) >= 0) return showOutcome(r.body);
      if (Date.now() < deadline) return waitForOutcome(deadline);
    });
  }

  function startWidget(status) {
    $('choose').hidden = true;
    Klarna.Payments.init({ client_token: status.client_token });
    log('Klarna.Payments.init({ client_token }) for session ' + status.session_id);
    Klarna.Payments.load({ container: '#klarna-payments-container', payment_method_category: 'klarna' }, {}, function (res) {
      log('Klarna.Payments.load() → show_form: ' + res.show_form);
      $('authorize').hidden = !res.show_form;
    });
    $('authorize').onclick = function () {
      Klarna.Payments.authorize({ payment_method_category: 'klarna' }, {}, function (res) {
        log('Klarna.Payments.authorize() → approved: ' + res.approved + ', show_form: ' + res.show_form);
        if (res.approved) {
          $('authorize').hidden = true;
          api('POST', stepUpPath('/authorization'), { authorization_token: res.authorization_token, session_id: status.session_id }).then(function () {
            return waitForOutcome();
          });
        } else if (res.show_form === false) {
          // Declined by Klarna: the recovery ends here, the shopper picks another way to pay.
          api('POST', stepUpPath('/cancel'), { reason: 'shopper_declined' }).then(function (r) {
            if (r.status === 200) showOutcome(r.body);
          });
        }
        // Closed without deciding: the button stays, the shopper may open Klarna again.
      });
    };
  }

  function showHppRetry(status) {
    $('choose').hidden = true;
    $('hpp-link').href = status.hpp.redirect_url;
    $('hpp-retry').hidden = false;
  }

  function resume(status) {
    if (terminal.indexOf(status.state) >= 0) return showOutcome(status);
    if (status.integration === 'sdk') return startWidget(status);
    if (returned) log('Back from Klarna\\'s page (' + returned + ')');
    if (!returned || returned !== 'success') showHppRetry(status);
    return waitForOutcome();
  }

  $('setup').onclick = function () {
    $('setup').disabled = true;
    api('POST', '/demo/refused-charge', {}).then(function (r) {
      if (r.status !== 201) { $('setup').disabled = false; return; }
      chargeId = r.body.charge_id;
      history.replaceState(null, '', '/demo/checkout?charge=' + encodeURIComponent(chargeId));
      showCharge(r.body.charge);
    });
  };
  $('pay-widget').onclick = function () {
    api('POST', stepUpPath(), { integration: 'sdk' }).then(function (r) {
      if (r.status < 300) resume(r.body);
    });
  };
  $('pay-hpp').onclick = function () {
    var hpp = { success_url: back('success'), cancel_url: back('cancel'), back_url: back('back'), failure_url: back('failure'), error_url: back('error') };
    api('POST', stepUpPath(), { integration: 'hpp', hpp: hpp }).then(function (r) {
      if (r.status < 300 && r.body.hpp) location.assign(r.body.hpp.redirect_url);
    });
  };

  if (chargeId) {
    api('GET', '/v1/charges/' + encodeURIComponent(chargeId)).then(function (r) {
      if (r.status !== 200) { $('charge-info').textContent = 'No charge ' + chargeId + '.'; return; }
      showCharge(r.body);
      return api('GET', stepUpPath()).then(function (s) {
        if (s.status === 200) resume(s.body);
      });
    });
  }
})();
`;
