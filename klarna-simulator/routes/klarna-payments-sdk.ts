// The simulator's stand-in for Klarna's JS SDK (Klarna Payments, `x.klarnacdn.net/kp/lib/v1/api.js`),
// served at /_sim/klarna-payments.js for a merchant page in development and the browser tests.
// Same API shape as Klarna's:
//
//   Klarna.Payments.init({ client_token })
//   Klarna.Payments.load({ container, payment_method_category }, [data], callback({ show_form, error? }))
//   Klarna.Payments.authorize({ payment_method_category }, [data], callback({ approved, show_form,
//                                authorization_token?, finalize_required?, error? }))
//   window.klarnaAsyncCallback, called once the script has loaded (as Klarna's)
//
// load() renders the payment-method widget, authorize() opens the purchase flow over the page;
// both are iframes of this simulator's purchase page (/_sim/purchase/<session>?view=widget|sdk),
// which post their answers back to this page's origin only, as Klarna's iframes do. The session
// comes from the client_token (a JWT naming it, klarna-simulator/ids.ts). `data` (address updates)
// is accepted and ignored; finalize() (auto_finalize: false) is not simulated.
export const klarnaPaymentsScript = `(function () {
  'use strict';
  var script = document.currentScript;
  var klarnaOrigin = new URL(script ? script.src : location.href).origin;
  var sessionId = null;
  var pending = {};

  function sessionOf(clientToken) {
    var part = String(clientToken).split('.')[1];
    if (!part) return null;
    try {
      var json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
      return typeof json.session_id === 'string' ? json.session_id : null;
    } catch (e) {
      return null;
    }
  }
  // (options, [data], callback), as Klarna's functions take them.
  function callArgs(options, data, callback) {
    if (typeof data === 'function') return { options: options || {}, callback: data };
    return { options: options || {}, callback: typeof callback === 'function' ? callback : function () {} };
  }
  function frameUrl(view) {
    return klarnaOrigin + '/_sim/purchase/' + encodeURIComponent(sessionId) + '?view=' + view + '&parent=' + encodeURIComponent(location.origin);
  }
  function requireInit(name) {
    if (!sessionId) throw new Error('Klarna.Payments.' + name + ': call Klarna.Payments.init({ client_token }) first');
  }

  window.addEventListener('message', function (event) {
    var m = event.data;
    if (event.origin !== klarnaOrigin || !m || m.source !== 'klarna-simulator' || m.session_id !== sessionId) return;
    var done = pending[m.type];
    if (done) done(m.result);
  });

  var Payments = {
    init: function (options) {
      if (!options || typeof options.client_token !== 'string') throw new TypeError('Klarna.Payments.init: client_token is required');
      sessionId = sessionOf(options.client_token);
      if (!sessionId) throw new TypeError('Klarna.Payments.init: client_token is not a Klarna client token');
    },

    load: function (options, data, callback) {
      requireInit('load');
      var a = callArgs(options, data, callback);
      var container = typeof a.options.container === 'string' ? document.querySelector(a.options.container) : a.options.container;
      if (!container) throw new Error('Klarna.Payments.load: container not found');
      var frame = document.createElement('iframe');
      frame.id = 'klarna-payments-widget';
      frame.title = 'Klarna';
      frame.style.cssText = 'width:100%;height:7rem;border:0';
      pending.load = function (result) {
        delete pending.load;
        a.callback(result);
      };
      container.replaceChildren(frame);
      frame.src = frameUrl('widget');
    },

    authorize: function (options, data, callback) {
      requireInit('authorize');
      var a = callArgs(options, data, callback);
      var overlay = document.createElement('div');
      overlay.id = 'klarna-payments-fullscreen';
      overlay.setAttribute('role', 'dialog');
      overlay.setAttribute('aria-label', 'Klarna');
      overlay.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:rgba(23,18,20,.55);display:flex;align-items:center;justify-content:center';
      var box = document.createElement('div');
      box.style.cssText = 'position:relative;background:#fff;border-radius:.75rem;width:min(44rem,95vw);height:min(46rem,92vh);overflow:hidden;box-shadow:0 1rem 3rem rgba(0,0,0,.3)';
      var close = document.createElement('button');
      close.id = 'klarna-payments-close';
      close.type = 'button';
      close.setAttribute('aria-label', 'Close');
      close.textContent = '\\u00d7';
      close.style.cssText = 'position:absolute;top:.4rem;right:.6rem;font-size:1.6rem;border:0;background:none;cursor:pointer';
      var frame = document.createElement('iframe');
      frame.id = 'klarna-payments-purchase';
      frame.title = 'Klarna purchase flow';
      frame.style.cssText = 'width:100%;height:100%;border:0';
      frame.src = frameUrl('sdk');
      box.appendChild(frame);
      box.appendChild(close);
      overlay.appendChild(box);
      var finish = function (result) {
        delete pending.authorize;
        overlay.remove();
        a.callback(result);
      };
      pending.authorize = finish;
      // The shopper closes the purchase flow: not approved, and Klarna may be offered again.
      close.addEventListener('click', function () {
        finish({ approved: false, show_form: true });
      });
      document.body.appendChild(overlay);
    },
  };

  window.Klarna = window.Klarna || {};
  window.Klarna.Payments = Payments;
  if (typeof window.klarnaAsyncCallback === 'function') window.klarnaAsyncCallback();
})();
`;
