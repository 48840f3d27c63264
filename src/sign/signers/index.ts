export { keylessSigner, type KeylessSignerOptions } from './keyless-signer.ts';
export { keySigner, publicKeyHint } from './key-signer.ts';
export { type NamedWitness, witnesses, type WitnessOptions } from './witnesses.ts';
export { signingConfigFrom, type SigningServices } from './signing-config.ts';
