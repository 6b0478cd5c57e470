import { randomBytes } from 'node:crypto';
import type { Clock } from './types.ts';

export interface Grant {
  clientId: string;
  tokenId: string;
  expiresAt: number;
}

/** Bearer tokens of the client-credentials grant. A token is valid until it expires or is revoked. */
export class TokenIssuer {
  private readonly tokens = new Map<string, Grant>();
  constructor(private readonly deps: { clock: Clock; ttlSec: number }) {}

  /** The token response of `POST /oauth/token` (the SDK reads access_token and expires_in). */
  issue(clientId: string): { access_token: string; token_type: 'bearer'; expires_in: number } {
    const token = randomBytes(48).toString('base64url');
    this.tokens.set(token, { clientId, tokenId: token.slice(0, 12), expiresAt: this.deps.clock() + this.deps.ttlSec * 1000 });
    return { access_token: token, token_type: 'bearer', expires_in: this.deps.ttlSec };
  }

  verify(token: string): Grant | undefined {
    const g = this.tokens.get(token);
    if (g && g.expiresAt <= this.deps.clock()) this.tokens.delete(token);
    return g && g.expiresAt > this.deps.clock() ? g : undefined;
  }

  /** Invalidates every issued token (the next use answers 401). */
  revokeAll(): void {
    this.tokens.clear();
  }

  revokeClient(clientId: string): void {
    for (const [t, g] of this.tokens) if (g.clientId === clientId) this.tokens.delete(t);
  }
}
