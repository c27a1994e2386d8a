// Encryption of HubSpot tokens at rest: AES-256-GCM, a fresh 96-bit IV per value, the key id stored
// beside each row, and the row and column bound in as associated data (a ciphertext copied to another
// connection or column does not decrypt). Several keys can be configured: the active (newest) one
// encrypts, all of them decrypt, so keys rotate without downtime.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class AccountStoreKeyError extends Error {
  override name = 'AccountStoreKeyError';
}

export interface TokenKeys {
  /** key id -> 32-byte key */
  keys: Record<string, Buffer>;
  /** the key new values are encrypted with */
  activeKeyId: string;
}

export class TokenCipher {
  constructor(private readonly keySet: TokenKeys) {
    if (!keySet.keys[keySet.activeKeyId])
      throw new AccountStoreKeyError(`the active key "${keySet.activeKeyId}" is not among the account store keys`);
  }

  get activeKeyId(): string {
    return this.keySet.activeKeyId;
  }

  hasKey(keyId: string): boolean {
    return Boolean(this.keySet.keys[keyId]);
  }

  /** base64(iv | ciphertext | tag), encrypted with the active key. */
  encrypt(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keySet.keys[this.keySet.activeKeyId]!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
  }

  decrypt(sealed: string, keyId: string, context: string): string {
    const key = this.keySet.keys[keyId];
    if (!key)
      throw new AccountStoreKeyError(
        `a stored token was encrypted with key "${keyId}", which is not configured (ACCOUNT_STORE_KEYS)`,
      );
    const data = Buffer.from(sealed, 'base64');
    if (data.length < IV_BYTES + TAG_BYTES) throw new AccountStoreKeyError('a stored token is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new AccountStoreKeyError(
        `a stored token does not decrypt with key "${keyId}" (wrong key, or the value was moved or altered)`,
      );
    }
  }
}

/** Parses {"key-id": "<base64 32-byte key>", …}; the active key is `activeKeyId`, else the last one listed (the newest). */
export function parseTokenKeys(json: string, where: string, activeKeyId?: string): TokenKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new AccountStoreKeyError(`${where} is not valid JSON (expected {"key-id": "<base64 32-byte key>", …})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    throw new AccountStoreKeyError(`${where} must be a JSON object of key id to base64 32-byte key`);
  }
  const keys: Record<string, Buffer> = {};
  for (const [id, value] of Object.entries(raw)) {
    const key = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    // The message names the key id only, never the value.
    if (key.length !== 32)
      throw new AccountStoreKeyError(`${where}: key "${id}" must be a base64 32-byte (AES-256) key`);
    keys[id] = key;
  }
  const active = activeKeyId ?? Object.keys(keys).at(-1)!;
  if (!keys[active]) throw new AccountStoreKeyError(`ACCOUNT_STORE_ACTIVE_KEY_ID "${active}" is not a key of ${where}`);
  return { keys, activeKeyId: active };
}

export function generateKeyFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const id = `dev-${new Date().toISOString().slice(0, 10)}`;
  writeFileSync(path, `${JSON.stringify({ [id]: randomBytes(32).toString('base64') }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * The account store's keys: ACCOUNT_STORE_KEYS (JSON) or ACCOUNT_STORE_KEYS_FILE (a file holding it),
 * ACCOUNT_STORE_ACTIVE_KEY_ID optional. With neither set and a `developmentKeyFile`, that file is used,
 * and created with a random key on first use; without one (production) it is an error.
 */
export function tokenKeysFromEnv(
  env: NodeJS.ProcessEnv,
  developmentKeyFile?: string,
): { keys: TokenKeys; source: string } {
  const active = env.ACCOUNT_STORE_ACTIVE_KEY_ID || undefined;
  if (env.ACCOUNT_STORE_KEYS && env.ACCOUNT_STORE_KEYS_FILE)
    throw new AccountStoreKeyError('Set ACCOUNT_STORE_KEYS or ACCOUNT_STORE_KEYS_FILE, not both');
  if (env.ACCOUNT_STORE_KEYS)
    return { keys: parseTokenKeys(env.ACCOUNT_STORE_KEYS, 'ACCOUNT_STORE_KEYS', active), source: 'ACCOUNT_STORE_KEYS' };
  let file = env.ACCOUNT_STORE_KEYS_FILE;
  let source = `ACCOUNT_STORE_KEYS_FILE (${file})`;
  if (!file) {
    if (!developmentKeyFile)
      throw new AccountStoreKeyError(
        'ACCOUNT_STORE_KEYS or ACCOUNT_STORE_KEYS_FILE is required to encrypt HubSpot tokens at rest',
      );
    file = developmentKeyFile;
    source = `development key file ${file}`;
    if (!existsSync(file)) {
      generateKeyFile(file);
      source = `development key file ${file} (generated)`;
    }
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AccountStoreKeyError(
      `${source} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return { keys: parseTokenKeys(text, source, active), source };
}
