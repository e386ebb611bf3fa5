/** The person (or service) a read is made for. Every read path in Attune takes one. */
export type Principal = {
  user: string;
  groups: string[];
  /** Admins see every document and every audit record. */
  admin?: boolean;
};

export const anonymous: Principal = { user: 'anonymous', groups: [] };
