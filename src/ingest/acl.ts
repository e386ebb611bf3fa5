import picomatch from 'picomatch';
import type { Acl } from './document.ts';
import { IngestError } from './ingest-error.ts';

/** Config rule: documents whose id matches `glob` get this ACL. The first matching rule wins. */
export type AclRule = {
  glob: string;
  public?: boolean;
  groups?: string[];
  users?: string[];
};

export type Visibility = 'public' | 'private';

export type AclSources = {
  /** From a CLI flag or API call: overrides everything else. */
  explicit?: Acl;
  /** Parsed `<file>.acl.json` next to the document. */
  sidecar?: Acl;
  rules?: AclRule[];
  defaultVisibility: Visibility;
};

/**
 * The ACL of the document with this id (path relative to the ingest root, forward slashes, or a
 * URL), most specific source first: explicit flag > sidecar file > first matching config rule >
 * default visibility.
 */
export function resolveAcl(documentId: string, sources: AclSources): Acl {
  if (sources.explicit) return normalizeAcl(sources.explicit);
  if (sources.sidecar) return normalizeAcl(sources.sidecar);
  for (const rule of sources.rules ?? []) {
    if (picomatch(rule.glob, { dot: true })(documentId)) {
      // A rule that names readers but says nothing about public means "only these readers".
      return normalizeAcl({
        public: rule.public ?? false,
        groups: rule.groups ?? [],
        users: rule.users ?? [],
      });
    }
  }
  return { public: sources.defaultVisibility === 'public', groups: [], users: [] };
}

/** Sorted and deduplicated, so equal ACLs hash the same. */
export function normalizeAcl(acl: Acl): Acl {
  return {
    public: acl.public,
    groups: [...new Set(acl.groups)].sort(),
    users: [...new Set(acl.users)].sort(),
  };
}

export const ACL_SIDECAR_SUFFIX = '.acl.json';

/**
 * Parse a sidecar ACL file. Anything malformed is an error, not a fallback: silently treating a
 * broken "hr only" file as public would leak the document.
 */
export function parseAclSidecar(text: string, sidecarName: string): Acl {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new IngestError(
      `ACL file ${sidecarName} is not valid JSON (${(error as Error).message}); fix or remove it`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IngestError(
      `ACL file ${sidecarName} must hold an object like {"public":false,"groups":["hr"]}`,
    );
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'public' && key !== 'groups' && key !== 'users') {
      throw new IngestError(
        `ACL file ${sidecarName} has unknown field "${key}"; allowed: public, groups, users`,
      );
    }
  }
  if (record.public !== undefined && typeof record.public !== 'boolean') {
    throw new IngestError(`ACL file ${sidecarName}: "public" must be true or false`);
  }
  const list = (key: 'groups' | 'users'): string[] => {
    const entry = record[key];
    if (entry === undefined) return [];
    if (!Array.isArray(entry) || !entry.every((v) => typeof v === 'string' && v.trim().length > 0)) {
      throw new IngestError(`ACL file ${sidecarName}: "${key}" must be a list of non-empty strings`);
    }
    // The same rule as a principal's names: a name no principal can have would only forge lines
    // where readers are printed.
    const bad = entry.find((v: string) => /[\p{Cc}\u2028\u2029]/u.test(v));
    if (bad !== undefined)
      throw new IngestError(
        `ACL file ${sidecarName}: "${key}" holds ${JSON.stringify(bad)}, which has control characters; names are printable text`,
      );
    return entry as string[];
  };
  // A sidecar exists to restrict: without an explicit "public": true the document is private.
  return normalizeAcl({ public: record.public === true, groups: list('groups'), users: list('users') });
}
