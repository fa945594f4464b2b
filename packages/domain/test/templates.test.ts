import { describe, expect, it } from 'vitest';
import type { FieldProblem } from '@parley/core';
import type { Template } from '@parley/db';
import type { TemplateSendComponent } from '@parley/graph';
import {
  renderPlaceholders,
  simpleParamsToComponents,
  type SendComponent,
  type TemplateDefinition,
  TemplateNotFoundError,
  TemplateParamsMismatchError,
  templateSummary,
  type TemplateSendContext,
  type TemplateSendResult,
  validateTemplateSend,
} from '../src/templates';
import type { TemplateView } from '../src/channels';

// The stored row and its API view are accepted as they are, with no mapping by the caller.
const _fromRow = (t: Template): TemplateDefinition => t;
const _fromView = (t: TemplateView): TemplateDefinition => t;

// ---------------------------------------------------------------------------------------------
// Definitions as GET /{waba-id}/message_templates returns them (and the sync stores them)

function template(name: string, components: readonly unknown[], extra: Partial<TemplateDefinition> = {}): TemplateDefinition {
  return { name, language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameterFormat: 'POSITIONAL', components, ...extra };
}

const helloWorld = template('hello_world', [
  {
    type: 'BODY',
    text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
  },
]);

const orderUpdate = template('order_update', [
  { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['#4521'] } },
  {
    type: 'BODY',
    text: 'Hi {{1}}, your order is now {{2}}. Reply to this message if you have any questions.',
    example: { body_text: [['Maria', 'out for delivery']] },
  },
  { type: 'FOOTER', text: 'Parley Sandbox Store' },
  {
    type: 'BUTTONS',
    buttons: [
      { type: 'QUICK_REPLY', text: 'Talk to an agent' },
      { type: 'QUICK_REPLY', text: 'Stop updates' },
    ],
  },
]);

const promoImage = template(
  'promo_image',
  [
    { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['https://scontent.whatsapp.net/v/t61/sandbox-promo.jpg'] } },
    { type: 'BODY', text: 'Your parcel {{1}} ships today.', example: { body_text: [['PX-1']] } },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'URL', text: 'Track', url: 'https://shop.example/track/{{1}}', example: ['https://shop.example/track/PX-1'] },
        { type: 'PHONE_NUMBER', text: 'Call us', phone_number: '+15550100123' },
        { type: 'QUICK_REPLY', text: 'Stop promotions' },
      ],
    },
  ],
  { category: 'MARKETING' },
);

const namedOrder = template(
  'named_order',
  [
    { type: 'HEADER', format: 'TEXT', text: 'News from {{store}}', example: { header_text_named_params: [{ param_name: 'store', example: 'Acme' }] } },
    {
      type: 'BODY',
      text: 'Hi {{first_name}}, your order {{order_id}} has shipped.',
      example: {
        body_text_named_params: [
          { param_name: 'first_name', example: 'Pablo' },
          { param_name: 'order_id', example: 'A-77' },
        ],
      },
    },
  ],
  { parameterFormat: 'NAMED' },
);

// Meta returns authentication buttons from GET as URL buttons pointing at whatsapp.com/otp.
const otpUrl = template(
  'otp_url',
  [
    { type: 'BODY', text: '*{{1}}* is your verification code. For your security, do not share this code.', add_security_recommendation: true },
    { type: 'FOOTER', text: 'This code expires in 10 minutes.', code_expiration_minutes: 10 },
    {
      type: 'BUTTONS',
      buttons: [
        {
          type: 'URL',
          text: 'Copy code',
          url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=10&code=otp{{1}}',
          example: ['https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=10&code=otp123456'],
        },
      ],
    },
  ],
  { category: 'AUTHENTICATION' },
);

// ... and some API versions as the OTP type they were created with.
const otpCopyCode = template(
  'otp_copy_code',
  [
    { type: 'BODY', text: '{{1}} is your code' },
    { type: 'BUTTONS', buttons: [{ type: 'OTP', otp_type: 'COPY_CODE', text: 'Copy code' }] },
  ],
  { category: 'AUTHENTICATION' },
);

const coupon = template(
  'coupon',
  [
    { type: 'BODY', text: 'Here is 25% off your next order.' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'QUICK_REPLY', text: 'Unsubscribe' },
        { type: 'COPY_CODE', example: '25OFF' },
      ],
    },
  ],
  { category: 'MARKETING' },
);

const staticUrl = template('help_link', [
  { type: 'BODY', text: 'Need help with order {{1}}?' },
  { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Help centre', url: 'https://shop.example/help' }] },
]);

const invoice = template('invoice', [
  { type: 'HEADER', format: 'DOCUMENT' },
  { type: 'BODY', text: 'Your invoice is attached.' },
]);

const video = template('video_tour', [{ type: 'HEADER', format: 'VIDEO' }, { type: 'BODY', text: 'Take the tour.' }]);

const storeLocation = template('store_location', [
  { type: 'HEADER', format: 'LOCATION' },
  { type: 'BODY', text: 'Your order is ready for pickup.' },
]);

const staticHeader = template('static_header', [
  { type: 'HEADER', format: 'TEXT', text: 'Shipping update' },
  { type: 'BODY', text: 'Your order {{1}} left the warehouse.' },
]);

const paused = template('order_update', orderUpdate.components, { status: 'PAUSED' });

const carousel = template('carousel_promo', [
  { type: 'BODY', text: 'Our picks for you' },
  { type: 'CAROUSEL', cards: [] },
]);

// ---------------------------------------------------------------------------------------------
// Helpers

const text = (value: string) => ({ type: 'text', text: value });

function components(result: TemplateSendResult): TemplateSendComponent[] {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.problems, null, 2)}`);
  return result.components;
}

function problems(result: TemplateSendResult): FieldProblem[] {
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.components)}`);
  return result.problems;
}

const paths = (result: TemplateSendResult) => problems(result).map((p) => p.path);

function check(t: TemplateDefinition, cs: SendComponent[] | undefined, ctx?: TemplateSendContext) {
  return validateTemplateSend(t, cs === undefined ? {} : { components: cs }, ctx);
}

function orderSend(overrides: { header?: unknown[]; body?: unknown[] } = {}): SendComponent[] {
  return [
    { type: 'header', parameters: overrides.header ?? [text('#4521')] },
    { type: 'body', parameters: overrides.body ?? [text('Maria'), text('out for delivery')] },
  ];
}

// ---------------------------------------------------------------------------------------------
// validateTemplateSend

