import { createHmac, createSecretKey, hkdfSync } from 'node:crypto';
import { Recent } from '../runtime/recent.ts';
import { sealAesGcm } from './aesGcm.ts';
import type { FieldTransforms } from '../domain/fieldRules.ts';

const PSEUDONYMS_REMEMBERED = 10_000;

/**
 * HMAC-SHA256 pseudonyms and AES-256-GCM field encryption, with two keys derived (HKDF) from one 32-byte secret.
 * Ciphertext format: `enc:v1:` + base64(iv ‖ tag ‖ ciphertext).
 */
export function createFieldTransforms(secretHex: string): FieldTransforms {
  const secret = Buffer.from(secretHex, 'hex');
  const macKey = createSecretKey(Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'consentgate pseudonym v1', 32)));
  const encKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'consentgate field encryption v1', 32));
  // A customer's phone number or address recurs in every event of every conversation: pseudonyms are remembered
  // (in this process only) instead of an HMAC (~2 µs) per field of every record.
  const pseudonyms = new Recent<string>(PSEUDONYMS_REMEMBERED);
  return {
    pseudonymize: (value) => {
      let pseudonym = pseudonyms.get(value);
      if (pseudonym === undefined) {
        pseudonym = 'psn:' + createHmac('sha256', macKey).update(value).digest('base64url').slice(0, 22);
        pseudonyms.set(value, pseudonym);
      }
      return pseudonym;
    },
    encrypt: (value) => 'enc:v1:' + sealAesGcm(encKey, value).toString('base64'),
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
