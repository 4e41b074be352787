import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Packages that one mode needs and no other: optional peer dependencies, so
 * the library's install stays small for everyone else (the S3 signer alone
 * weighs 8 MB with what it brings). Each is checked when that mode's options
 * are read, so a missing one is refused at construction with the line that
 * installs it, and loaded on its first use rather than with the library (a
 * module merely loaded at import time has slowed every mode's hot path).
 */
const OPTIONAL_PACKAGES = {
  '@smithy/signature-v4': "mode 's3' signs its requests with",
  '@aws-sdk/crc64-nvme': "azureBlob.checksum 'crc64' computes each block's CRC-64 with",
} as const;

export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** Refuses, naming the install command, when `name` is not installed where the library can load it. */
export function checkInstalled(name: OptionalPackage): void {
  try {
    require.resolve(name);
  } catch {
    throw new TypeError(`${OPTIONAL_PACKAGES[name]} ${name}, an optional peer dependency that is not installed: npm install ${name}`);
  }
}

/** The package's exports (Node caches the load); refused as `checkInstalled` refuses when it is missing. */
export function loadOptional<T>(name: OptionalPackage): T {
  checkInstalled(name);
  return require(name) as T;
}