describe('validateTemplateSend: status and structure', () => {
  it('accepts a body-only template without components, or with an empty list', () => {
    expect(components(check(helloWorld, undefined))).toEqual([]);
    expect(components(check(helloWorld, []))).toEqual([]);
    expect(components(validateTemplateSend(helloWorld, { components: null }))).toEqual([]);
  });

  it('refuses a template that is not APPROVED at `template`, and still reports everything else', () => {
    const r = check(paused, [{ type: 'body', parameters: [text('Maria')] }]);
    expect(problems(r)).toContainEqual({ path: 'template', message: expect.stringMatching(/PAUSED and cannot be sent/) });
    expect(paths(r)).toEqual(['template', 'template.components.0.parameters', 'template.components']);
  });

  it('refuses every other non-approved status too', () => {
    for (const status of ['PENDING', 'REJECTED', 'DISABLED', 'IN_APPEAL']) {
      expect(paths(check({ ...helloWorld, status }, []))).toEqual(['template']);
    }
  });

  it('refuses templates with components Parley cannot build (carousel)', () => {
    expect(problems(check(carousel, []))).toEqual([{ path: 'template', message: expect.stringContaining('CAROUSEL') }]);
  });

  it('reports components that are not an array, not objects, or of unknown type', () => {
    expect(paths(validateTemplateSend(helloWorld, { components: 'body' as unknown as SendComponent[] }))).toEqual(['template.components']);
    expect(paths(check(helloWorld, ['body' as unknown as SendComponent]))).toEqual(['template.components.0']);
    const r = check(orderUpdate, [...orderSend(), { type: 'footer', parameters: [] }, { type: 'buttons' }, { parameters: [] }]);
    expect(problems(r)).toEqual([
      { path: 'template.components.2.type', message: expect.stringMatching(/Unknown component type "footer".*footer is fixed text/) },
      { path: 'template.components.3.type', message: expect.stringMatching(/one component of type "button"/) },
      { path: 'template.components.4.type', message: expect.stringMatching(/needs a type/) },
    ]);
  });

  it('reports a duplicate header or body at the second one', () => {
    const r = check(orderUpdate, [...orderSend(), { type: 'body', parameters: [text('x'), text('y')] }, { type: 'header', parameters: [text('#1')] }]);
    expect(problems(r)).toEqual([
      { path: 'template.components.2', message: expect.stringMatching(/Duplicate body component; the first one is template.components.1/) },
      { path: 'template.components.3', message: expect.stringMatching(/Duplicate header component/) },
    ]);
  });

  it('rejects unknown fields on components and parameters', () => {
    const r = check(orderUpdate, [
      { type: 'header', parameters: [{ type: 'text', text: '#1', bold: true }], extra: 1 },
      { type: 'body', parameters: [text('a'), text('b')] },
    ]);
    expect(paths(r)).toEqual(['template.components.0.extra', 'template.components.0.parameters.0.bold']);
  });

  it('treats a "__proto__" key in a parameter as an unknown field, not as a prototype', () => {
    const param = JSON.parse('{"type": "text", "text": "#1", "__proto__": {"text": "injected"}}') as Record<string, unknown>;
    expect(paths(check(orderUpdate, [{ type: 'header', parameters: [param] }, orderSend()[1]!]))).toEqual(['template.components.0.parameters.0.__proto__']);
  });

  it('reports parameters that are not an array, and parameters that are not objects', () => {
    expect(paths(check(orderUpdate, [{ type: 'header', parameters: text('#1') }, orderSend()[1]!]))).toEqual([
      'template.components.0.parameters',
      'template.components.0.parameters',
    ]);
    expect(paths(check(orderUpdate, [{ type: 'header', parameters: ['#1'] }, orderSend()[1]!]))).toEqual(['template.components.0.parameters.0']);
  });

  it('never stops at the first problem: one request, every problem, each at its own path', () => {
    const r = check(promoImage, [
      { type: 'header', parameters: [{ type: 'image', image: { link: 'http://insecure.example/a.jpg' } }] },
      { type: 'body', parameters: [text('PX 1\n')] },
      { type: 'button', sub_type: 'quick_reply', index: 0, parameters: [text('https://shop.example/track/PX-1')] },
      { type: 'button', sub_type: 'url', index: 7 },
    ]);
    expect(paths(r)).toEqual([
      'template.components.0.parameters.0.image.link',
      'template.components.1.parameters.0.text',
      'template.components.2.sub_type',
      'template.components.2.parameters.0.text',
      'template.components.3.index',
    ]);
  });

  it('puts every path under pathPrefix', () => {
    const r = check(paused, [{ type: 'body', parameters: [] }], { pathPrefix: 'messages.0.template' });
    expect(paths(r)).toEqual(['messages.0.template', 'messages.0.template.components.0.parameters', 'messages.0.template.components']);
    // A template object that is the whole request body, as in POST /v1/templates/validate.
    expect(paths(check(paused, [{ type: 'body', parameters: [] }], { pathPrefix: '' }))).toEqual(['', 'components.0.parameters', 'components']);
  });
});

