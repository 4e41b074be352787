/**
 * Azurite, Microsoft's Azure Storage emulator, for the azure-blob tests and
 * bench: the blob service alone, in memory, on a free loopback port, without
 * telemetry. Azurite 3.37 needs Node ≥ 22: on an older Node a Node 22 from
 * the npm registry's `node` package is installed once into a cache directory.
 * Blobs are read back and SAS URLs made with `@azure/storage-blob` and the
 * emulator's published account key.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BlobSASPermissions, BlobServiceClient, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/dist\/$/, '/');
const AZURITE_BLOB = join(ROOT, 'node_modules/azurite/dist/src/blob/main.js');
const NODE_CACHE = join(ROOT, 'node_modules/.cache/bhw-node22');
const CACHED_NODE = join(NODE_CACHE, 'node_modules/node/bin/node');

/** Azurite's development account and its published key (not a secret: it is in Microsoft's documentation). */
export const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A Node that runs Azurite: this one when it is 22 or later, else one installed from the npm registry once. */
export async function nodeForAzurite(): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (existsSync(CACHED_NODE)) return CACHED_NODE;
  // Installed beside, then renamed into place: test files starting at once do not share a half-installed directory.
  await mkdir(dirname(NODE_CACHE), { recursive: true });
  const staging = await mkdtemp(`${NODE_CACHE}.`);
  try {
    await promisify(execFile)('npm', ['install', '--prefix', staging, '--no-save', '--no-audit', '--no-fund', 'node@22'], { timeout: 300_000 });
    await rename(staging, NODE_CACHE).catch(() => {});
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  if (!existsSync(CACHED_NODE)) throw new Error(`npm install node@22 left no ${CACHED_NODE}`);
  return CACHED_NODE;
}

export interface Azurite {
  /** `http://127.0.0.1:PORT/devstoreaccount1`. */
  accountUrl: string;
  service: BlobServiceClient;
  /** A new container (named after `prefix`) and a SAS URL (read, create, write) for `blob` in it. */
  blobUrl(blob: string, prefix?: string): Promise<string>;
  /** The committed blob's bytes. */
  read(blobUrl: string): Promise<Buffer>;
  close(): Promise<void>;
}

let containers = 0;

/** Starts Azurite; `prefix` runs it through another command (the bench pins it to a CPU with `taskset -c 1`). */
export async function startAzurite({ prefix = [] }: { prefix?: string[] } = {}): Promise<Azurite> {
  const node = await nodeForAzurite();
  const args = [
    AZURITE_BLOB,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--inMemoryPersistence',
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
    '--silent',
  ];
  const [command, ...rest] = [...prefix, node, ...args];
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  const base = await listeningUrl(child);
  const accountUrl = `${base}/${ACCOUNT}`;
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const service = new BlobServiceClient(accountUrl, credential);
  return {
    accountUrl,
    service,
    async blobUrl(blob, prefix = 'c') {
      const containerName = `${prefix}${++containers}-${process.pid}`;
      await service.getContainerClient(containerName).create();
      const sas = generateBlobSASQueryParameters(
        { containerName, blobName: blob, permissions: BlobSASPermissions.parse('racw'), expiresOn: new Date(Date.now() + 3_600_000) },
        credential,
      );
      return `${accountUrl}/${containerName}/${blob}?${sas.toString()}`;
    },
    async read(blobUrl) {
      const url = new URL(blobUrl);
      const [, , containerName, ...blob] = url.pathname.split('/');
      return service
        .getContainerClient(containerName!)
        .getBlobClient(decodeURIComponent(blob.join('/')))
        .downloadToBuffer();
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    },
  };
}

/** The URL Azurite prints once it listens; its output up to then is the error if it exits first. */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const url = /listens on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1];
      if (url) {
        child.stdout!.off('data', read);
        child.stdout!.resume();
        resolve(url);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => reject(new Error(`Azurite exited (${code}) before listening: ${output}`)));
  });
}
