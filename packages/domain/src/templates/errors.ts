import { DomainError, type FieldProblem, ValidationError } from '@parley/core';

/** 400 `template_params_mismatch`: the send does not fit the synced definition; `errors` say where. */
export class TemplateParamsMismatchError extends ValidationError {
  constructor(problems: FieldProblem[], detail = 'The template parameters do not match the synced template.') {
    super(problems, detail, 'template_params_mismatch');
  }
}

/** 400 `template_not_found`: no synced template with that name and language on the channel. */
export class TemplateNotFoundError extends DomainError {
  constructor(name: string, language?: string) {
    super(
      400,
      'template_not_found',
      'Bad Request',
      language
        ? `No template "${name}" in language "${language}" is synced for this channel; run POST /v1/templates/sync if it is new.`
        : `No template "${name}" is synced for this channel; run POST /v1/templates/sync if it is new.`,
    );
  }
}
