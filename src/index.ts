/** sigil's library API: everything the CLI does, callable from a program. */
export * from './oci/index.ts';
