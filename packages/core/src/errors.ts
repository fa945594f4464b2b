/**
 * Domain errors carry the contract's stable `code`; the API's single error middleware turns them
 * into application/problem+json. Services throw these and never touch HTTP.
 */
export interface FieldProblem {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly errors?: FieldProblem[],
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail ?? title);
    this.name = 'DomainError';
  }
}

export class ValidationError extends DomainError {
  constructor(errors: FieldProblem[], detail = 'The request is not valid.', code = 'validation_error') {
    super(400, code, 'Bad Request', detail, errors);
  }
}

export class NotFoundError extends DomainError {
  constructor(what = 'resource') {
    super(404, 'not_found', 'Not Found', `The ${what} does not exist.`);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(code: 'unauthorized' | 'token_expired' | 'refresh_token_reused' = 'unauthorized', detail?: string) {
    super(401, code, 'Unauthorized', detail ?? 'Missing or invalid credentials.');
  }
}

export class ForbiddenError extends DomainError {
  constructor(detail = 'The credentials lack the scope or role this action needs.') {
    super(403, 'forbidden', 'Forbidden', detail);
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, detail: string) {
    super(409, code, 'Conflict', detail);
  }
}

export class UnprocessableError extends DomainError {
  constructor(code: string, detail: string, extra?: Record<string, unknown>) {
    super(422, code, 'Unprocessable Content', detail, undefined, extra);
  }
}

/**
 * A refusal that says when to come back: 429 for a client over its limit, 503 for a process too
 * busy to take the request now. The error middleware sends `retryAfterSeconds` as `Retry-After`.
 */
export class RetryLaterError extends DomainError {
  constructor(
    status: 429 | 503,
    code: string,
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(status, code, status === 429 ? 'Too Many Requests' : 'Service Unavailable', detail);
  }
}
