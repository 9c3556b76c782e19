import { generateKeyPairSync, randomInt } from 'node:crypto';

/** An APNs token-auth key pair as Apple hands it out (.p8 = PKCS#8 PEM), for tests and demos. */
export interface ApnsTestKey {
  /** PKCS#8 PEM private key: what a `.p8` file holds. */
  keyPem: string;
  /** SPKI PEM public key: what the push sink checks JWT signatures with. */
  publicKeyPem: string;
  /** 10 characters, like Apple's Key IDs. */
  keyId: string;
  /** 10 characters, like Apple's Team IDs. */
  teamId: string;
}

export function generateApnsTestKey(): ApnsTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: appleStyleId(),
    teamId: appleStyleId(),
  };
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function appleStyleId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}
