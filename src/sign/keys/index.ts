export {
  COSIGN_PRIVATE_KEY_PEM,
  DEFAULT_SCRYPT_N,
  decryptCosignKey,
  type EncryptedCosignKey,
  type EncryptedKeyPemType,
  type EncryptOptions,
  encryptCosignKey,
  openEncryptedCosignKey,
  type Password,
  parseEncryptedCosignKey,
  SCRYPT_N_VALUES,
  type ScryptN,
  SIGSTORE_PRIVATE_KEY_PEM,
} from './encrypted-key.ts';
export {
  assertKeyPairAbsent,
  type KeyPairFiles,
  keyPairFiles,
  type WriteKeyPairOptions,
  writeKeyFile,
  writeKeyPair,
} from './key-files.ts';
export {
  generateKeyPair,
  importKeyPair,
  loadPrivateKey,
  loadPublicKey,
  type PasswordProvider,
  publicKeyPem,
  readKeyFile,
} from './key-pair.ts';
export { assertSigningKey, type SigningKeyKind, signingKeyKind } from './key-types.ts';
export { decodePem, encodePem, type PemBlock } from './pem.ts';
