// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { FACEBOOK_ORIGINS, readSignupMessage, SignupCancelled, signupCollector } from './signup';

const finish = JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'FINISH', version: 3, data: { waba_id: '111', phone_number_id: '222' } });

function post(origin: string, data: unknown) {
  window.dispatchEvent(new MessageEvent('message', { origin, data }));
}

describe('embedded signup messages', () => {
  it('are read only from the exact allowed origins', () => {
    expect(readSignupMessage({ origin: 'https://www.facebook.com', data: finish }, FACEBOOK_ORIGINS)).toMatchObject({ event: 'FINISH' });
    expect(readSignupMessage({ origin: 'https://web.facebook.com', data: finish }, FACEBOOK_ORIGINS)).toMatchObject({ event: 'FINISH' });
    for (const origin of ['https://www.facebook.com.evil.test', 'http://www.facebook.com', 'https://facebook.com', 'https://evil.test']) {
      expect(readSignupMessage({ origin, data: finish }, FACEBOOK_ORIGINS)).toBeUndefined();
    }
    expect(readSignupMessage({ origin: 'https://www.facebook.com', data: 'not json' }, FACEBOOK_ORIGINS)).toBeUndefined();
  });

  it('resolve with the code and the ids, whichever comes first, ignoring other origins', async () => {
    const collector = signupCollector(['http://127.0.0.1:4010']);
    post('https://evil.test', JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'FINISH', data: { waba_id: '666', phone_number_id: '666' } }));
    post('http://127.0.0.1:4010', finish);
    post('http://127.0.0.1:4010', JSON.stringify({ type: 'SANDBOX_AUTH_RESPONSE', authResponse: { code: 'sandbox-1' } }));
    await expect(collector.result).resolves.toEqual({ code: 'sandbox-1', wabaId: '111', phoneNumberId: '222' });
  });

  it('take the code from FB.login and reject when the person cancels', async () => {
    const done = signupCollector(FACEBOOK_ORIGINS);
    done.setCode('fb-code');
    post('https://www.facebook.com', finish);
    await expect(done.result).resolves.toEqual({ code: 'fb-code', wabaId: '111', phoneNumberId: '222' });

    const cancelled = signupCollector(FACEBOOK_ORIGINS);
    post('https://web.facebook.com', JSON.stringify({ type: 'WA_EMBEDDED_SIGNUP', event: 'CANCEL', data: { current_step: 'PHONE_NUMBER_SETUP' } }));
    await expect(cancelled.result).rejects.toBeInstanceOf(SignupCancelled);
    await expect(cancelled.result).rejects.toThrow('phone number setup');
  });
});
