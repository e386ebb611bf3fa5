import { SchemaNotSupportedError } from './model-error.ts';
import type { JsonSchema } from './model-spec.ts';

const supportedKeywords = new Set([
  'type',
  'properties',
  'required',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'additionalProperties',
  'description',
  'title',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'format',
  '$schema',
]);
const supportedTypes = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

/**
 * The grammar compiler silently ignores keywords it cannot express, which would let output break
 * the schema; refuse those schemas up front instead.
 */
export function assertSchemaSupported(schema: JsonSchema, path = '$'): JsonSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new SchemaNotSupportedError(`${path} is not a schema object`);
  }
  for (const key of Object.keys(schema)) {
    if (!supportedKeywords.has(key))
      throw new SchemaNotSupportedError(`${path} uses unsupported keyword "${key}"`);
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) {
    if (!supportedTypes.has(String(t)))
      throw new SchemaNotSupportedError(`${path} has unknown type "${String(t)}"`);
  }
  if (schema.properties !== undefined) {
    for (const [name, sub] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
      assertSchemaSupported(sub, `${path}.${name}`);
    }
  }
  if (schema.items !== undefined) assertSchemaSupported(schema.items as JsonSchema, `${path}[]`);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = schema[key];
    if (list !== undefined) {
      if (!Array.isArray(list)) throw new SchemaNotSupportedError(`${path}.${key} must be an array`);
      for (const [i, sub] of list.entries()) assertSchemaSupported(sub as JsonSchema, `${path}.${key}[${i}]`);
    }
  }
  if (typeof schema.additionalProperties === 'object') {
    assertSchemaSupported(schema.additionalProperties as JsonSchema, `${path}.additionalProperties`);
  }
  return schema;
}
