import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { randomIv } from './randomIv.ts';
import type { FieldTransforms } from '../domain/fieldRules.ts';

/**
 * HMAC-SHA256 pseudonyms and AES-256-GCM field encryption, with two keys derived (HKDF) from one 32-byte secret.
 * Ciphertext format: `enc:v1:` + base64(iv ‖ tag ‖ ciphertext).
 */
export function createFieldTransforms(secretHex: string): FieldTransforms {
  const secret = Buffer.from(secretHex, 'hex');
  const macKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'consentgate pseudonym v1', 32));
  const encKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'consentgate field encryption v1', 32));
  return {
    pseudonymize: (value) => 'psn:' + createHmac('sha256', macKey).update(value).digest('base64url').slice(0, 22),
    encrypt: (value) => {
      const iv = randomIv();
      const c = createCipheriv('aes-256-gcm', encKey, iv);
      const body = Buffer.concat([c.update(value, 'utf8'), c.final()]);
      return 'enc:v1:' + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
    },
    shred: unboundShred,
  };
}

/** Transforms for a policy that needs no keys: any keyed rule is a configuration error caught at start. */
export const NO_KEY_TRANSFORMS: FieldTransforms = {
  pseudonymize: () => { throw new Error('a pseudonymize rule needs CONSENTGATE_FIELD_KEY'); },
  encrypt: () => { throw new Error('an encrypt rule needs CONSENTGATE_FIELD_KEY'); },
  shred: unboundShred,
};

/** The enforcement binds `shred` to the record's customer key; reaching this is a wiring error. */
function unboundShred(): never {
  throw new Error('shred called without a data key bound for the record');
}
