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

export function lazyValidatorCompiler({ schema }: { schema: unknown }) {
  let check: TypeCheck<TSchema> | undefined;
  return (data: unknown) => {
    check ??= compile(schema as TSchema);
    if (check.Check(data)) return { value: data };
    const first = check.Errors(data).First();
    const field = first?.path.replace(/^\//, '') || 'body';
    return { error: new KumoError('ERR_VALIDATION', `Invalid input for field '${field}': ${first?.message ?? 'is invalid'}.`) };
  };
}
