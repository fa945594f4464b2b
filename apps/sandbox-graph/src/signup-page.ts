import { randomInt } from 'node:crypto';

/**
 * A stand-in for Facebook's embedded signup window, so a newcomer connects a number locally.
 * It speaks the same protocol back to the page that opened it: a `WA_EMBEDDED_SIGNUP` message
 * (as a JSON string, as Facebook sends it) with `waba_id` and `phone_number_id` on FINISH, or the
 * step on CANCEL; and the authorization `code` that Facebook's SDK hands to FB.login's callback,
 * here as a `SANDBOX_AUTH_RESPONSE` message. Messages go only to the opener's `origin`.
 */
export function embeddedSignupPage(origin: string): { status: number; html: string } {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
    return { status: 400, html: '<!doctype html><title>Bad request</title><p>origin must be the opener’s origin, e.g. http://127.0.0.1:3000</p>' };
  }
  const digits = (n: number) => Array.from({ length: n }, () => randomInt(0, 10)).join('');
  const wabaId = `1${digits(14)}`;
  const phoneNumberId = `2${digits(14)}`;
  const code = `sandbox-${digits(12)}`;
  const data = JSON.stringify({ origin, wabaId, phoneNumberId, code }).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox embedded signup</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; margin: 0; padding: 1.5rem; color: #1b1f24; background: #f0f2f5; }
  main { max-width: 28rem; margin: 0 auto; background: #fff; border-radius: 10px; padding: 1.5rem; border: 1px solid #c9ced6; }
  label { display: block; font-weight: 600; margin-top: 0.75rem; }
  input { font: inherit; width: 100%; box-sizing: border-box; padding: 0.5rem; border: 1px solid #6b7380; border-radius: 6px; }
  .row { display: flex; gap: 0.5rem; margin-top: 1.25rem; }
  button { font: inherit; padding: 0.6rem 1rem; border-radius: 6px; border: 1px solid #0b5cad; background: #0b5cad; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #0b5cad; }
  :focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
  p.note { color: #4f5863; font-size: 0.9rem; }
</style>
</head>
<body>
<main>
  <h1>Connect WhatsApp (sandbox)</h1>
  <p class="note">This window stands in for Facebook’s embedded signup: no Facebook account is used. The sandbox Graph API accepts the business account and number below.</p>
  <form id="signup">
    <label for="waba">WhatsApp Business Account id</label>
    <input id="waba" name="waba" inputmode="numeric" pattern="\\d{1,32}" required>
    <label for="phone">Phone number id</label>
    <input id="phone" name="phone" inputmode="numeric" pattern="\\d{1,32}" required>
    <div class="row">
      <button type="submit" id="finish">Finish</button>
      <button type="button" class="secondary" id="cancel">Cancel</button>
    </div>
  </form>
</main>
<script>
  const cfg = ${data};
  document.getElementById('waba').value = cfg.wabaId;
  document.getElementById('phone').value = cfg.phoneNumberId;
  const send = (message) => window.opener && window.opener.postMessage(message, cfg.origin);
  document.getElementById('signup').addEventListener('submit', (event) => {
    event.preventDefault();
    send(JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'FINISH', version: 3, data: { waba_id: document.getElementById('waba').value, phone_number_id: document.getElementById('phone').value } }));
    send(JSON.stringify({ type: 'SANDBOX_AUTH_RESPONSE', authResponse: { code: cfg.code } }));
    window.close();
  });
  document.getElementById('cancel').addEventListener('click', () => {
    send(JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', version: 3, data: { current_step: 'PHONE_NUMBER_SETUP' } }));
    window.close();
  });
</script>
</body>
</html>
`;
  return { status: 200, html };
}
