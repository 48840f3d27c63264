/** sigil's library API: everything the CLI does, callable from a program. */
export * from './catalog/index.ts';
export * from './filesystem/index.ts';
export * from './oci/index.ts';
export * from './sbom/index.ts';
