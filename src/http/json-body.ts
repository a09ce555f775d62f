/**
 * The JSON body parser every API uses (and Glance again for its JSON-patch media types): an
 * empty body is no body, and malformed JSON is a 400 in the API's own error shape.
 * @module
 */
import { KumoError } from '../errors.js';

export function parseJsonBody(_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void): void {
  const text = String(body);
  if (text.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(text));
  } catch {
    done(new KumoError('ERR_VALIDATION', 'The request body is not valid JSON.'), undefined);
  }
}
