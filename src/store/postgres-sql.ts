/**
 * How a principal, a metadata filter and a user's full-text query become SQL for the PostgreSQL
 * store: always as bound parameters, never spliced into the statement text.
 */
import type { Acl } from '../ingest/document.ts';
import type { MetadataFilter } from './knowledge-store.ts';
import type { Principal } from './principal.ts';

/** Collects positional parameters while a query is built. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** `u:ann`, `g:hr`: the names an ACL lists, or a principal answers to, in one array. */
export function readerNames(acl: Pick<Acl, 'users' | 'groups'>): string[] {
  return [...acl.users.map((user) => `u:${user}`), ...acl.groups.map((group) => `g:${group}`)];
}

export function aclSql(principal: Principal, params: Params, alias = ''): string {
  if (principal.admin === true) return 'TRUE';
  const names = readerNames({ users: [principal.user], groups: principal.groups });
  return `(${alias}acl_public OR ${alias}readers && ${params.add(names)}::text[])`;
}

// jsonb containment compares type and value, so 2024 does not match "2024".
export function filterSql(filter: MetadataFilter | undefined, params: Params, alias = ''): string {
  if (filter === undefined) return 'TRUE';
  const clauses = Object.entries(filter).map(([key, wanted]) => {
    const values = Array.isArray(wanted) ? wanted : [wanted];
    if (values.length === 0) return 'FALSE';
    const docs = values.map((value) => JSON.stringify({ [key]: value }));
    return `${alias}metadata @> ANY(${params.add(docs)}::jsonb[])`;
  });
  return clauses.length === 0 ? 'TRUE' : clauses.join(' AND ');
}

/**
 * Full-text terms of a user's query, each given to websearch_to_tsquery (which accepts any input)
 * and OR-ed in SQL: a chunk matching some of the words still ranks, as under BM25. Quoted phrases
 * stay phrases; `-word` excludes.
 */
export function queryTerms(query: string): { any: string[]; not: string[] } {
  const any: string[] = [];
  const not: string[] = [];
  for (const match of query.matchAll(/(-?)"([^"]*)"|(\S+)/g)) {
    const phrase = match[2];
    const word = match[3];
    if (phrase !== undefined) {
      if (phrase.trim() !== '') (match[1] === '-' ? not : any).push(`"${phrase}"`);
    } else if (word !== undefined) {
      if (word.toLowerCase() === 'or') continue;
      if (word.startsWith('-') && word.length > 1) not.push(word.slice(1));
      else any.push(word);
    }
  }
  return { any, not };
}

export function textQuerySql(
  terms: { any: string[]; not: string[] },
  params: Params,
  skip: string[] = [],
): string {
  const without =
    skip.length === 0
      ? ''
      : ` WHERE NOT (websearch_to_tsquery('english', t)::text = ANY(${params.add(skip)}::text[]))`;
  const any = `(SELECT tsquery_any(websearch_to_tsquery('english', t)) FROM unnest(${params.add(terms.any)}::text[]) t${without})`;
  if (terms.not.length === 0) return any;
  const not = `(SELECT tsquery_any(websearch_to_tsquery('english', t)) FROM unnest(${params.add(terms.not)}::text[]) t)`;
  return `CASE WHEN ${not} IS NULL OR numnode(${not}) = 0 THEN ${any} ELSE ${any} && !! ${not} END`;
}
