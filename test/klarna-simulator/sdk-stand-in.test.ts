import { describe, expect, it } from 'vitest';
import { sessionBody, useSimulator } from './helpers.js';

// The JS SDK stand-in (/_sim/klarna-payments.js) and the purchase page's views inside its iframes.
// What they do in a browser is covered by test/browser/step-up.browser.test.ts.

const c = useSimulator();

async function newSession() {
  const r = await c.klarna('POST', '/payments/v1/sessions', sessionBody());
  expect(r.status).toBe(200);
  return r.body.session_id as string;
}

describe('GET /_sim/klarna-payments.js', () => {
  it("serves Klarna.Payments with init, load and authorize, and calls window.klarnaAsyncCallback; no Basic auth", async () => {
    const r = await c.raw('GET', '/_sim/klarna-payments.js', undefined, {}, null);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/javascript/);
    for (const name of ['init:', 'load:', 'authorize:', 'window.Klarna.Payments = Payments', 'klarnaAsyncCallback']) expect(r.text).toContain(name);
    // It answers only messages from the simulator's own origin.
    expect(r.text).toContain('event.origin !== klarnaOrigin');
  });
});

describe('GET /_sim/purchase/{id}?view=widget|sdk&parent=<origin>', () => {
  it('widget: the amount, no buttons, and show_form posted to the given origin only', async () => {
    const id = await newSession();
    const r = await c.raw('GET', `/_sim/purchase/${id}?view=widget&parent=${encodeURIComponent('http://shop.example:3000')}`);
    expect(r.status).toBe(200);
    expect(r.text).toContain('199.00 SEK');
    expect(r.text).not.toContain('<button');
    expect(r.text).toContain(`"http://shop.example:3000"`);
    expect(r.text).toContain('show_form: true');
  });

  it('widget for an unknown session: 404, show_form false', async () => {
    const r = await c.raw('GET', `/_sim/purchase/nope?view=widget&parent=${encodeURIComponent('http://shop.example')}`);
    expect(r.status).toBe(404);
    expect(r.text).toContain('show_form: false');
  });

  it('sdk: the buttons, and the answer for authorize() posted to the given origin', async () => {
    const id = await newSession();
    const r = await c.raw('GET', `/_sim/purchase/${id}?view=sdk&parent=${encodeURIComponent('https://shop.example')}`);
    expect(r.text).toMatch(/<button id="approve"/);
    expect(r.text).toContain(`const parentOrigin = "https://shop.example";`);
  });

  it('a parent that is not a bare http(s) origin is ignored: nothing is posted', async () => {
    const id = await newSession();
    for (const parent of ['javascript:alert(1)', 'https://shop.example/path', '"</script><script>alert(1)</script>']) {
      const r = await c.raw('GET', `/_sim/purchase/${id}?view=sdk&parent=${encodeURIComponent(parent)}`);
      expect(r.text).toContain('const parentOrigin = null;');
      expect(r.text).not.toContain('alert(1)');
      const widget = await c.raw('GET', `/_sim/purchase/${id}?view=widget&parent=${encodeURIComponent(parent)}`);
      expect(widget.text).not.toContain('postMessage');
    }
  });
});
