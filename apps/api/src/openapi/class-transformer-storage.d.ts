/** class-transformer keeps @Type metadata in a module it does not type for deep imports. */
declare module 'class-transformer/cjs/storage.js' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage.js';
}
