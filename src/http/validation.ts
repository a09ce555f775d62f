/**
 * Request validation with TypeBox's compiler, compiled on a route's first request rather than
 * at start: compiling every schema up front was most of the start time (Ajv codegen), and most
 * routes are never called in a given process.
 * @module
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { KumoError } from '../errors.js';

const compiled = new WeakMap<object, TypeCheck<TSchema>>();

function compile(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) compiled.set(schema, (check = TypeCompiler.Compile(schema)));
  return check;
}

function validationError(check: TypeCheck<TSchema>, data: unknown): KumoError {
  const first = check.Errors(data).First();
  const field = first?.path.replace(/^\//, '') || 'body';
  return new KumoError('ERR_VALIDATION', `Invalid input for field '${field}': ${first?.message ?? 'is invalid'}.`);
}

export function lazyValidatorCompiler({ schema }: { schema: unknown }) {
  let check: TypeCheck<TSchema> | undefined;
  return (data: unknown) => {
    check ??= compile(schema as TSchema);
    return check.Check(data) ? { value: data } : { error: validationError(check, data) };
  };
}

/** Checks `data` against `schema` inside a handler (bodies whose shape decides which schema applies); throws the same 400 as route validation. */
export function assertValid(schema: TSchema, data: unknown): void {
  const check = compile(schema);
  if (!check.Check(data)) throw validationError(check, data);
}
