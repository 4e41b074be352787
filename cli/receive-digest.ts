import type { Hash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { parseDictionary } from 'structured-headers';
import { CONTENT_DIGEST, REPR_DIGEST, createDigest, isDigestAlgorithm, type DigestAlgorithm } from '../lib/index.js';

/**
 * RFC 9530 integrity fields on a stream or batch upload, as `bhw receive`
 * checks them: `Content-Digest` (the content as sent) and `Repr-Digest` (the
 * representation), each a structured-field dictionary such as
 * `sha-256=:<base64>:`, in the header section or the trailer section. A
 * request carries no `Content-Range` here, so both are digests of the body
 * bytes exactly as received, before any gzip is decoded.
 */

/** The fields checked, by their names on the wire. */
const FIELDS = [CONTENT_DIGEST, REPR_DIGEST] as const;
type DigestField = (typeof FIELDS)[number];

/** RFC 9530's active algorithms, the ones the library computes. */
const ALGORITHMS: readonly DigestAlgorithm[] = ['sha-256', 'sha-512'];

/** Where a field arrived. */
type Section = 'header' | 'trailer';

/** A digest field that does not hold: the answer is 400 and nothing of the body is kept. */
export interface DigestProblem {
  field: 'Content-Digest' | 'Repr-Digest';
  /** The algorithm whose digest differs; absent when the field is not a valid dictionary. */
  algorithm?: string;
  section: Section;
}

/** What the fields said once the body ended. */
export interface DigestVerdict {
  /** `Content-Digest sha-256`, `Repr-Digest sha-512 (trailer)`, …: each digest that matched. */
  verified: string[];
  /** A digest in a trailer the request did not announce with `Trailer:`, so its algorithm was not hashed. */
  unverified: string[];
  problem?: DigestProblem;
}

/**
 * Hashes the body as it passes, with the algorithms the request may need:
 * those its header fields name, and both when `Trailer:` announces a digest
 * field (its algorithm is known only at the end). None: the bytes pass untouched.
 */
export class BodyDigests extends Transform {
  readonly #hashes = new Map<string, Hash>();
  bytes = 0;

  constructor(request: IncomingMessage) {
    super();
    for (const algorithm of algorithmsToHash(request)) this.#hashes.set(algorithm, createDigest(algorithm));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const hash of this.#hashes.values()) hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** Checks every digest field of the ended request against what passed. Call once. */
  verdict(request: IncomingMessage): DigestVerdict {
    const digests = new Map([...this.#hashes].map(([algorithm, hash]) => [algorithm, hash.digest()]));
    const verdict: DigestVerdict = { verified: [], unverified: [] };
    for (const [section, fields] of [
      ['header', request.headers],
      ['trailer', request.trailers],
    ] as const) {
      for (const field of FIELDS) {
        const problem = checkField(fields, field, section, digests, verdict);
        if (problem) return { ...verdict, problem };
      }
    }
    return verdict;
  }
}

/** The problem, as RFC 9457 problem details: names the field and the algorithm, so a client knows to resend. */
export function answerDigestProblem(response: ServerResponse, { field, algorithm, section }: DigestProblem, bytes: number): Promise<void> {
  const where = section === 'trailer' ? ' (in a trailer)' : '';
  const detail = algorithm
    ? `${field} ${algorithm}${where} does not match the ${bytes} bytes received; none of them was stored`
    : `${field}${where} is not a valid RFC 9530 digest field; nothing was stored`;
  const problem = {
    type: 'https://www.rfc-editor.org/rfc/rfc9530',
    title: algorithm ? 'Digest mismatch' : 'Invalid digest field',
    status: 400,
    detail,
    field,
    ...(algorithm ? { algorithm } : {}),
    section,
  };
  response.writeHead(400, { 'content-type': 'application/problem+json' });
  return new Promise((resolve) => response.end(`${JSON.stringify(problem)}\n`, resolve));
}

function algorithmsToHash(request: IncomingMessage): Set<DigestAlgorithm> {
  const announced = (request.headers.trailer ?? '').toLowerCase().split(',');
  if (FIELDS.some((field) => announced.map((name) => name.trim()).includes(field))) return new Set(ALGORITHMS);
  const algorithms = new Set<DigestAlgorithm>();
  for (const field of FIELDS) {
    for (const algorithm of knownAlgorithms(request.headers[field])) algorithms.add(algorithm);
  }
  return algorithms;
}

/** The RFC 9530 algorithms a field names; none when it is absent or malformed (the verdict reports that). */
function knownAlgorithms(value: string | string[] | undefined): DigestAlgorithm[] {
  if (typeof value !== 'string') return [];
  try {
    return [...parseDictionary(value).keys()].filter(isDigestAlgorithm);
  } catch {
    return [];
  }
}

function checkField(
  fields: IncomingHttpHeaders | NodeJS.Dict<string>,
  field: DigestField,
  section: Section,
  digests: Map<string, Buffer>,
  verdict: DigestVerdict,
): DigestProblem | undefined {
  const value = fields[field];
  if (typeof value !== 'string') return undefined;
  const name = fieldName(field);
  let members;
  try {
    members = parseDictionary(value);
  } catch {
    return { field: name, section };
  }
  const where = section === 'trailer' ? ' (trailer)' : '';
  for (const [algorithm, member] of members) {
    // Algorithms other than RFC 9530's active ones are ignored, as the RFC lets a recipient do.
    if (!isDigestAlgorithm(algorithm)) continue;
    const [value] = member;
    if (!(value instanceof ArrayBuffer)) return { field: name, section };
    const digest = digests.get(algorithm);
    if (!digest) {
      verdict.unverified.push(`${name} ${algorithm}${where}`);
      continue;
    }
    if (!digest.equals(Buffer.from(value))) return { field: name, algorithm, section };
    verdict.verified.push(`${name} ${algorithm}${where}`);
  }
  return undefined;
}

function fieldName(field: DigestField): DigestProblem['field'] {
  return field === 'content-digest' ? 'Content-Digest' : 'Repr-Digest';
}