describe('validateTemplateSend: header', () => {
  it('returns the components of a valid TEXT header + body send, ready for Meta', () => {
    expect(components(check(orderUpdate, orderSend()))).toEqual([
      { type: 'header', parameters: [{ type: 'text', text: '#4521' }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Maria' }, { type: 'text', text: 'out for delivery' }] },
    ]);
  });

  it('requires the header component when the text header has a variable', () => {
    const r = check(orderUpdate, [orderSend()[1]!]);
    expect(problems(r)).toEqual([{ path: 'template.components', message: expect.stringMatching(/header component with one text parameter is required.*Order \{\{1\}\}/) }]);
  });

  it('needs exactly one text parameter', () => {
    expect(problems(check(orderUpdate, orderSend({ header: [text('#1'), text('#2')] })))).toEqual([
      { path: 'template.components.0.parameters', message: expect.stringMatching(/exactly one text parameter, got 2/) },
    ]);
    expect(paths(check(orderUpdate, orderSend({ header: [] })))).toEqual(['template.components.0.parameters']);
    expect(problems(check(orderUpdate, orderSend({ header: [{ type: 'image', image: { link: 'https://a.example/x.png' } }] })))).toEqual([
      { path: 'template.components.0.parameters.0.type', message: expect.stringMatching(/type "text", not "image"/) },
    ]);
  });

  it('limits the header parameter to 60 characters, and the filled header as a whole', () => {
    expect(components(check(orderUpdate, orderSend({ header: [text('x'.repeat(54))] })))).toHaveLength(2);
    expect(problems(check(orderUpdate, orderSend({ header: [text('x'.repeat(61))] })))).toEqual([
      { path: 'template.components.0.parameters.0.text', message: expect.stringMatching(/at most 60 characters; got 61/) },
    ]);
    // "Order " + 55 characters = 61.
    expect(problems(check(orderUpdate, orderSend({ header: [text('x'.repeat(55))] })))).toEqual([
      { path: 'template.components.0.parameters.0.text', message: expect.stringMatching(/header would be 61 characters; Meta allows 60/) },
    ]);
  });

  it('refuses new lines and empty text in the header parameter', () => {
    expect(paths(check(orderUpdate, orderSend({ header: [text('#1\n#2')] })))).toEqual(['template.components.0.parameters.0.text']);
    expect(problems(check(orderUpdate, orderSend({ header: [text('  ')] })))).toEqual([
      { path: 'template.components.0.parameters.0.text', message: expect.stringMatching(/must not be empty/) },
    ]);
  });

  it('refuses header parameters when the template has no variable header', () => {
    expect(problems(check(helloWorld, [{ type: 'header', parameters: [text('x')] }]))).toEqual([
      { path: 'template.components.0.parameters', message: expect.stringMatching(/no header/) },
    ]);
    const r = check(staticHeader, [{ type: 'header', parameters: [text('x')] }, { type: 'body', parameters: [text('A-1')] }]);
    expect(problems(r)).toEqual([{ path: 'template.components.0.parameters', message: expect.stringMatching(/"Shipping update" is fixed text/) }]);
  });

  it('drops an empty header component for a fixed header instead of sending it', () => {
    expect(components(check(staticHeader, [{ type: 'header', parameters: [] }, { type: 'body', parameters: [text('A-1')] }]))).toEqual([
      { type: 'body', parameters: [text('A-1')] },
    ]);
  });

  describe('media headers', () => {
    const body = { type: 'body', parameters: [text('PX-1')] };
    const track = { type: 'button', sub_type: 'url', index: '0', parameters: [text('PX-1')] };
    const image = (image: unknown) => [{ type: 'header', parameters: [{ type: 'image', image }] }, body, track];

    it('accepts an image by https link or by media id', () => {
      expect(components(check(promoImage, image({ link: 'https://cdn.example/p.jpg' })))[0]).toEqual({
        type: 'header',
        parameters: [{ type: 'image', image: { link: 'https://cdn.example/p.jpg' } }],
      });
      expect(components(check(promoImage, image({ id: '1234567890' })))[0]).toEqual({
        type: 'header',
        parameters: [{ type: 'image', image: { id: '1234567890' } }],
      });
    });

    it('requires the media header', () => {
      expect(problems(check(promoImage, [body, track]))).toEqual([
        { path: 'template.components', message: expect.stringMatching(/header component with one image parameter is required for the IMAGE header/) },
      ]);
    });

    it('refuses non-https links, both or neither of id and link, captions, and the wrong media type', () => {
      expect(problems(check(promoImage, image({ link: 'http://cdn.example/p.jpg' })))).toEqual([
        { path: 'template.components.0.parameters.0.image.link', message: expect.stringMatching(/https/) },
      ]);
      expect(paths(check(promoImage, image({ link: 'not a url' })))).toEqual(['template.components.0.parameters.0.image.link']);
      expect(problems(check(promoImage, image({ id: '1', link: 'https://cdn.example/p.jpg' })))).toEqual([
        { path: 'template.components.0.parameters.0.image', message: expect.stringMatching(/either "id".*or "link", not both/) },
      ]);
      expect(paths(check(promoImage, image({})))).toEqual(['template.components.0.parameters.0.image']);
      expect(paths(check(promoImage, image({ link: 'https://cdn.example/p.jpg', caption: 'Hi' })))).toEqual([
        'template.components.0.parameters.0.image.caption',
      ]);
      const wrong = [{ type: 'header', parameters: [{ type: 'video', video: { link: 'https://cdn.example/v.mp4' } }] }, body, track];
      expect(problems(check(promoImage, wrong))).toEqual([
        { path: 'template.components.0.parameters.0.type', message: expect.stringMatching(/type "image", not "video"/) },
      ]);
    });

    it('accepts a document with a filename, and a video', () => {
      const doc = { type: 'document', document: { link: 'https://cdn.example/inv.pdf', filename: 'invoice-0042.pdf' } };
      expect(components(check(invoice, [{ type: 'header', parameters: [doc] }]))).toEqual([{ type: 'header', parameters: [doc] }]);
      expect(paths(check(invoice, [{ type: 'header', parameters: [{ type: 'document', document: { link: 'https://cdn.example/a.pdf', filename: 7 } }] }]))).toEqual([
        'template.components.0.parameters.0.document.filename',
      ]);
      expect(components(check(video, [{ type: 'header', parameters: [{ type: 'video', video: { id: '99' } }] }]))).toHaveLength(1);
    });

    it('accepts a location with numeric (or numeric string) coordinates and checks their range', () => {
      const loc = (location: unknown) => [{ type: 'header', parameters: [{ type: 'location', location }] }];
      expect(components(check(storeLocation, loc({ latitude: '37.4833', longitude: -122.148, name: 'Main St store', address: '1 Main St' })))).toEqual([
        { type: 'header', parameters: [{ type: 'location', location: { latitude: 37.4833, longitude: -122.148, name: 'Main St store', address: '1 Main St' } }] },
      ]);
      expect(problems(check(storeLocation, loc({ longitude: 4 })))).toEqual([
        { path: 'template.components.0.parameters.0.location.latitude', message: 'latitude is required.' },
      ]);
      expect(paths(check(storeLocation, loc({ latitude: 91, longitude: 'east' })))).toEqual([
        'template.components.0.parameters.0.location.latitude',
        'template.components.0.parameters.0.location.longitude',
      ]);
      expect(paths(check(storeLocation, []))).toEqual(['template.components']);
    });
  });
});

describe('validateTemplateSend: body', () => {
  it('needs exactly as many parameters as the body has variables', () => {
    expect(problems(check(orderUpdate, orderSend({ body: [text('Maria')] })))).toEqual([
      { path: 'template.components.1.parameters', message: expect.stringMatching(/2 variables \(\{\{1\}\}, \{\{2\}\}\) and needs exactly 2 parameters, got 1/) },
    ]);
    expect(paths(check(orderUpdate, orderSend({ body: [text('a'), text('b'), text('c')] })))).toEqual(['template.components.1.parameters']);
  });

  it('requires the body component when the body has variables', () => {
    expect(problems(check(orderUpdate, [orderSend()[0]!]))).toEqual([
      { path: 'template.components', message: expect.stringMatching(/body component with 2 parameters is required for \{\{1\}\}, \{\{2\}\}/) },
    ]);
  });

  it('refuses parameters for a body without variables', () => {
    expect(problems(check(helloWorld, [{ type: 'body', parameters: [text('x')] }]))).toEqual([
      { path: 'template.components.0.parameters', message: expect.stringMatching(/no variables/) },
    ]);
  });

  it('accepts text, currency and date_time parameters, and refuses other types', () => {
    const currency = { type: 'currency', currency: { fallback_value: '$12.50', code: 'USD', amount_1000: 12500 } };
    const dateTime = { type: 'date_time', date_time: { fallback_value: 'May 5, 2025' } };
    expect(components(check(orderUpdate, orderSend({ body: [currency, dateTime] })))[1]).toEqual({ type: 'body', parameters: [currency, dateTime] });
    expect(problems(check(orderUpdate, orderSend({ body: [text('a'), { type: 'payload', payload: 'b' }] })))).toEqual([
      { path: 'template.components.1.parameters.1.type', message: expect.stringMatching(/"text" or "currency" or "date_time", not "payload"/) },
    ]);
  });

  it('checks currency and date_time shapes', () => {
    const r = check(
      orderUpdate,
      orderSend({
        body: [
          { type: 'currency', currency: { fallback_value: '$1', code: 'usd', amount_1000: 1.5 } },
          { type: 'date_time', date_time: { fallback_value: '' } },
        ],
      }),
    );
    expect(paths(r)).toEqual([
      'template.components.1.parameters.0.currency.code',
      'template.components.1.parameters.0.currency.amount_1000',
      'template.components.1.parameters.1.date_time.fallback_value',
    ]);
  });

  it("enforces Meta's parameter text rules: no new lines or tabs, at most 4 consecutive spaces, not empty", () => {
    expect(components(check(orderUpdate, orderSend({ body: [text('Maria    Lopez'), text('ok')] })))).toHaveLength(2);
    const r = check(orderUpdate, orderSend({ body: [text('Maria\nLopez'), text('a\tb')] }));
    expect(problems(r)).toEqual([
      { path: 'template.components.1.parameters.0.text', message: 'Body parameter {{1}} must not contain new lines or tabs (Meta rejects them in parameters).' },
      { path: 'template.components.1.parameters.1.text', message: 'Body parameter {{2}} must not contain new lines or tabs (Meta rejects them in parameters).' },
    ]);
    expect(problems(check(orderUpdate, orderSend({ body: [text('Maria     Lopez'), text('')] })))).toEqual([
      { path: 'template.components.1.parameters.0.text', message: expect.stringMatching(/more than 4 consecutive spaces/) },
      { path: 'template.components.1.parameters.1.text', message: 'Body parameter {{2}} must not be empty.' },
    ]);
  });

  it('limits the filled body to 1024 characters', () => {
    const fixed = orderUpdate.components[1] as { text: string };
    const room = 1024 - (fixed.text.length - '{{1}}{{2}}'.length);
    expect(components(check(orderUpdate, orderSend({ body: [text('x'.repeat(room - 1)), text('y')] })))).toHaveLength(2);
    expect(problems(check(orderUpdate, orderSend({ body: [text('x'.repeat(room)), text('y')] })))).toEqual([
      { path: 'template.components.1', message: 'With these parameters the body would be 1025 characters; Meta allows 1024.' },
    ]);
  });

  it('refuses parameter_name in a POSITIONAL template', () => {
    expect(problems(check(orderUpdate, orderSend({ body: [{ ...text('a'), parameter_name: 'first_name' }, text('b')] })))).toEqual([
      { path: 'template.components.1.parameters.0.parameter_name', message: expect.stringMatching(/only for templates with NAMED parameters/) },
    ]);
  });

  describe('NAMED parameters', () => {
    const header = { type: 'header', parameters: [{ type: 'text', text: 'Acme', parameter_name: 'store' }] };
    const named = (name: string, value: string) => ({ type: 'text', text: value, parameter_name: name });

    it('matches parameters by parameter_name, in any order', () => {
      const body = { type: 'body', parameters: [named('order_id', 'A-77'), named('first_name', 'Pablo')] };
      expect(components(check(namedOrder, [header, body]))).toEqual([header, body]);
    });

    it('requires parameter_name, refuses unknown and duplicate names, and reports missing variables', () => {
      const r = check(namedOrder, [
        header,
        { type: 'body', parameters: [text('Pablo'), named('orderId', 'A-77'), named('first_name', 'P'), named('first_name', 'Q')] },
      ]);
      expect(problems(r)).toEqual([
        { path: 'template.components.1.parameters.0.parameter_name', message: expect.stringMatching(/required in a NAMED template: one of "first_name", "order_id"/) },
        { path: 'template.components.1.parameters.1.parameter_name', message: 'The body has no variable {{orderId}}; its variables are {{first_name}}, {{order_id}}.' },
        { path: 'template.components.1.parameters.3.parameter_name', message: expect.stringMatching(/Duplicate parameter_name "first_name"; parameter 2/) },
        { path: 'template.components.1.parameters', message: 'Missing a parameter with parameter_name "order_id" for the body variable {{order_id}}.' },
      ]);
    });

    it('checks the named header variable', () => {
      const body = { type: 'body', parameters: [named('first_name', 'Pablo'), named('order_id', 'A-77')] };
      expect(paths(check(namedOrder, [{ type: 'header', parameters: [text('Acme')] }, body]))).toEqual(['template.components.0.parameters.0.parameter_name']);
      expect(problems(check(namedOrder, [{ type: 'header', parameters: [named('shop', 'Acme')] }, body]))).toEqual([
        { path: 'template.components.0.parameters.0.parameter_name', message: 'The header has no variable {{shop}}; its variables are {{store}}.' },
      ]);
    });
  });
});

describe('validateTemplateSend: buttons', () => {
  const header = { type: 'header', parameters: [{ type: 'image', image: { id: '42' } }] };
  const body = { type: 'body', parameters: [text('PX-1')] };
  const promo = (...buttons: unknown[]) => check(promoImage, [header, body, ...(buttons as SendComponent[])]);
  const track = (parameters: unknown[] = [text('PX-1')], extra: Record<string, unknown> = {}) => ({
    type: 'button',
    sub_type: 'url',
    index: 0,
    parameters,
    ...extra,
  });

  it('accepts a dynamic URL suffix, with the index as a number or a string (sent as a string)', () => {
    expect(components(promo(track()))[2]).toEqual({ type: 'button', sub_type: 'url', index: '0', parameters: [text('PX-1')] });
    expect(components(promo(track(undefined, { index: '0', sub_type: 'URL' })))[2]).toEqual({
      type: 'button',
      sub_type: 'url',
      index: '0',
      parameters: [text('PX-1')],
    });
  });

  it('requires the component for a URL button with a {{1}} suffix', () => {
    expect(problems(promo())).toEqual([
      { path: 'template.components', message: 'A button component with sub_type "url" and index 0 is required for the URL button "Track", with one text parameter.' },
    ]);
  });

  it('needs exactly one text parameter: the suffix, without spaces, not a full URL', () => {
    expect(paths(promo(track([])))).toEqual(['template.components.2.parameters']);
    expect(paths(promo(track([text('a'), text('b')])))).toEqual(['template.components.2.parameters']);
    expect(problems(promo(track([text('PX 1')])))).toEqual([
      { path: 'template.components.2.parameters.0.text', message: 'The URL suffix for button 0 (https://shop.example/track/{{1}}) must not contain spaces.' },
    ]);
    expect(problems(promo(track([text('https://shop.example/track/PX-1')])))).toEqual([
      { path: 'template.components.2.parameters.0.text', message: expect.stringMatching(/only the part that replaces \{\{1\}\}, not a full URL/) },
    ]);
    expect(paths(promo(track([{ type: 'payload', payload: 'PX-1' }])))).toEqual(['template.components.2.parameters.0.type']);
    expect(paths(promo(track([{ ...text('PX-1'), parameter_name: 'x' }])))).toEqual(['template.components.2.parameters.0.parameter_name']);
  });

  it('checks index: required, a non-negative integer, and a button the template has', () => {
    const r = promo(
      track(),
      { type: 'button', sub_type: 'url', parameters: [text('a')] },
      { type: 'button', sub_type: 'url', index: '-1', parameters: [text('a')] },
      { type: 'button', sub_type: 'url', index: 1.5, parameters: [text('a')] },
      { type: 'button', sub_type: 'url', index: 3, parameters: [text('a')] },
    );
    expect(problems(r)).toEqual([
      { path: 'template.components.3.index', message: expect.stringMatching(/index is required/) },
      { path: 'template.components.4.index', message: expect.stringMatching(/non-negative integer/) },
      { path: 'template.components.5.index', message: expect.stringMatching(/non-negative integer/) },
      { path: 'template.components.6.index', message: 'This template has no button at index 3; it has 3 buttons (index 0 to 2).' },
    ]);
    expect(problems(check(helloWorld, [{ type: 'button', sub_type: 'quick_reply', index: 0, parameters: [] }]))).toEqual([
      { path: 'template.components.0.index', message: 'This template has no buttons; there is no button at index 0.' },
    ]);
  });

  it('checks sub_type against the button at index', () => {
    expect(problems(promo(track(undefined, { sub_type: 'quick_reply' })))).toEqual([
      { path: 'template.components.2.sub_type', message: 'Button 0 is a URL button, so sub_type must be "url", not "quick_reply".' },
    ]);
    expect(problems(promo(track(undefined, { sub_type: undefined })))).toEqual([
      { path: 'template.components.2.sub_type', message: 'sub_type is required; button 0 (URL) needs "url".' },
    ]);
  });

  it('refuses a second component for the same button', () => {
    expect(problems(promo(track(), track(undefined, { index: '0' })))).toEqual([
      { path: 'template.components.3.index', message: 'Button 0 already has a component (template.components.2); send one component per button.' },
    ]);
  });

  it('refuses a component for a phone number button', () => {
    expect(problems(promo(track(), { type: 'button', sub_type: 'url', index: 1, parameters: [] }))).toEqual([
      { path: 'template.components.3', message: expect.stringMatching(/PHONE_NUMBER button; it takes no parameters/) },
    ]);
  });

  it('refuses a parameter for a static URL button, and needs no component for it', () => {
    expect(components(check(staticUrl, [{ type: 'body', parameters: [text('A-1')] }]))).toHaveLength(1);
    const r = check(staticUrl, [
      { type: 'body', parameters: [text('A-1')] },
      { type: 'button', sub_type: 'url', index: 0, parameters: [text('faq')] },
    ]);
    expect(problems(r)).toEqual([
      { path: 'template.components.1.parameters', message: expect.stringMatching(/fixed URL https:\/\/shop.example\/help; it has no \{\{1\}\} suffix/) },
    ]);
  });

  describe('quick replies', () => {
    const reply = (index: number | string, parameters: unknown[]) => ({ type: 'button', sub_type: 'quick_reply', index, parameters });

    it('are optional and take one payload parameter', () => {
      expect(components(check(orderUpdate, orderSend()))).toHaveLength(2);
      const cs = components(check(orderUpdate, [...orderSend(), reply(1, [{ type: 'payload', payload: 'STOP:4521' }])]));
      expect(cs[2]).toEqual({ type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: 'STOP:4521' }] });
    });

    it('refuses no payload, an empty payload, or a text parameter', () => {
      const r = check(orderUpdate, [
        ...orderSend(),
        reply(0, []),
        reply('1', [{ type: 'payload', payload: '' }]),
      ]);
      expect(problems(r)).toEqual([
        { path: 'template.components.2.parameters', message: 'Button 0 (QUICK_REPLY) takes exactly one payload parameter, got 0.' },
        { path: 'template.components.3.parameters.0.payload', message: 'The payload of button 1 must not be empty.' },
      ]);
      expect(paths(check(orderUpdate, [...orderSend(), reply(0, [text('x')])]))).toEqual(['template.components.2.parameters.0.type']);
    });
  });

  describe('authentication templates', () => {
    const code = (value: string, index: number | string = 0, subType = 'url') => ({ type: 'button', sub_type: subType, index, parameters: [text(value)] });

    it('send the code in the body and in the OTP URL button (sub_type url)', () => {
      const cs = components(check(otpUrl, [{ type: 'body', parameters: [text('123456')] }, code('123456')]));
      expect(cs).toEqual([
        { type: 'body', parameters: [text('123456')] },
        { type: 'button', sub_type: 'url', index: '0', parameters: [text('123456')] },
      ]);
    });

    it('require the OTP button component', () => {
      expect(problems(check(otpUrl, [{ type: 'body', parameters: [text('123456')] }]))).toEqual([
        { path: 'template.components', message: expect.stringMatching(/sub_type "url" and index 0 is required for the URL button "Copy code"/) },
      ]);
    });

    it('limit the code to 15 characters without spaces', () => {
      const r = check(otpUrl, [{ type: 'body', parameters: [text('1234567890123456')] }, code('123 456')]);
      expect(problems(r)).toEqual([
        { path: 'template.components.0.parameters.0.text', message: expect.stringMatching(/at most 15 characters \(Meta's limit for authentication codes\); got 16/) },
        { path: 'template.components.1.parameters.0.text', message: 'The code for button 0 must not contain spaces.' },
      ]);
    });

    it('treat OTP-typed definition buttons (COPY_CODE otp_type) the same, with sub_type url', () => {
      expect(components(check(otpCopyCode, [{ type: 'body', parameters: [text('884213')] }, code('884213')]))).toHaveLength(2);
      expect(problems(check(otpCopyCode, [{ type: 'body', parameters: [text('884213')] }, code('884213', '0', 'copy_code')]))).toEqual([
        { path: 'template.components.1.sub_type', message: 'Button 0 is a OTP button, so sub_type must be "url", not "copy_code".' },
      ]);
    });
  });

  describe('coupon (COPY_CODE) buttons', () => {
    const copy = (parameters: unknown[], subType = 'copy_code') => ({ type: 'button', sub_type: subType, index: 1, parameters });

    it('need one coupon_code parameter of at most 15 characters', () => {
      expect(components(check(coupon, [copy([{ type: 'coupon_code', coupon_code: '25OFF' }], 'COPY_CODE')]))).toEqual([
        { type: 'button', sub_type: 'copy_code', index: '1', parameters: [{ type: 'coupon_code', coupon_code: '25OFF' }] },
      ]);
      expect(paths(check(coupon, []))).toEqual(['template.components']);
      expect(problems(check(coupon, [copy([{ type: 'coupon_code', coupon_code: 'SUMMER-SALE-2025' }])]))).toEqual([
        { path: 'template.components.0.parameters.0.coupon_code', message: expect.stringMatching(/at most 15 characters/) },
      ]);
      expect(paths(check(coupon, [copy([text('25OFF')])]))).toEqual(['template.components.0.parameters.0.type']);
    });
  });
});

describe('validateTemplateSend: Parley placeholders in parameter values', () => {
  const ctx = { recipientParams: { name: 'Ana', order: 'A-1' }, defaultParams: { name: 'there', status: 'shipped', order: 'ignored' } };

  it('fills from the recipient first, then from the defaults, with or without spaces', () => {
    const cs = components(check(orderUpdate, orderSend({ header: [text('#{{order}}')], body: [text('{{ name }}'), text('{{  status  }}')] }), ctx));
    expect(cs).toEqual([
      { type: 'header', parameters: [text('#A-1')] },
      { type: 'body', parameters: [text('Ana'), text('shipped')] },
    ]);
  });

  it('falls back to the default when the recipient value is empty, and supports dotted keys', () => {
    const cs = components(
      check(orderUpdate, orderSend({ body: [text('{{ name }}'), text('{{ contact.tier }}')] }), {
        recipientParams: { name: '' },
        defaultParams: { name: 'there', 'contact.tier': 'gold' },
      }),
    );
    expect(cs[1]).toEqual({ type: 'body', parameters: [text('there'), text('gold')] });
  });

  it('reports a placeholder without a value at the parameter, naming the key, instead of sending it empty', () => {
    const r = check(orderUpdate, orderSend({ body: [text('Hi {{ name }} {{ surname }}'), text('{{ eta }}')] }), ctx);
    expect(problems(r)).toEqual([
      { path: 'template.components.1.parameters.0.text', message: expect.stringMatching(/No value for placeholder \{\{ surname \}\}/) },
      { path: 'template.components.1.parameters.1.text', message: expect.stringMatching(/No value for placeholder \{\{ eta \}\}.*recipient's params.*default params/) },
    ]);
    // Without any params at all, each key is named once.
    expect(problems(check(orderUpdate, orderSend({ body: [text('{{a}} {{a}} {{b}}'), text('x')] })))).toEqual([
      { path: 'template.components.1.parameters.0.text', message: expect.stringContaining('{{ a }}') },
      { path: 'template.components.1.parameters.0.text', message: expect.stringContaining('{{ b }}') },
    ]);
  });

  it("leaves Meta-style {{1}} text in a value alone, and does not expand a filled-in value's own braces", () => {
    const cs = components(check(orderUpdate, orderSend({ body: [text('{{ name }}'), text('{{1}} literally')] }), { recipientParams: { name: '{{ status }}' }, defaultParams: { status: 'x' } }));
    expect(cs[1]).toEqual({ type: 'body', parameters: [text('{{ status }}'), text('{{1}} literally')] });
  });

  it('fills links, payloads, filenames, coordinates and URL suffixes, and leaves type and parameter_name alone', () => {
    const values = { recipientParams: { img: 'https://cdn.example/ana.jpg', parcel: 'PX-9', stop: 'STOP:9', store: 'Acme', tag: 'store' } };
    const cs = components(
      check(
        promoImage,
        [
          { type: 'header', parameters: [{ type: 'image', image: { link: '{{ img }}' } }] },
          { type: 'body', parameters: [text('{{ parcel }}')] },
          { type: 'button', sub_type: 'url', index: 0, parameters: [text('{{ parcel }}')] },
          { type: 'button', sub_type: 'quick_reply', index: 2, parameters: [{ type: 'payload', payload: '{{ stop }}' }] },
        ],
        values,
      ),
    );
    expect(cs).toEqual([
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example/ana.jpg' } }] },
      { type: 'body', parameters: [text('PX-9')] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [text('PX-9')] },
      { type: 'button', sub_type: 'quick_reply', index: '2', parameters: [{ type: 'payload', payload: 'STOP:9' }] },
    ]);

    const doc = [{ type: 'header', parameters: [{ type: 'document', document: { link: 'https://cdn.example/{{ file }}', filename: '{{ file }}' } }] }];
    expect(components(check(invoice, doc, { defaultParams: { file: 'inv-9.pdf' } }))[0]).toEqual({
      type: 'header',
      parameters: [{ type: 'document', document: { link: 'https://cdn.example/inv-9.pdf', filename: 'inv-9.pdf' } }],
    });
    const loc = [{ type: 'header', parameters: [{ type: 'location', location: { latitude: '{{ lat }}', longitude: '{{ lng }}' } }] }];
    expect(components(check(storeLocation, loc, { recipientParams: { lat: '52.37', lng: '4.89' } }))[0]).toEqual({
      type: 'header',
      parameters: [{ type: 'location', location: { latitude: 52.37, longitude: 4.89 } }],
    });
    // parameter_name is structure, not content: a placeholder there is not filled.
    const named = [
      { type: 'header', parameters: [{ type: 'text', text: '{{ store }}', parameter_name: '{{ tag }}' }] },
      { type: 'body', parameters: [{ type: 'text', text: 'a', parameter_name: 'first_name' }, { type: 'text', text: 'b', parameter_name: 'order_id' }] },
    ];
    expect(paths(check(namedOrder, named, values))).toEqual(['template.components.0.parameters.0.parameter_name']);
  });

  it('reports missing placeholders in nested values at their own paths, without extra noise', () => {
    const r = check(promoImage, [
      { type: 'header', parameters: [{ type: 'image', image: { link: '{{ img }}' } }] },
      { type: 'body', parameters: [text('{{ parcel }}')] },
      { type: 'button', sub_type: 'url', index: 0, parameters: [text('{{ parcel }}')] },
    ]);
    expect(problems(r)).toEqual([
      { path: 'template.components.0.parameters.0.image.link', message: expect.stringContaining('{{ img }}') },
      { path: 'template.components.1.parameters.0.text', message: expect.stringContaining('{{ parcel }}') },
      { path: 'template.components.2.parameters.0.text', message: expect.stringContaining('{{ parcel }}') },
    ]);
  });

  it("checks Meta's rules on the filled-in value, not the template of it", () => {
    const r = check(
      promoImage,
      [
        { type: 'header', parameters: [{ type: 'image', image: { link: '{{ img }}' } }] },
        { type: 'body', parameters: [text('{{ note }}')] },
        { type: 'button', sub_type: 'url', index: 0, parameters: [text('{{ url }}')] },
      ],
      { recipientParams: { img: 'http://cdn.example/a.jpg', note: 'line one\nline two', url: 'https://shop.example/track/PX-1' } },
    );
    expect(paths(r)).toEqual([
      'template.components.0.parameters.0.image.link',
      'template.components.1.parameters.0.text',
      'template.components.2.parameters.0.text',
    ]);
  });

  it('renderPlaceholders is exported for previews and lists the keys without a value', () => {
    expect(renderPlaceholders('Hi {{ name }}, {{ x }}', { defaultParams: { name: 'Ana' } })).toEqual({ text: 'Hi Ana, {{ x }}', missing: ['x'] });
  });
});

describe('validateTemplateSend: output', () => {
  it('validates again unchanged: the rendered components are a valid send themselves', () => {
    const send: SendComponent[] = [
      { type: 'header', parameters: [{ type: 'image', image: { link: '{{ img }}' } }] },
      { type: 'body', parameters: [text('{{ parcel }}')] },
      { type: 'button', sub_type: 'url', index: 0, parameters: [text('PX-1')] },
    ];
    const first = components(check(promoImage, send, { recipientParams: { img: 'https://cdn.example/a.jpg', parcel: 'PX-1' } }));
    expect(components(check(promoImage, first))).toEqual(first);
  });
});

// ---------------------------------------------------------------------------------------------
// simpleParamsToComponents

describe('simpleParamsToComponents', () => {
  it('builds a positional send: 1, 2, ... for the body, header, button.<index>', () => {
    const r = simpleParamsToComponents(orderUpdate, { header: '#4521', 1: 'Maria', 2: 'out for delivery', 'button.1': 'STOP:4521' });
    expect(components(r)).toEqual([
      { type: 'header', parameters: [text('#4521')] },
      { type: 'body', parameters: [text('Maria'), text('out for delivery')] },
      { type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: 'STOP:4521' }] },
    ]);
    expect(components(validateTemplateSend(orderUpdate, { components: components(r) }))).toEqual(components(r));
  });

  it('needs nothing for a template without variables, and refuses any key then', () => {
    expect(components(simpleParamsToComponents(helloWorld, {}))).toEqual([]);
    expect(problems(simpleParamsToComponents(helloWorld, { 1: 'x' }))).toEqual([
      { path: 'meta.1', message: 'Unknown parameter "1"; this template takes no parameters.' },
    ]);
  });

  it('reports missing variables and unknown keys at meta.<key>', () => {
    const r = simpleParamsToComponents(orderUpdate, { 1: 'Maria', first_name: 'Maria', 'button.9': 'x' });
    expect(problems(r)).toEqual([
      { path: 'meta.header', message: 'Missing a value for {{1}} in the header "Order {{1}}" (key "header").' },
      { path: 'meta.2', message: 'Missing a value for {{2}} in the body.' },
      { path: 'meta.first_name', message: 'Unknown parameter "first_name"; this template takes "header", "1", "2", "button.0", "button.1".' },
      { path: 'meta.button.9', message: 'This template has no button at index 9.' },
    ]);
  });

  it("maps the validator's problems on a value back to its key", () => {
    const r = simpleParamsToComponents(orderUpdate, { header: 'x'.repeat(61), 1: 'Maria\nLopez', 2: '' });
    expect(problems(r)).toEqual([
      { path: 'meta.header', message: expect.stringMatching(/at most 60 characters/) },
      { path: 'meta.1', message: expect.stringMatching(/new lines/) },
      { path: 'meta.2', message: 'Body parameter {{2}} must not be empty.' },
    ]);
  });

  it('takes the media header as a link (or a numeric media id) and the URL suffix as button.<index>', () => {
    expect(components(simpleParamsToComponents(promoImage, { header: 'https://cdn.example/p.jpg', 1: 'PX-1', 'button.0': 'PX-1' }))).toEqual([
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example/p.jpg' } }] },
      { type: 'body', parameters: [text('PX-1')] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [text('PX-1')] },
    ]);
    expect(components(simpleParamsToComponents(promoImage, { header: '1234567890', 1: 'PX-1', 'button.0': 'PX-1' }))[0]).toEqual({
      type: 'header',
      parameters: [{ type: 'image', image: { id: '1234567890' } }],
    });
    expect(problems(simpleParamsToComponents(promoImage, { header: 'http://cdn.example/p.jpg', 1: 'PX-1', 'button.0': 'PX 1' }))).toEqual([
      { path: 'meta.header', message: expect.stringMatching(/https/) },
      { path: 'meta.button.0', message: expect.stringMatching(/must not contain spaces/) },
    ]);
    expect(problems(simpleParamsToComponents(promoImage, { 1: 'PX-1' }))).toEqual([
      { path: 'meta.header', message: expect.stringMatching(/Missing the header image/) },
      { path: 'meta.button.0', message: expect.stringMatching(/Missing a value for button 0 \(URL "Track"\): The URL suffix that replaces \{\{1\}\}/) },
    ]);
  });

  it('refuses values for buttons that take none', () => {
    const r = simpleParamsToComponents(promoImage, { header: 'https://cdn.example/p.jpg', 1: 'PX-1', 'button.0': 'PX-1', 'button.1': '+1555' });
    expect(problems(r)).toEqual([{ path: 'meta.button.1', message: 'Button 1 (PHONE_NUMBER "Call us") takes no value.' }]);
    expect(problems(simpleParamsToComponents(staticUrl, { 1: 'A-1', 'button.0': 'faq' }))).toEqual([
      { path: 'meta.button.0', message: 'Button 0 (URL "Help centre") links to the fixed URL https://shop.example/help and takes no value.' },
    ]);
  });

  it('takes the variable names of a NAMED template, and the header by "header" or by its variable name', () => {
    const expected = [
      { type: 'header', parameters: [{ type: 'text', text: 'Acme', parameter_name: 'store' }] },
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Pablo', parameter_name: 'first_name' },
          { type: 'text', text: 'A-77', parameter_name: 'order_id' },
        ],
      },
    ];
    expect(components(simpleParamsToComponents(namedOrder, { header: 'Acme', first_name: 'Pablo', order_id: 'A-77' }))).toEqual(expected);
    expect(components(simpleParamsToComponents(namedOrder, { store: 'Acme', first_name: 'Pablo', order_id: 'A-77' }))).toEqual(expected);
    expect(problems(simpleParamsToComponents(namedOrder, { 1: 'Pablo', first_name: 'Pablo' }))).toEqual([
      { path: 'meta.header', message: 'Missing a value for {{store}} in the header "News from {{store}}" (key "header" or "store").' },
      { path: 'meta.order_id', message: 'Missing a value for {{order_id}} in the body.' },
      { path: 'meta.1', message: expect.stringMatching(/Unknown parameter "1"; this template takes "header", "store", "first_name", "order_id"/) },
    ]);
  });

  it('fills an authentication code button from the body code, unless given', () => {
    const both = [
      { type: 'body', parameters: [text('123456')] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [text('123456')] },
    ];
    expect(components(simpleParamsToComponents(otpUrl, { 1: '123456' }))).toEqual(both);
    expect(components(simpleParamsToComponents(otpCopyCode, { 1: '123456', 'button.0': '123456' }))).toEqual(both);
    // The missing code is one problem, not one per place it goes.
    expect(problems(simpleParamsToComponents(otpUrl, {}))).toEqual([{ path: 'meta.1', message: 'Missing a value for {{1}} in the body.' }]);
    expect(problems(simpleParamsToComponents(otpUrl, { 1: '12 34' }))).toEqual([{ path: 'meta.1', message: 'The code for button 0 must not contain spaces.' }]);
  });

  it('takes a coupon code and a location header', () => {
    expect(components(simpleParamsToComponents(coupon, { 'button.1': '25OFF' }))).toEqual([
      { type: 'button', sub_type: 'copy_code', index: '1', parameters: [{ type: 'coupon_code', coupon_code: '25OFF' }] },
    ]);
    expect(components(simpleParamsToComponents(storeLocation, { header: '52.37, 4.89' }))).toEqual([
      { type: 'header', parameters: [{ type: 'location', location: { latitude: 52.37, longitude: 4.89 } }] },
    ]);
    expect(paths(simpleParamsToComponents(storeLocation, { header: 'Amsterdam' }))).toEqual(['meta.header']);
  });

  it('fills placeholders from recipient then default params, reporting a missing one at meta.<key>', () => {
    const ctx = { recipientParams: { name: 'Ana' }, defaultParams: { name: 'there', status: 'shipped' } };
    expect(components(simpleParamsToComponents(orderUpdate, { header: '#1', 1: '{{ name }}', 2: '{{ status }}' }, ctx))[1]).toEqual({
      type: 'body',
      parameters: [text('Ana'), text('shipped')],
    });
    expect(problems(simpleParamsToComponents(orderUpdate, { header: '#{{ order }}', 1: '{{ name }}', 2: 'x' }, ctx))).toEqual([
      { path: 'meta.header', message: expect.stringContaining('{{ order }}') },
    ]);
  });

  it('accepts numbers, refuses objects, and reports a template that cannot be sent at meta.template', () => {
    expect(components(simpleParamsToComponents(staticUrl, { 1: 42 }))).toEqual([{ type: 'body', parameters: [text('42')] }]);
    expect(problems(simpleParamsToComponents(staticUrl, { 1: { a: 1 } }))).toEqual([{ path: 'meta.1', message: 'Must be a string.' }]);
    expect(problems(simpleParamsToComponents(paused, { header: '#1', 1: 'a', 2: 'b' }))).toEqual([
      { path: 'meta.template', message: expect.stringMatching(/PAUSED and cannot be sent/) },
    ]);
  });

  it('puts every path under pathPrefix', () => {
    expect(paths(simpleParamsToComponents(staticUrl, { x: '1' }, { pathPrefix: 'messages.0.meta' }))).toEqual(['messages.0.meta.1', 'messages.0.meta.x']);
    expect(paths(simpleParamsToComponents(staticUrl, { 1: 'a\nb' }, { pathPrefix: '' }))).toEqual(['1']);
  });
});

// ---------------------------------------------------------------------------------------------
// templateSummary

describe('templateSummary', () => {
  it('lists header, body variables with their examples, buttons and the shorthand keys', () => {
    const s = templateSummary(promoImage);
    expect(s).toMatchObject({
      name: 'promo_image',
      parameterFormat: 'POSITIONAL',
      sendable: true,
      reasons: [],
      header: { format: 'IMAGE', text: null, variable: null, parameterType: 'image' },
      body: { text: 'Your parcel {{1}} ships today.', variables: [{ name: '1', example: 'PX-1' }] },
      footer: null,
    });
    expect(s.buttons).toEqual([
      { index: 0, type: 'URL', kind: 'url', text: 'Track', url: 'https://shop.example/track/{{1}}', subType: 'url', takesParameter: true, parameterType: 'text', required: true, example: 'PX-1' },
      { index: 1, type: 'PHONE_NUMBER', kind: 'fixed', text: 'Call us', url: null, subType: null, takesParameter: false, parameterType: null, required: false, example: null },
      { index: 2, type: 'QUICK_REPLY', kind: 'quick_reply', text: 'Stop promotions', url: null, subType: 'quick_reply', takesParameter: true, parameterType: 'payload', required: false, example: null },
    ]);
    expect(s.params.map(({ key, target, required }) => ({ key, target, required }))).toEqual([
      { key: 'header', target: 'header', required: true },
      { key: '1', target: 'body', required: true },
      { key: 'button.0', target: 'button', required: true },
      { key: 'button.2', target: 'button', required: false },
    ]);
  });

  it('describes text headers, fixed or with a variable, and the footer', () => {
    expect(templateSummary(orderUpdate)).toMatchObject({
      header: { format: 'TEXT', text: 'Order {{1}}', variable: { name: '1', example: '#4521' }, parameterType: 'text' },
      body: { variables: [{ name: '1', example: 'Maria' }, { name: '2', example: 'out for delivery' }] },
      footer: 'Parley Sandbox Store',
    });
    expect(templateSummary(staticHeader).header).toEqual({ format: 'TEXT', text: 'Shipping update', variable: null, parameterType: null });
    expect(templateSummary(helloWorld)).toMatchObject({ header: null, body: { variables: [] }, buttons: [], params: [] });
  });

  it('names NAMED variables, and the header alias', () => {
    const s = templateSummary(namedOrder);
    expect(s.header?.variable).toEqual({ name: 'store', example: 'Acme' });
    expect(s.body?.variables).toEqual([
      { name: 'first_name', example: 'Pablo' },
      { name: 'order_id', example: 'A-77' },
    ]);
    expect(s.params[0]).toMatchObject({ key: 'header', aliases: ['store'], required: true });
  });

  it('marks the OTP button and its shorthand default', () => {
    const s = templateSummary(otpUrl);
    expect(s.buttons[0]).toMatchObject({ kind: 'otp', subType: 'url', parameterType: 'text', required: true, example: '123456' });
    expect(s.params[1]).toMatchObject({ key: 'button.0', required: false, description: expect.stringContaining('Defaults to the body code') });
    expect(templateSummary(coupon).buttons[1]).toMatchObject({ type: 'COPY_CODE', subType: 'copy_code', parameterType: 'coupon_code', required: true });
  });

  it('says why a template cannot be sent', () => {
    expect(templateSummary(paused)).toMatchObject({ sendable: false, reasons: [expect.stringMatching(/PAUSED/)] });
    expect(templateSummary(carousel)).toMatchObject({ sendable: false, reasons: [expect.stringMatching(/CAROUSEL/)] });
  });

  it('survives a malformed stored definition', () => {
    const broken = template('broken', [null, 'x', { type: 'BODY' }, { type: 'BUTTONS', buttons: [null] }]);
    expect(() => templateSummary(broken)).not.toThrow();
    expect(components(check(broken, []))).toEqual([]);
  });
});

describe('errors', () => {
  it('carry the contract codes', () => {
    const mismatch = new TemplateParamsMismatchError([{ path: 'template.components', message: 'x' }]);
    expect(mismatch).toMatchObject({ status: 400, code: 'template_params_mismatch', errors: [{ path: 'template.components', message: 'x' }] });
    expect(new TemplateNotFoundError('order_update', 'en_US')).toMatchObject({ status: 400, code: 'template_not_found' });
  });
});
