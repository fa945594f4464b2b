import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP exchange on node:http with keep-alive agents. Not fetch: a broadcast sends up to 1,000
 * requests a second, and fetch's web streams, AbortSignals and Headers objects cost the worker
 * about as much CPU as everything else it does per send together (measured: bench/broadcast).
 * node:http also tells whether the request left this process, which decides whether a failed
 * send may be retried.
 */
export interface HttpExchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** From the start of the request to the last byte of the answer. */
  timeoutMs: number;
  /** Answers with a longer body fail with `HttpBodyTooLarge`. */
  maxBytes?: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The exchange failed without a complete answer. */
export class HttpTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    /** The whole request had been handed to the network: the peer may have acted on it. */
    readonly requestSent: boolean,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

export class HttpBodyTooLarge extends Error {
  constructor() {
    super('The answer is larger than allowed.');
    this.name = 'HttpBodyTooLarge';
  }
}

export class HttpAgents {
  private readonly http = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  private readonly https = new https.Agent({ keepAlive: true, scheduling: 'lifo' });

  exchange(spec: HttpExchange): Promise<HttpAnswer> {
    const secure = spec.url.protocol === 'https:';
    const headers: Record<string, string | number> = { ...spec.headers };
    if (spec.body !== undefined) headers['content-length'] = Buffer.byteLength(spec.body);
    return new Promise<HttpAnswer>((resolve, reject) => {
      // The request left this process once it was all written ('finish') on a socket that did
      // connect; 'finish' alone does not prove a connection was made.
      let finished = false;
      let connected = false;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = (secure ? https : http).request(
        spec.url,
        { method: spec.method, headers, agent: secure ? this.https : this.http },
        (res) => {
          const declared = Number(res.headers['content-length']);
          if (spec.maxBytes !== undefined && Number.isFinite(declared) && declared > spec.maxBytes) {
            fail(new HttpBodyTooLarge());
            return;
          }
          const chunks: Buffer[] = [];
          let length = 0;
          res.on('data', (chunk: Buffer) => {
            length += chunk.length;
            if (spec.maxBytes !== undefined && length > spec.maxBytes) {
              fail(new HttpBodyTooLarge());
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length) });
          });
          res.on('error', (err) => fail(new HttpTransportError('network', true, err.message, (err as NodeJS.ErrnoException).code)));
          res.on('close', () => {
            if (!res.complete) fail(new HttpTransportError('network', true, 'The connection closed mid-answer.', 'ECONNRESET'));
          });
        },
      );
      const timer = setTimeout(() => fail(new HttpTransportError('timeout', finished && connected, `timed out after ${spec.timeoutMs} ms`)), spec.timeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.on('finish', () => {
        finished = true;
      });
      req.on('error', (err: NodeJS.ErrnoException) => fail(new HttpTransportError('network', finished && connected, err.message, err.code)));
      req.end(spec.body);
    });
  }
}
