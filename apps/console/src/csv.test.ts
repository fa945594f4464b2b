import { describe, expect, it } from 'vitest';
import { attachProblems, parseRecipients, placeholderComponents, requireParams } from './csv';

describe('recipients from CSV', () => {
  it('reads the phone and each parameter column, keeping bad rows with their problem', () => {
    const { rows, error } = parseRecipients('phone,header,1,2\n+50212345678,#4521,Ana,"out for delivery, today"\nnot-a-phone,#1,Beto,ok\n50299990000,,Carla,\n');
    expect(error).toBeNull();
    expect(rows).toEqual([
      { line: 2, phone: '+50212345678', params: { header: '#4521', '1': 'Ana', '2': 'out for delivery, today' }, problems: [] },
      { line: 3, phone: 'not-a-phone', params: { header: '#1', '1': 'Beto', '2': 'ok' }, problems: ['phone: “not-a-phone” is not a phone number'] },
      { line: 4, phone: '50299990000', params: { '1': 'Carla' }, problems: [] },
    ]);
  });

  it('needs a header naming phone, and at least one row', () => {
    expect(parseRecipients('+50212345678,Ana').error).toMatch(/phone/);
    expect(parseRecipients('phone,1\n').error).toBe('The CSV has no recipients.');
  });

  it('puts the validate endpoint’s problems on the rows they name', () => {
    const { rows } = parseRecipients('phone,1\n+50211111111,Ana\n+50222222222,\n');
    const general = attachProblems(rows, [
      { path: 'recipients.1.params.2', message: 'Missing value for {{2}}.' },
      { path: 'template.name', message: 'Unknown template.' },
    ]);
    expect(rows[0]!.problems).toEqual([]);
    expect(rows[1]!.problems).toEqual(['params.2: Missing value for {{2}}.']);
    expect(general).toEqual(['template.name: Unknown template.']);
  });
});

describe('a template as a broadcast sends it', () => {
  it('fills each variable from the column of the same name', () => {
    const components = [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
      { type: 'BODY', text: 'Hi {{1}}, your order is now {{2}}.' },
      { type: 'FOOTER', text: 'Store' },
    ];
    expect(placeholderComponents({ parameterFormat: 'POSITIONAL', components })).toEqual([
      { type: 'header', parameters: [{ type: 'text', text: '{{header}}' }] },
      { type: 'body', parameters: [{ type: 'text', text: '{{1}}' }, { type: 'text', text: '{{2}}' }] },
    ]);
    expect(placeholderComponents({ parameterFormat: 'NAMED', components: [{ type: 'BODY', text: 'Hi {{first_name}}' }] })).toEqual([
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: '{{first_name}}' }] },
    ]);
  });
});

describe('rows that leave a variable empty', () => {
  it('are marked, naming the variable', () => {
    const { rows } = parseRecipients('phone,header,1,2\n+50211111111,#1,Ana,ok\n+50222222222,#2,Beto,\n');
    requireParams(rows, ['header', '1', '2']);
    expect(rows.map((r) => r.problems)).toEqual([[], ['params.2: no value for {{2}}']]);
  });
});
