import type { AzureBlobChecksum, AzureBlobSettings } from '../../types.js';
import type { ModeOptionRules } from '../../options/common.js';
import { describe, headerRecord, oneOf, plainObject, refuseUnknownFields } from '../../options/validators.js';
import { checkInstalled } from '../../optional-package.js';
import { PARTS_OPTIONS, resolvePartsOptions, type PartsOptions } from '../parts/options.js';

/** The largest block Put Block takes (service version 2019-12-12 and later): 4000 MiB. */
export const MAX_BLOCK_SIZE = 4000 * 1024 * 1024;

/** A block blob holds at most this many blocks. */
export const MAX_BLOCKS = 50_000;

/** `mode: 'azure-blob'` after defaults and validation. */
export interface AzureBlobOptions extends PartsOptions {
  mode: 'azure-blob';
  azureBlob: {
    contentType?: string;
    metadata: Record<string, string>;
    checksum: AzureBlobChecksum | false;
  };
}

const SETTINGS_FIELDS = ['contentType', 'metadata', 'checksum'];

/** azure-blob: a block blob, one Put Block per buffer, Put Block List in `end()`, authorised by the SAS in its URL. */
export const azureBlobRules: ModeOptionRules<AzureBlobOptions> = {
  options: [...PARTS_OPTIONS, 'azureBlob'],
  resolve(options, common) {
    checkBlobUrl(common.url);
    const parts = resolvePartsOptions(options, common);
    if (parts.highWaterMark > MAX_BLOCK_SIZE) {
      throw new RangeError(`highWaterMark is one block in mode 'azure-blob': at most ${MAX_BLOCK_SIZE} bytes (4000 MiB), received ${parts.highWaterMark}`);
    }
    return { ...parts, mode: 'azure-blob', azureBlob: resolveSettings(options.azureBlob) };
  },
};

/**
 * A blob URL with a SAS: the only authorisation this mode speaks (a Shared
 * Key signature would need the account key here, and no maintained signer
 * for it exists apart from the whole Azure SDK). The URL is not repeated: it
 * may hold a secret.
 */
function checkBlobUrl(url: URL): void {
  if (!url.searchParams.has('sig')) {
    throw new TypeError(
      "mode 'azure-blob' needs a blob URL carrying a SAS token (https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB?sv=…&sig=…): the URL has no 'sig' parameter",
    );
  }
  if (url.pathname.split('/').filter(Boolean).length < 2) {
    throw new TypeError(
      `mode 'azure-blob' needs a blob URL naming a container and a blob (/CONTAINER/BLOB), received the path ${JSON.stringify(url.pathname)}`,
    );
  }
}

function resolveSettings(value: AzureBlobSettings | undefined): AzureBlobOptions['azureBlob'] {
  const settings = plainObject('azureBlob', value) ?? {};
  refuseUnknownFields('azureBlob', settings, SETTINGS_FIELDS);
  const checksum = settings.checksum ?? 'md5';
  if (checksum !== false) oneOf('azureBlob.checksum', checksum, ['md5', 'crc64'] as const);
  if (checksum === 'crc64') checkInstalled('@aws-sdk/crc64-nvme');
  const resolved: AzureBlobOptions['azureBlob'] = { metadata: resolveMetadata(settings.metadata), checksum };
  if (settings.contentType !== undefined) {
    if (typeof settings.contentType !== 'string' || !/^[\x20-\x7e]+$/.test(settings.contentType)) {
      throw new TypeError(`azureBlob.contentType must be a non-empty ASCII string, received ${describe(settings.contentType)}`);
    }
    resolved.contentType = settings.contentType;
  }
  return resolved;
}

/** Azure's metadata: each name a C# identifier (it becomes `x-ms-meta-<name>`), each value ASCII (a header value). */
function resolveMetadata(value: Record<string, string> | undefined): Record<string, string> {
  const metadata = headerRecord(value, 'azureBlob.metadata');
  for (const [name, entry] of Object.entries(metadata)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new TypeError(`azureBlob.metadata names must be C# identifiers (letters, digits, _), received ${JSON.stringify(name)}`);
    }
    if (!/^[\x20-\x7e]*$/.test(entry)) {
      throw new TypeError(`azureBlob.metadata.${name} must be printable ASCII (Azure sends metadata as headers), received ${describe(entry)}`);
    }
  }
  return metadata;
}
